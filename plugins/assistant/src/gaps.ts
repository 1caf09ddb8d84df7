import {
  AtriumError,
  type JobContext,
  type JobDefinition,
  LlmError,
  type LlmProvider,
  type Logger,
  NotFoundError,
  WORKSPACE_FILTER,
} from '@atrium/core';
import { type EntityManager, LockMode } from '@mikro-orm/postgresql';
import { LOW_CONFIDENCE_HANDOFF, NO_RELEVANT_SOURCE } from './answer.ts';
import type { AssistantConfig } from './config.ts';
import { EMBED_BATCH, embed } from './embeddings.ts';
import {
  AssistantGapQuestion,
  AssistantKnowledgeGap,
  type AssistantKnowledgeGapEntity,
  type GapMethod,
  type GapStatus,
} from './entities.ts';
import { fitOf, labelOf, type QuestionShape, termsOf } from './gap-clustering.ts';

export const GAP_QUEUE = 'assistant.knowledge-gaps';

/**
 * The rules answer.ts records when the knowledge base let a question down: nothing relevant was
 * found, or the best passage covered too little of the question to trust.
 */
export const GAP_RULES = [NO_RELEVANT_SOURCE, LOW_CONFIDENCE_HANDOFF] as const;

/** Questions read per run and workspace; the next run goes on where this one stopped. */
const BATCH = 200;
/** A question is compared with this many of a gap's most recent questions. */
const RECENT = 20;
/** Questions shown with a gap (and given to the model for a draft). */
export const SAMPLES = 10;

/** Dismissing or drafting a gap whose status does not allow it: nothing changed. */
export class KnowledgeGapStateError extends AtriumError {
  readonly status: GapStatus;
  constructor(status: GapStatus, action: string) {
    super('KNOWLEDGE_GAP_STATE', `the knowledge gap is ${status}: it cannot be ${action}`);
    this.status = status;
  }
}

export interface GapDependencies {
  em: EntityManager;
  llm: LlmProvider | null;
  config: AssistantConfig;
  logger: Logger;
  signal?: AbortSignal;
}

export interface GapRefresh {
  /** Unanswered questions read in this run. */
  questions: number;
  /** Gaps this run opened. */
  newGaps: number;
  method: GapMethod;
  /** Why the questions were compared by keywords although embeddings were wanted; null otherwise. */
  notice: string | null;
}

// Raw queries return timestamps as the driver's text; they are read with `new Date`.
interface Candidate {
  id: string;
  question: string;
  created_at: string;
}

interface Member extends QuestionShape {
  gap_id: string;
}

/**
 * Reads the workspace's unanswered questions that no run has read yet and puts each into the gap
 * it fits best (`fitOf`), or opens a new gap. Embeddings are used when the LLM has an embedding
 * model, computed before the transaction (no model call while holding it); otherwise, or when
 * the model fails, keywords — and the result and the log say so.
 */
export async function refreshKnowledgeGaps(deps: GapDependencies, workspaceId: string): Promise<GapRefresh> {
  const { em } = deps;
  const candidates = await em.execute<Candidate[]>(
    `select a.id, a.question, a.created_at from assistant_answer a
     where a.workspace_id = ? and a.rules_applied && array[?, ?]::text[]
       and not exists (select 1 from assistant_gap_question q where q.answer_id = a.id)
     order by a.created_at, a.id limit ?`,
    [workspaceId, ...GAP_RULES, BATCH],
  );
  const shapes: QuestionShape[] = candidates.map((c) => ({
    terms: termsOf(c.question),
    embedding: null,
    embeddingModel: null,
  }));
  const { method, notice } = await embedQuestions(deps, workspaceId, candidates, shapes);
  if (candidates.length === 0) return { questions: 0, newGaps: 0, method, notice };

  const thresholds = {
    keywords: deps.config.gapKeywordSimilarity,
    embeddings: deps.config.gapEmbeddingSimilarity,
  };
  return em.transactional(async (tx) => {
    // One clustering per workspace at a time: the job and an editor's refresh may meet.
    await tx.execute('select pg_advisory_xact_lock(hashtext(?))', [`assistant-gaps:${workspaceId}`]);
    const done = new Set(
      (await tx.find(AssistantGapQuestion, { answer: { $in: candidates.map((c) => c.id) } })).map(
        (q) => q.answer,
      ),
    );
    const gaps = await tx.find(AssistantKnowledgeGap, { workspace: workspaceId });
    const members = new Map<string, QuestionShape[]>(gaps.map((g) => [g.id, []]));
    for (const m of await recentMembers(tx, workspaceId)) members.get(m.gap_id)?.push(m);
    const byId = new Map(gaps.map((g) => [g.id, g]));
    const touched = new Set<string>();
    let newGaps = 0;
    let read = 0;
    for (const [i, candidate] of candidates.entries()) {
      if (done.has(candidate.id)) continue;
      read++;
      const shape = shapes[i] as QuestionShape;
      let gap: AssistantKnowledgeGapEntity | null = null;
      let gapMethod: GapMethod = shape.embedding ? 'embeddings' : 'keywords';
      if (shape.terms.length) {
        let best = 1;
        for (const [gapId, shapesOfGap] of members) {
          const { fit, method: compared } = fitOf(shape, shapesOfGap, thresholds);
          if (fit >= best) {
            best = fit;
            gap = byId.get(gapId) ?? null;
            gapMethod = compared;
          }
        }
        if (!gap) {
          gap = tx.create(AssistantKnowledgeGap, {
            workspace: workspaceId,
            label: labelOf([candidate.question]),
            status: 'open',
            method: gapMethod,
            questionCount: 0,
            firstAskedAt: new Date(candidate.created_at),
            lastAskedAt: new Date(candidate.created_at),
          });
          byId.set(gap.id, gap);
          members.set(gap.id, []);
          newGaps++;
        }
        gap.method = gapMethod;
        const recent = members.get(gap.id) as QuestionShape[];
        recent.unshift(shape);
        recent.splice(RECENT);
        touched.add(gap.id);
      }
      tx.create(AssistantGapQuestion, {
        workspace: workspaceId,
        gap: gap?.id ?? null,
        answer: candidate.id,
        terms: shape.terms,
        embedding: shape.embedding,
        embeddingModel: shape.embeddingModel,
        askedAt: new Date(candidate.created_at),
      });
    }
    await tx.flush();
    await summariseGaps(tx, workspaceId, [...touched]);
    return { questions: read, newGaps, method, notice };
  });
}

/**
 * Gives each question with meaningful words its embedding, when the LLM has an embedding model;
 * says why not otherwise. Questions without such words are no gap, so they need none.
 */
async function embedQuestions(
  deps: GapDependencies,
  workspaceId: string,
  candidates: Candidate[],
  shapes: QuestionShape[],
): Promise<{ method: GapMethod; notice: string | null }> {
  const { llm, logger } = deps;
  if (!llm?.embedModel) {
    const notice =
      'no embedding model is configured (OLLAMA_EMBED_MODEL): questions are compared by keywords';
    if (candidates.length) logger.info({ workspaceId }, `knowledge gaps: ${notice}`);
    return { method: 'keywords', notice };
  }
  const meaningful = shapes.flatMap((s, i) => (s.terms.length ? [i] : []));
  if (meaningful.length === 0) return { method: 'embeddings', notice: null };
  try {
    // In the batches document embedding uses (a long call nears LLM_TIMEOUT_MS on a CPU), and
    // through `embed`, which refuses an answer with a vector missing.
    const texts = meaningful.map((i) => (candidates[i] as Candidate).question.slice(0, 2000));
    const vectors: number[][] = [];
    for (let b = 0; b < texts.length; b += EMBED_BATCH) {
      const batch = texts.slice(b, b + EMBED_BATCH);
      vectors.push(...(await embed({ llm, model: llm.embedModel }, batch, deps.signal)));
    }
    for (const [n, i] of meaningful.entries()) {
      const shape = shapes[i] as QuestionShape;
      shape.embedding = vectors[n] ?? null;
      shape.embeddingModel = llm.embedModel;
    }
    return { method: 'embeddings', notice: null };
  } catch (error) {
    if (!(error instanceof LlmError) || error.code === 'LLM_CANCELLED') throw error;
    const notice = `the embedding model failed (${error.code}): questions are compared by keywords`;
    logger.warn({ err: error, workspaceId }, `knowledge gaps: ${notice}`);
    return { method: 'keywords', notice };
  }
}

/** The `RECENT` newest questions of every gap of the workspace. */
function recentMembers(em: EntityManager, workspaceId: string): Promise<Member[]> {
  return em
    .execute<
      { gap_id: string; terms: string[]; embedding: number[] | null; embedding_model: string | null }[]
    >(
      `select gap_id, terms, embedding, embedding_model from (
         select q.gap_id, q.terms, q.embedding, q.embedding_model,
           row_number() over (partition by q.gap_id order by q.asked_at desc, q.id desc) as n
         from assistant_gap_question q where q.workspace_id = ? and q.gap_id is not null) recent
       where n <= ?`,
      [workspaceId, RECENT],
    )
    .then((rows) =>
      rows.map((r) => ({
        gap_id: r.gap_id,
        terms: r.terms,
        embedding: r.embedding,
        embeddingModel: r.embedding_model,
      })),
    );
}

/**
 * Sets count, first and last time asked and label of the gaps from the questions they hold now;
 * a gap left without questions (all erased) goes, so no word of an erased question stays.
 */
export async function summariseGaps(em: EntityManager, workspaceId: string, gapIds: string[]): Promise<void> {
  if (gapIds.length === 0) return;
  const marks = gapIds.map(() => '?').join(', ');
  const totals = await em.execute<{ gap_id: string; n: number; first: string; last: string }[]>(
    `select gap_id, count(*)::int as n, min(asked_at) as first, max(asked_at) as last
     from assistant_gap_question where workspace_id = ? and gap_id in (${marks}) group by gap_id`,
    [workspaceId, ...gapIds],
  );
  const samples = await sampleQuestions(em, workspaceId, gapIds, 50);
  // Also called from GDPR erasure, whose entity manager is not confined to a workspace.
  const gaps = await em.find(
    AssistantKnowledgeGap,
    { workspace: workspaceId, id: { $in: gapIds } },
    { filters: false },
  );
  for (const gap of gaps) {
    const total = totals.find((t) => t.gap_id === gap.id);
    if (!total) {
      em.remove(gap);
      continue;
    }
    gap.questionCount = total.n;
    gap.firstAskedAt = new Date(total.first);
    gap.lastAskedAt = new Date(total.last);
    gap.label = labelOf(samples.get(gap.id) ?? []);
  }
  await em.flush();
}

/** The newest `limit` questions of each gap, newest first. */
export async function sampleQuestions(
  em: EntityManager,
  workspaceId: string,
  gapIds: readonly string[],
  limit: number,
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>(gapIds.map((id) => [id, []]));
  if (gapIds.length === 0) return out;
  const rows = await em.execute<{ gap_id: string; question: string }[]>(
    `select gap_id, question from (
       select q.gap_id, a.question,
         row_number() over (partition by q.gap_id order by q.asked_at desc, q.id desc) as n
       from assistant_gap_question q join assistant_answer a on a.id = q.answer_id
       where q.workspace_id = ? and q.gap_id in (${gapIds.map(() => '?').join(', ')})) recent
     where n <= ? order by gap_id, n`,
    [workspaceId, ...gapIds, limit],
  );
  for (const r of rows) out.get(r.gap_id)?.push(r.question);
  return out;
}

/** A gap with the questions an editor reads first. */
export interface GapView {
  gap: AssistantKnowledgeGapEntity;
  samples: string[];
}

export async function viewsOf(
  em: EntityManager,
  workspaceId: string,
  gaps: AssistantKnowledgeGapEntity[],
): Promise<GapView[]> {
  const samples = await sampleQuestions(
    em,
    workspaceId,
    gaps.map((g) => g.id),
    SAMPLES,
  );
  return gaps.map((gap) => ({ gap, samples: samples.get(gap.id) ?? [] }));
}

/** The workspace's gaps, the most asked first. */
export async function listGaps(
  em: EntityManager,
  workspaceId: string,
  query: { status: GapStatus | null; limit: number; offset: number },
): Promise<GapView[]> {
  const gaps = await em.find(
    AssistantKnowledgeGap,
    { workspace: workspaceId, ...(query.status ? { status: query.status } : {}) },
    {
      orderBy: { questionCount: 'desc', lastAskedAt: 'desc', id: 'asc' },
      limit: query.limit,
      offset: query.offset,
    },
  );
  return viewsOf(em, workspaceId, gaps);
}

/** The gap, locked for the rest of the transaction; a typed error unless it exists. */
export async function lockedGap(em: EntityManager, gapId: string): Promise<AssistantKnowledgeGapEntity> {
  const gap = await em.findOne(
    AssistantKnowledgeGap,
    { id: gapId },
    { lockMode: LockMode.PESSIMISTIC_WRITE },
  );
  if (!gap) throw new NotFoundError('the knowledge gap');
  return gap;
}

/** An editor decides an open gap needs no article; similar questions keep joining it quietly. */
export async function dismissGap(
  em: EntityManager,
  workspaceId: string,
  gapId: string,
  by: string,
): Promise<GapView> {
  const gap = await em.transactional(async (tx) => {
    const locked = await lockedGap(tx, gapId);
    if (locked.status !== 'open') throw new KnowledgeGapStateError(locked.status, 'dismissed');
    locked.status = 'dismissed';
    locked.decidedBy = by;
    locked.decidedAt = new Date();
    await tx.flush();
    return locked;
  });
  return (await viewsOf(em, workspaceId, [gap]))[0] as GapView;
}

/** GDPR export: the person's unanswered questions as the gap clustering read them, and their gap. */
export async function exportGapQuestionsOf(
  em: EntityManager,
  workspaceId: string,
  profileIds: readonly string[],
): Promise<Record<string, unknown>[]> {
  return em.execute(
    `select a.question, g.label as gap, g.status as "gapStatus", q.terms,
       q.embedding_model as "embeddingModel", q.asked_at as "askedAt"
     from assistant_gap_question q join assistant_answer a on a.id = q.answer_id
       left join assistant_knowledge_gap g on g.id = q.gap_id
     where q.workspace_id = ? and a.profile_id in (${profileIds.map(() => '?').join(', ')})
     order by q.asked_at, q.id`,
    [workspaceId, ...profileIds],
  );
}

/**
 * GDPR erasure, before the person's answers go: their rows in the gaps go, and each gap they were
 * in is summarised again from the questions left (label included), or removed when none are.
 */
export async function eraseGapQuestionsOf(
  em: EntityManager,
  workspaceId: string,
  profileIds: readonly string[],
): Promise<number> {
  const gone = await em.execute<{ gap_id: string | null }[]>(
    `delete from assistant_gap_question q using assistant_answer a
     where a.id = q.answer_id and q.workspace_id = ? and a.profile_id in (${profileIds.map(() => '?').join(', ')})
     returning q.gap_id`,
    [workspaceId, ...profileIds],
  );
  const gapIds = [...new Set(gone.flatMap((r) => (r.gap_id ? [r.gap_id] : [])))];
  await summariseGaps(em, workspaceId, gapIds);
  return gone.length;
}

/** Every workspace with questions no run has read yet, refreshed in turn; one failure stops no other. */
async function refreshAllWorkspaces(_data: unknown, ctx: JobContext<AssistantConfig>): Promise<void> {
  const workspaces = await ctx.em.execute<{ workspace_id: string }[]>(
    `select distinct a.workspace_id from assistant_answer a
     where a.rules_applied && array[?, ?]::text[]
       and not exists (select 1 from assistant_gap_question q where q.answer_id = a.id)`,
    [...GAP_RULES],
  );
  for (const { workspace_id: workspaceId } of workspaces) {
    const em = ctx.em.fork();
    em.setFilterParams(WORKSPACE_FILTER, { id: workspaceId });
    try {
      // A backlog (the first run after an upgrade) is worked off in batches, within bounds.
      for (let batch = 0; batch < 10; batch++) {
        const result = await refreshKnowledgeGaps(
          { em, llm: ctx.llm, config: ctx.config, logger: ctx.logger, signal: ctx.signal },
          workspaceId,
        );
        ctx.logger.info({ workspaceId, ...result }, 'knowledge gaps refreshed');
        if (result.questions < BATCH) break;
      }
    } catch (error) {
      ctx.logger.error({ err: error, workspaceId }, 'knowledge gaps: refresh failed');
    }
  }
}

/** Every 15 minutes: new unanswered questions find their gap without an editor asking. */
export const knowledgeGapJob: JobDefinition<AssistantConfig> = {
  handle: refreshAllWorkspaces,
  everySeconds: 900,
  retryLimit: 1,
  // Embedding a batch on a CPU model takes a while; LLM_TIMEOUT_MS bounds each call.
  expireInSeconds: 900,
};
