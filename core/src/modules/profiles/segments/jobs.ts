import type { EntityManager } from '@mikro-orm/postgresql';
import { transactionalWithRetry } from '../../../db/retry.ts';
import { sql } from '../../../db/sql.ts';
import type { JobContext, JobDefinition } from '../../../kernel/plugin.ts';
import { RECOMPUTE_COMPUTED_TRAITS, type RecomputeComputedTraitsJob } from './computed-traits.ts';
import { refreshProfiles } from './evaluate.ts';
import { operatorRegistry } from './operators.ts';
import { conditionRevision, dependentsOf, RECOMPUTE_SEGMENT, type RecomputeSegmentJob } from './service.ts';

const PAGE = 500;
/** Profile ids of the workspace after `after`, in id order: keyset pages that new profiles do not shift. */
async function nextPage(em: EntityManager, workspaceId: string, after: string | null): Promise<string[]> {
  const rows = await sql<{ id: string }>(
    em,
    `select id::text as id from profile where workspace_id = $1 and ($2::uuid is null or id > $2::uuid)
     order by id limit ${PAGE}`,
    [workspaceId, after],
  );
  return rows.map((r) => r.id);
}

async function countProfiles(em: EntityManager, workspaceId: string): Promise<number> {
  const [row] = await sql<{ n: string }>(em, `select count(*) as n from profile where workspace_id = $1`, [
    workspaceId,
  ]);
  return Number(row?.n ?? 0);
}

/**
 * Recomputes one segment (and the segments that depend on it) for every profile of the
 * workspace, a page per transaction, writing progress as it goes; ends `active`. A newer
 * revision of the condition supersedes the run: it stops and leaves the segment to the newer job.
 */
async function recomputeSegment(data: RecomputeSegmentJob, ctx: JobContext): Promise<void> {
  const { workspaceId, segmentId } = data;
  const current = async (em: EntityManager) => {
    const [row] = await sql<{ status: string; condition: unknown }>(
      em,
      `select status, condition from segment where id = $1 and workspace_id = $2`,
      [segmentId, workspaceId],
    );
    if (!row || row.status === 'archived') return false;
    return !data.revision || conditionRevision(row.condition) === data.revision;
  };
  if (!(await current(ctx.em))) return;
  const operators = operatorRegistry(ctx.segmentOperators);
  const only = await dependentsOf(ctx.em, workspaceId, segmentId, operators);
  const total = await countProfiles(ctx.em, workspaceId);
  await sql(ctx.em, `update segment set computed_profiles = 0, total_profiles = $2 where id = $1`, [
    segmentId,
    total,
  ]);

  let after: string | null = null;
  let done = 0;
  for (;;) {
    if (ctx.signal.aborted) throw new Error('recompute stopped: the job was cancelled or expired');
    const ids = await nextPage(ctx.em, workspaceId, after);
    if (ids.length === 0) break;
    const superseded = await transactionalWithRetry(ctx.em, async (em) => {
      if (!(await current(em))) return true;
      await refreshProfiles(em, workspaceId, ids, { operators, only, logger: ctx.logger });
      done += ids.length;
      await sql(
        em,
        `update segment set computed_profiles = $2, total_profiles = greatest(total_profiles, $2) where id = $1`,
        [segmentId, done],
      );
      return false;
    });
    if (superseded) return;
    after = ids[ids.length - 1] as string;
  }
  await transactionalWithRetry(ctx.em, async (em) => {
    if (!(await current(em))) return;
    await sql(
      em,
      `update segment set status = 'active', computed_profiles = $2, total_profiles = $2, last_computed_at = now()
       where id = $1`,
      [segmentId, done],
    );
  });
}

/** Recomputes every computed trait of every profile, then their segments, a page per transaction. */
async function recomputeComputedTraits(data: RecomputeComputedTraitsJob, ctx: JobContext): Promise<void> {
  const operators = operatorRegistry(ctx.segmentOperators);
  let after: string | null = null;
  for (;;) {
    if (ctx.signal.aborted) throw new Error('recompute stopped: the job was cancelled or expired');
    const ids = await nextPage(ctx.em, data.workspaceId, after);
    if (ids.length === 0) return;
    await transactionalWithRetry(ctx.em, (em) =>
      refreshProfiles(em, data.workspaceId, ids, { operators, logger: ctx.logger }),
    );
    after = ids[ids.length - 1] as string;
  }
}

export const EXPIRE_WINDOWS = 'segments.expire-windows';

/**
 * Time windows ("ordered in the last 30 days") change without any event: a profile that
 * stops ordering must leave the segment. Every few hours, every segment and computed trait
 * with a window is recomputed, across all workspaces.
 */
async function expireWindows(_data: unknown, ctx: JobContext): Promise<void> {
  const segments = await sql<{ id: string; workspace_id: string; condition: unknown }>(
    ctx.em,
    `select id, workspace_id, condition from segment
     where status <> 'archived' and condition::text like '%withinDays%'`,
  );
  for (const segment of segments) {
    await ctx.jobs.send(RECOMPUTE_SEGMENT, {
      workspaceId: segment.workspace_id,
      segmentId: segment.id,
      revision: conditionRevision(segment.condition),
    } satisfies RecomputeSegmentJob);
  }
  const traits = await sql<{ workspace_id: string }>(
    ctx.em,
    `select distinct workspace_id from computed_trait_definition where config::text like '%windowDays%'`,
  );
  for (const { workspace_id } of traits) {
    await ctx.jobs.send(RECOMPUTE_COMPUTED_TRAITS, {
      workspaceId: workspace_id,
    } satisfies RecomputeComputedTraitsJob);
  }
  ctx.logger.info({ segments: segments.length, workspaces: traits.length }, 'time windows recomputed');
}

export const segmentJobs: Record<string, JobDefinition> = {
  [RECOMPUTE_SEGMENT]: { handle: recomputeSegment, expireInSeconds: 3600, retryLimit: 3 },
  [RECOMPUTE_COMPUTED_TRAITS]: { handle: recomputeComputedTraits, expireInSeconds: 3600, retryLimit: 3 },
  [EXPIRE_WINDOWS]: { handle: expireWindows, everySeconds: 6 * 3600, retryLimit: 2, expireInSeconds: 600 },
};
