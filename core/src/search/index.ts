import type { MikroORM } from '@mikro-orm/postgresql';
import type { Settings } from '../kernel/config.ts';
import type { Logger } from '../kernel/logger.ts';
import { defineModule, type JobDefinition } from '../kernel/plugin.ts';
import type { SearchEngine } from './engine.ts';
import {
  indexJobsFor,
  queueSearchIndex,
  SEARCH_INDEX_JOB,
  SearchIndexer,
  type SearchIndexJobData,
  type SearchSource,
} from './indexing.ts';
import { MeilisearchEngine } from './meilisearch.ts';
import { PostgresSearchEngine } from './postgres.ts';

export * from './engine.ts';
export * from './indexing.ts';
export { MeilisearchEngine } from './meilisearch.ts';
export { PostgresSearchEngine, textSearchConfig } from './postgres.ts';

/** The engine SEARCH_ENGINE names: PostgreSQL (the default, also embedded) or Meilisearch. */
export function createSearchEngine(settings: Settings, orm: MikroORM, logger: Logger): SearchEngine {
  if (settings.SEARCH_ENGINE === 'meilisearch') {
    return new MeilisearchEngine({
      url: settings.MEILI_URL as string,
      apiKey: settings.MEILI_API_KEY,
      logger,
    });
  }
  return new PostgresSearchEngine({ orm, logger });
}

/** The filter attribute naming the person a document concerns: erasure removes by it. */
export const PROFILE_FILTER = 'profileId';

// One indexer per runtime (and so per process): it remembers which collections have their settings.
const indexers = new WeakMap<SearchEngine, SearchIndexer>();
function indexerOf(runtime: { search: SearchEngine; searchSources: readonly SearchSource[] }): SearchIndexer {
  let indexer = indexers.get(runtime.search);
  if (!indexer) {
    indexer = new SearchIndexer(runtime.search, runtime.searchSources);
    indexers.set(runtime.search, indexer);
  }
  return indexer;
}

const indexJob: JobDefinition<undefined, SearchIndexJobData> = {
  retryLimit: 8,
  retryDelaySeconds: 5,
  retryBackoff: true,
  retryDelayMaxSeconds: 600,
  async handle(data, ctx) {
    const { indexed, removed } = await indexerOf(ctx).sync(ctx.em, data);
    ctx.logger.debug({ collection: data.collection, indexed, removed }, 'search documents synced');
  },
  async onDeadLetter(data, ctx) {
    ctx.logger.error(
      { collection: data.collection, ids: data.ids.length },
      'search indexing gave up: run "atrium reindex" once the engine is back',
    );
  },
};

/**
 * Keeps the search engine in step with the modules' search sources: domain events queue
 * `search.index` jobs, which (re)index or remove documents; erasure removes a person's documents.
 */
export const searchModule = defineModule({
  name: 'search',
  events: [
    {
      on: ['content.published', 'content.unpublished'],
      name: 'index',
      async handle(event, ctx) {
        for (const job of indexJobsFor(event, ctx.searchSources)) {
          await queueSearchIndex(ctx.jobs, job, ctx.em);
        }
      },
    },
  ],
  jobs: { [SEARCH_INDEX_JOB]: indexJob as JobDefinition<undefined> },
  // Documents about a person carry their profile id as the `profileId` filter attribute. With the
  // PostgreSQL engine they go in the erasure's transaction; Meilisearch removes them at once.
  async eraseProfile(_profileId, ctx) {
    const removed = await ctx.search.removeWhere(
      ctx.workspaceId,
      { [PROFILE_FILTER]: ctx.profileIds },
      { em: ctx.em },
    );
    return Math.max(removed, 0);
  },
});
