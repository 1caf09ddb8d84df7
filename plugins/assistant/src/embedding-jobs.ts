import {
  type EventSubscription,
  indexJobsFor,
  type JobContext,
  type JobDefinition,
  type SearchIndexJobData,
  WORKSPACE_FILTER,
} from '@atrium/core';
import type { AssistantConfig } from './config.ts';
import { refreshEmbeddings, syncEmbeddings } from './embeddings.ts';
import { currentPolicy } from './policy.ts';

export const EMBED_QUEUE = 'assistant.embed';
export const EMBED_REFRESH_QUEUE = 'assistant.embed-refresh';

/** The configured embedding model, or null: then nothing is embedded and nothing calls `embed`. */
function embedderOf(ctx: Pick<JobContext<AssistantConfig>, 'llm'>) {
  const model = ctx.llm?.embedModel;
  return ctx.llm && model ? { llm: ctx.llm, model } : null;
}

/**
 * Published or unpublished content: queue the embedding of the ids search indexes on the same
 * events (the core's search module follows these two), in the event's transaction.
 */
export const embedChangedDocuments: EventSubscription<AssistantConfig> = {
  on: ['content.published', 'content.unpublished'],
  name: 'embed',
  handle: async (event, ctx) => {
    if (!embedderOf(ctx)) return;
    for (const job of indexJobsFor(event, ctx.searchSources)) {
      await ctx.jobs.send(EMBED_QUEUE, job, { em: ctx.em });
    }
  },
};

const embedJob: JobDefinition<AssistantConfig, SearchIndexJobData> = {
  retryLimit: 5,
  retryDelaySeconds: 10,
  retryBackoff: true,
  retryDelayMaxSeconds: 600,
  async handle(data, ctx) {
    const embedder = embedderOf(ctx);
    const source = ctx.searchSources.find((s) => s.collection === data.collection);
    if (!embedder || !source) return;
    // Only what retrieval may use; the refresh removes rows of collections the policy dropped.
    const policy = await currentPolicy(ctx.em, data.workspaceId);
    if (!policy.allowedCollections.includes(data.collection)) return;
    const done = await syncEmbeddings(ctx.em, embedder, source, data.workspaceId, data.ids, ctx.signal);
    ctx.logger.debug({ collection: data.collection, ...done }, 'assistant embeddings synced');
  },
  async onDeadLetter(data, ctx) {
    ctx.logger.error(
      { collection: data.collection, ids: data.ids.length },
      'assistant embedding gave up: the hourly refresh embeds these documents once the model answers',
    );
  },
};

/**
 * Hourly, and once at start: every workspace's embeddings made to match its sources and policy.
 * It fills them in when a model is first configured or changed and catches up after failures;
 * unchanged documents are compared by hash, so a quiet hour costs no model call.
 */
const refreshJob: JobDefinition<AssistantConfig, Record<string, never>> = {
  everySeconds: 3600,
  expireInSeconds: 3600,
  retryLimit: 2,
  async handle(_data, ctx) {
    const embedder = embedderOf(ctx);
    if (!embedder) return;
    const workspaces = await ctx.em.execute<{ id: string }[]>(
      'select id::text as id from workspace order by id',
    );
    for (const { id } of workspaces) {
      const em = ctx.em.fork();
      em.setFilterParams(WORKSPACE_FILTER, { id });
      const policy = await currentPolicy(em, id);
      const done = await refreshEmbeddings(
        em,
        embedder,
        ctx.searchSources,
        id,
        policy.allowedCollections,
        ctx.signal,
      );
      if (done.embedded || done.removed)
        ctx.logger.info({ workspaceId: id, ...done }, 'assistant embeddings refreshed');
    }
  },
};

export const embeddingJobs = {
  [EMBED_QUEUE]: embedJob as JobDefinition<AssistantConfig>,
  [EMBED_REFRESH_QUEUE]: refreshJob as JobDefinition<AssistantConfig>,
};
