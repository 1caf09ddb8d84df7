import type { EntityManager } from '@mikro-orm/postgresql';
import { WORKSPACE_FILTER } from '../../../db/orm.ts';
import { sql } from '../../../db/sql.ts';
import type { ModuleRuntime } from '../../../kernel/plugin.ts';
import type { JourneyDefinition, JourneyNode } from '../definition.ts';
import type { AnyStep, EnrollmentView, StepContext, StepResult } from '../steps/step.ts';

/** A journey runs at most this many steps for one enrollment in one go; a longer run waits a tick. */
const MAX_STEPS_PER_TURN = 50;
/** Failed attempts of one step before the enrollment is marked failed. */
const MAX_FAILURES = 5;

interface DueRow {
  id: string;
  journey_id: string;
  version: number;
  profile_id: string;
  status: 'active' | 'waiting';
  node: string;
  visits: number;
  failures: number;
  woken_by: string | null;
  context: Record<string, unknown>;
  entered_at: Date;
}

export interface EngineOptions {
  steps: ReadonlyMap<string, AnyStep>;
  batchSize: number;
  /** Versions are immutable: cache their definitions for the life of the process. */
  definitions?: Map<string, JourneyDefinition>;
}

/**
 * Advances due enrollments of one workspace: claims up to `batchSize` with SKIP LOCKED, runs each
 * one's steps until it waits or ends, and commits the steps' effects, the step ledger and the new
 * positions together. A crash before the commit undoes all of it, so after a restart every step
 * runs once; a step that fails is rolled back alone (savepoint) and retried with backoff.
 * Returns how many enrollments it claimed and how many steps ran.
 */
export async function runDueEnrollments(
  runtime: ModuleRuntime,
  options: EngineOptions,
  now = new Date(),
): Promise<{ claimed: number; steps: number }> {
  const root = runtime.orm.em.fork();
  const [next] = await sql<{ workspace_id: string }>(
    root,
    `select e.workspace_id from journey_enrollment e join journey j on j.id = e.journey_id and j.status = 'published'
     where e.status in ('active', 'waiting') and e.due_at <= $1 order by e.due_at limit 1`,
    [now],
  );
  if (!next) return { claimed: 0, steps: 0 };
  const workspaceId = next.workspace_id;
  root.setFilterParams(WORKSPACE_FILTER, { id: workspaceId });
  const definitions = options.definitions ?? new Map<string, JourneyDefinition>();
  return root.transactional(async (em) => {
    const due = await sql<DueRow>(
      em,
      // Paused journeys hold their enrollments where they are: only published ones advance.
      `select e.id, e.journey_id, e.version, e.profile_id, e.status, e.node, e.visits, e.failures, e.woken_by, e.context,
              e.entered_at
       from journey_enrollment e
       where e.workspace_id = $1 and e.status in ('active', 'waiting') and e.due_at <= $2
         and exists (select 1 from journey j where j.id = e.journey_id and j.status = 'published')
       order by e.due_at limit $3 for update of e skip locked`,
      [workspaceId, now, options.batchSize],
    );
    let ran = 0;
    for (const row of due) {
      const definition = await definitionOf(em, row, definitions);
      try {
        ran += await em.transactional((tx) =>
          advance(tx, runtime, options.steps, workspaceId, definition, row, now),
        );
      } catch (error) {
        runtime.logger.warn({ err: error, enrollmentId: row.id, node: row.node }, 'journey step failed');
        const failures = row.failures + 1;
        await sql(
          em,
          failures >= MAX_FAILURES
            ? `update journey_enrollment set status = 'failed', failures = $2, due_at = null, ended_at = $3,
                 end_reason = left($4, 300), updated_at = now() where id = $1`
            : `update journey_enrollment set failures = $2, due_at = $3::timestamptz + make_interval(secs => 5 * power(2, $2)),
                 end_reason = left($4, 300), updated_at = now() where id = $1`,
          [row.id, failures, now, `step ${row.node} failed: ${(error as Error).message}`],
        );
      }
    }
    return { claimed: due.length, steps: ran };
  });
}

async function definitionOf(
  em: EntityManager,
  row: DueRow,
  cache: Map<string, JourneyDefinition>,
): Promise<JourneyDefinition> {
  const key = `${row.journey_id}:${row.version}`;
  let definition = cache.get(key);
  if (!definition) {
    const [version] = await sql<{ definition: JourneyDefinition }>(
      em,
      `select definition from journey_version where journey_id = $1 and version = $2`,
      [row.journey_id, row.version],
    );
    if (!version) throw new Error(`journey ${row.journey_id} has no version ${row.version}`);
    definition = version.definition;
    cache.set(key, definition);
  }
  return definition;
}

/** Runs one enrollment from its node until it waits or ends; returns the steps it ran. */
async function advance(
  em: EntityManager,
  runtime: ModuleRuntime,
  steps: ReadonlyMap<string, AnyStep>,
  workspaceId: string,
  definition: JourneyDefinition,
  row: DueRow,
  now: Date,
): Promise<number> {
  const enrollment: EnrollmentView = {
    id: row.id,
    journeyId: row.journey_id,
    version: row.version,
    profileId: row.profile_id,
    enteredAt: row.entered_at,
    context: { ...row.context },
  };
  let visits = row.visits;
  let nodeId: string | null = row.node;
  let ran = 0;
  let zone: string | null = null;
  const timeZone = async () => (zone ??= await profileTimeZone(em, row.profile_id));

  if (row.status === 'waiting') {
    // The wait is over: its timer fired or its event came. Close its ledger row with the outcome.
    const node = nodeOf(definition, nodeId);
    const step = stepOf(steps, node);
    const outcome =
      step.resume?.(node.args as never, row.woken_by === 'event' ? 'event' : 'timeout') ?? 'next';
    await sql(em, `update journey_step_run set outcome = $3 where enrollment_id = $1 and visit = $2`, [
      row.id,
      visits,
      outcome,
    ]);
    nodeId = node.next[outcome] ?? null;
  }

  while (nodeId !== null) {
    if (ran >= MAX_STEPS_PER_TURN) {
      await save(em, row.id, {
        status: 'active',
        node: nodeId,
        visits,
        dueAt: now,
        context: enrollment.context,
      });
      return ran;
    }
    const node = nodeOf(definition, nodeId);
    const step = stepOf(steps, node);
    visits += 1;
    const ctx: StepContext = {
      em,
      workspaceId,
      enrollment,
      idempotencyKey: `${row.id}:${visits}`,
      now,
      dryRun: false,
      timeZone,
      runtime,
    };
    const result: StepResult = await step.fn(node.args as never, ctx);
    ran += 1;
    const outcome = 'outcome' in result ? result.outcome : null;
    await sql(
      em,
      `insert into journey_step_run (id, workspace_id, journey_id, version, enrollment_id, node, visit, step_type, outcome, note, created_at)
       values (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, $8, left($9, 500), $10)`,
      [
        workspaceId,
        row.journey_id,
        row.version,
        row.id,
        nodeId,
        visits,
        node.type,
        outcome,
        result.note ?? null,
        now,
      ],
    );
    if ('wait' in result) {
      await save(em, row.id, {
        status: 'waiting',
        node: nodeId,
        visits,
        dueAt: result.wait.until,
        awaitingEvent: result.wait.event ?? null,
        context: enrollment.context,
      });
      return ran;
    }
    if ('retryAt' in result) {
      // Run the same node again later (quiet hours): its ledger row says why it paused.
      await save(em, row.id, {
        status: 'active',
        node: nodeId,
        visits,
        dueAt: result.retryAt,
        context: enrollment.context,
      });
      return ran;
    }
    if (result.context) Object.assign(enrollment.context, result.context);
    nodeId = node.next[result.outcome] ?? null;
  }
  await sql(
    em,
    `update journey_enrollment set status = 'completed', node = null, visits = $2, due_at = null, awaiting_event = null,
       woken_by = null, context = $3::jsonb, control = coalesce(($3::jsonb ->> 'control')::boolean, control),
       ended_at = $4, end_reason = 'completed', failures = 0, updated_at = now() where id = $1`,
    [row.id, visits, JSON.stringify(enrollment.context), now],
  );
  return ran;
}

async function save(
  em: EntityManager,
  id: string,
  state: {
    status: 'active' | 'waiting';
    node: string;
    visits: number;
    dueAt: Date;
    awaitingEvent?: string | null;
    context: Record<string, unknown>;
  },
): Promise<void> {
  await sql(
    em,
    `update journey_enrollment set status = $2, node = $3, visits = $4, due_at = $5, awaiting_event = $6, woken_by = null,
       context = $7::jsonb, control = coalesce(($7::jsonb ->> 'control')::boolean, control), failures = 0, updated_at = now()
     where id = $1`,
    [
      id,
      state.status,
      state.node,
      state.visits,
      state.dueAt,
      state.awaitingEvent ?? null,
      JSON.stringify(state.context),
    ],
  );
}

function nodeOf(definition: JourneyDefinition, id: string | null): JourneyNode {
  const node = id ? definition.nodes[id] : undefined;
  if (!node) throw new Error(`the journey version has no node "${id}"`);
  return node;
}

function stepOf(steps: ReadonlyMap<string, AnyStep>, node: JourneyNode): AnyStep {
  const step = steps.get(node.type);
  // A plugin that brought this step type was removed: say so; the enrollment fails after retries.
  if (!step) throw new Error(`no step type "${node.type}" is installed`);
  return step;
}

/** The profile's `timezone` trait when it names a real zone, else UTC. */
async function profileTimeZone(em: EntityManager, profileId: string): Promise<string> {
  const [row] = await sql<{ zone: string | null }>(
    em,
    `select traits ->> 'timezone' as zone from profile where id = $1`,
    [profileId],
  );
  const zone = row?.zone;
  if (!zone) return 'UTC';
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return zone;
  } catch {
    return 'UTC';
  }
}
