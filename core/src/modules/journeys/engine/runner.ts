import type { EntityManager } from '@mikro-orm/postgresql';
import { WORKSPACE_FILTER } from '../../../db/orm.ts';
import { sql } from '../../../db/sql.ts';
import type { ModuleRuntime } from '../../../kernel/plugin.ts';
import type { JourneyDefinition, JourneyNode } from '../definition.ts';
import type { AnyStep, EnrollmentView, StepContext, StepResult } from '../steps/step.ts';
import { type EnrollmentState, writeBatch } from './batch-writes.ts';
import { zoneOrUtc } from './clock.ts';

/** A journey runs at most this many steps for one enrollment in one go; a longer run waits a tick. */
const MAX_STEPS_PER_TURN = 50;
/** Failed attempts of one step before the enrollment is marked failed. */
export const MAX_FAILURES = 5;

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
 * Advances due enrollments of one workspace in one transaction: claims up to `batchSize` with
 * SKIP LOCKED, runs each one's steps until it waits or ends, then writes the step ledger and
 * the new positions for the whole batch in three statements. The steps' own effects commit
 * with them, so a crash before the commit undoes all of it and after a restart every step runs
 * once. A step that writes runs behind a savepoint: when it (or a later step of the same
 * enrollment) fails, only that enrollment is rolled back and retried with backoff.
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
    const states: EnrollmentState[] = [];
    let ran = 0;
    for (const row of due) {
      const definition = await definitionOf(em, row, definitions);
      let savepoint = false;
      const beforeWrites = async () => {
        if (savepoint) return;
        await sql(em, 'savepoint enrollment');
        savepoint = true;
      };
      try {
        const state = await advance(
          em,
          runtime,
          options.steps,
          workspaceId,
          definition,
          row,
          now,
          beforeWrites,
        );
        // What steps created through the ORM and did not flush themselves (events, rows) goes now,
        // inside this enrollment's savepoint.
        await em.flush();
        if (savepoint) await sql(em, 'release savepoint enrollment');
        // Each enrollment starts with an empty identity map: a batch of 200 profiles in one map made
        // every later flush compare them all (update-profile ran at a third of its speed).
        em.clear();
        states.push(state);
        ran += state.ledger.length;
      } catch (error) {
        if (savepoint) {
          await sql(em, 'rollback to savepoint enrollment');
          // Entities the rolled-back steps made are gone from the database: forget them here too.
          em.clear();
        }
        runtime.logger.warn({ err: error, enrollmentId: row.id, node: row.node }, 'journey step failed');
        states.push(failed(row, now, `step ${row.node} failed: ${(error as Error).message}`));
      }
    }
    await writeBatch(em, workspaceId, now, states);
    return { claimed: due.length, steps: ran };
  });
}

function failed(row: DueRow, now: Date, reason: string): EnrollmentState {
  const failures = row.failures + 1;
  const final = failures >= MAX_FAILURES;
  return {
    id: row.id,
    journeyId: row.journey_id,
    version: row.version,
    status: final ? 'failed' : row.status,
    node: row.node,
    visits: row.visits,
    dueAt: final ? null : new Date(now.getTime() + 5000 * 2 ** failures),
    awaitingEvent: null,
    wokenBy: row.woken_by,
    context: row.context,
    failures,
    endReason: reason,
    endedAt: final ? now : null,
    ledger: [],
    close: null,
  };
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

/** Runs one enrollment from its node until it waits or ends; returns where it is now and what ran. */
async function advance(
  em: EntityManager,
  runtime: ModuleRuntime,
  steps: ReadonlyMap<string, AnyStep>,
  workspaceId: string,
  definition: JourneyDefinition,
  row: DueRow,
  now: Date,
  beforeWrites: () => Promise<void>,
): Promise<EnrollmentState> {
  const enrollment: EnrollmentView = {
    id: row.id,
    journeyId: row.journey_id,
    version: row.version,
    profileId: row.profile_id,
    enteredAt: row.entered_at,
    context: { ...row.context },
  };
  const state: EnrollmentState = {
    id: row.id,
    journeyId: row.journey_id,
    version: row.version,
    status: 'active',
    node: row.node,
    visits: row.visits,
    dueAt: null,
    awaitingEvent: null,
    wokenBy: null,
    context: enrollment.context,
    failures: 0,
    endReason: null,
    endedAt: null,
    ledger: [],
    close: null,
  };
  let nodeId: string | null = row.node;
  let zone: string | null = null;
  const timeZone = async () => {
    zone ??= await profileTimeZone(em, row.profile_id);
    return zone;
  };

  if (row.status === 'waiting') {
    // The wait is over: its timer fired or its event came. Its ledger row gets the outcome.
    const node = nodeOf(definition, nodeId);
    const step = stepOf(steps, node);
    const outcome =
      step.resume?.(node.args as never, row.woken_by === 'event' ? 'event' : 'timeout') ?? 'next';
    state.close = { visit: row.visits, outcome };
    nodeId = node.next[outcome] ?? null;
  }

  while (nodeId !== null) {
    if (state.ledger.length >= MAX_STEPS_PER_TURN) {
      return { ...state, node: nodeId, dueAt: now };
    }
    const node = nodeOf(definition, nodeId);
    const step = stepOf(steps, node);
    if (!step.readOnly) await beforeWrites();
    state.visits += 1;
    const ctx: StepContext = {
      em,
      workspaceId,
      enrollment,
      idempotencyKey: `${row.id}:${state.visits}`,
      now,
      dryRun: false,
      timeZone,
      runtime,
    };
    const result: StepResult = await step.fn(node.args as never, ctx);
    state.ledger.push({
      node: nodeId,
      visit: state.visits,
      stepType: node.type,
      outcome: 'outcome' in result ? result.outcome : null,
      note: result.note ?? null,
    });
    if ('wait' in result) {
      return {
        ...state,
        status: 'waiting',
        node: nodeId,
        dueAt: result.wait.until,
        awaitingEvent: result.wait.event ?? null,
      };
    }
    if ('retryAt' in result) {
      // Run the same node again later (quiet hours): its ledger row says why it paused.
      return { ...state, node: nodeId, dueAt: result.retryAt };
    }
    if (result.context) Object.assign(enrollment.context, result.context);
    nodeId = node.next[result.outcome] ?? null;
  }
  return { ...state, status: 'completed', node: null, endReason: 'completed', endedAt: now };
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
  return zoneOrUtc(row?.zone);
}
