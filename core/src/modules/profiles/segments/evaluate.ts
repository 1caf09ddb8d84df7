import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import { recordEvent } from '../../../kernel/events.ts';
import type { Logger } from '../../../kernel/logger.ts';
import type { ComputedTraitKind } from '../entities.ts';
import { jsonEqual, SqlParams } from './comparators.ts';
import { computedTraitKindSpecs } from './computed-trait-kinds.ts';
import { type Condition, type OperatorShape, referencesOf, validateCondition } from './conditions.ts';
import { AggregatePlan } from './event-aggregates.ts';
import type { AnySegmentOperator, ProfileFacts } from './operators.ts';

export const SEGMENT_ENTERED = 'segment.entered';
export const SEGMENT_EXITED = 'segment.exited';

/** What `segment.entered` and `segment.exited` carry; the event's subject is the profile id. */
export interface SegmentMembershipPayload {
  segmentId: string;
  segmentKey: string;
  profileId: string;
}

type Operators = ReadonlyMap<string, AnySegmentOperator>;
type Test = (profile: ProfileFacts, events: readonly unknown[]) => boolean;

/** A condition turned into a function, with the event aggregates it reads registered in `plan`. */
export function compileCondition(condition: Condition, operators: Operators, plan: AggregatePlan): Test {
  if ('all' in condition) {
    const children = condition.all.map((c) => compileCondition(c, operators, plan));
    return (p, e) => children.every((test) => test(p, e));
  }
  if ('any' in condition) {
    const children = condition.any.map((c) => compileCondition(c, operators, plan));
    return (p, e) => children.some((test) => test(p, e));
  }
  if ('not' in condition) {
    const child = compileCondition(condition.not, operators, plan);
    return (p, e) => !child(p, e);
  }
  const operator = operators.get(condition.op);
  if (!operator) throw new Error(`unknown segment operator "${condition.op}"`);
  const args = condition.args;
  const positions = (operator.events?.(args) ?? []).map((spec) => plan.add(spec));
  if (positions.length === 0) return (p) => operator.fn(args, p, []);
  return (p, e) =>
    operator.fn(
      args,
      p,
      positions.map((i) => e[i]),
    );
}

export interface StoredSegment {
  id: string;
  key: string;
  condition: unknown;
}

/** The workspace's segments that take members: computing ones too, so no change is missed meanwhile. */
export function liveSegments(em: EntityManager, workspaceId: string): Promise<StoredSegment[]> {
  return sql<StoredSegment>(
    em,
    `select id::text as id, key, condition from segment where workspace_id = $1 and status <> 'archived'`,
    [workspaceId],
  );
}

interface CompiledSegment {
  id: string;
  key: string;
  test: Test;
}

/**
 * What evaluating a workspace needs, compiled once: segments in dependency order (a segment after
 * those its condition names, so one pass sees this evaluation's membership of each dependency),
 * computed-trait definitions, and one plan of every event aggregate they read.
 */
interface WorkspaceModel {
  stamp: string;
  segments: CompiledSegment[];
  traits: { key: string; position: number }[];
  plan: AggregatePlan;
  keyOf: Map<string, string>;
  idOfKey: Map<string, string>;
}

function buildModel(
  stamp: string,
  segments: StoredSegment[],
  traits: { key: string; kind: ComputedTraitKind; config: Record<string, unknown> }[],
  operators: Operators,
  only: ReadonlySet<string> | undefined,
  logger: Logger | undefined,
): WorkspaceModel {
  const shapes = operators as ReadonlyMap<string, OperatorShape>;
  const plan = new AggregatePlan();
  const byKey = new Map(segments.map((s) => [s.key, s]));
  const visited = new Set<string>();
  const ordered: CompiledSegment[] = [];
  const visit = (segment: StoredSegment) => {
    if (visited.has(segment.key)) return;
    visited.add(segment.key);
    let condition: Condition;
    try {
      condition = validateCondition(segment.condition, shapes);
    } catch (error) {
      // A plugin's operator was removed, say: the segment keeps its members until it is fixed.
      logger?.warn(
        { segment: segment.key, err: error },
        'segment skipped: its condition no longer validates',
      );
      return;
    }
    for (const ref of referencesOf(condition, shapes, 'segment')) {
      const dependency = byKey.get(ref.key);
      if (dependency) visit(dependency);
    }
    if (!only || only.has(segment.id))
      ordered.push({ id: segment.id, key: segment.key, test: compileCondition(condition, operators, plan) });
  };
  for (const segment of segments) visit(segment);
  return {
    stamp,
    segments: ordered,
    traits: traits.map((t) => ({
      key: t.key,
      position: plan.add(computedTraitKindSpecs[t.kind].aggregate(t.config)),
    })),
    plan,
    keyOf: new Map(segments.map((s) => [s.id, s.key])),
    idOfKey: new Map(segments.map((s) => [s.key, s.id])),
  };
}

const MODEL_CACHE_SIZE = 500;
const models = new WeakMap<Operators, Map<string, WorkspaceModel>>();

/**
 * The workspace's model, from a per-process cache while `stamp` (a digest of the ids and
 * update times of live segments and computed-trait definitions) says nothing changed.
 */
async function modelOf(
  em: EntityManager,
  workspaceId: string,
  stamp: string,
  operators: Operators,
  only: ReadonlySet<string> | undefined,
  logger: Logger | undefined,
): Promise<WorkspaceModel> {
  let cache = models.get(operators);
  if (!cache) {
    cache = new Map();
    models.set(operators, cache);
  }
  const cached = only ? undefined : cache.get(workspaceId);
  if (cached?.stamp === stamp) return cached;
  const rows = await sql<{
    kind: 'segment' | 'trait';
    id: string;
    key: string;
    body: Record<string, unknown>;
  }>(
    em,
    `select 'segment' as kind, id::text as id, key, condition as body from segment
       where workspace_id = $1 and status <> 'archived'
     union all
     select 'trait', id::text, key, jsonb_build_object('kind', kind, 'config', config) from computed_trait_definition
       where workspace_id = $1`,
    [workspaceId],
  );
  const model = buildModel(
    stamp,
    rows.filter((r) => r.kind === 'segment').map((r) => ({ id: r.id, key: r.key, condition: r.body })),
    rows
      .filter((r) => r.kind === 'trait')
      .map((r) => ({
        key: r.key,
        kind: r.body.kind as ComputedTraitKind,
        config: r.body.config as Record<string, unknown>,
      })),
    operators,
    only,
    logger,
  );
  if (!only) {
    cache.delete(workspaceId);
    if (cache.size >= MODEL_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
    cache.set(workspaceId, model);
  }
  return model;
}

const STAMP = `
  (select md5(coalesce(string_agg(s.id::text || s.updated_at::text, ',' order by s.id), ''))
     from segment s where s.workspace_id = $1 and s.status <> 'archived') ||
  (select md5(coalesce(string_agg(d.id::text || d.updated_at::text, ',' order by d.id), ''))
     from computed_trait_definition d where d.workspace_id = $1)`;

/**
 * Locks the profile rows in id order for the rest of the transaction, so that two evaluations of
 * a profile run one after the other and the later one reads what the earlier one wrote. FOR NO KEY
 * UPDATE: inserts of events, consents or memberships (which only share-lock the key) do not wait.
 * Returns the ids that exist and the stamp of the workspace's definitions.
 */
async function lockProfiles(
  em: EntityManager,
  workspaceId: string,
  profileIds: readonly string[],
): Promise<{ ids: string[]; stamp: string }> {
  const rows = await sql<{ id: string; stamp: string }>(
    em,
    `select p.id::text as id, ${STAMP} as stamp from profile p
     where p.workspace_id = $1 and p.id = any($2::uuid[]) order by p.id for no key update of p`,
    [workspaceId, [...new Set(profileIds)].sort()],
  );
  return { ids: rows.map((r) => r.id), stamp: rows[0]?.stamp ?? '' };
}

interface LoadedProfile {
  id: string;
  traits: Record<string, unknown>;
  computedTraits: Record<string, unknown>;
  consents: Record<string, boolean>;
  segmentIds: Set<string>;
  /** The plan's event aggregates, in plan order. */
  events: unknown[];
}

/**
 * Profiles with their consents, memberships and every event aggregate of `plan`, in one
 * statement: one pass over each profile's range of the event index, however many aggregates.
 */
async function loadProfiles(
  em: EntityManager,
  workspaceId: string,
  profileIds: readonly string[],
  plan: AggregatePlan,
  now: Date,
): Promise<LoadedProfile[]> {
  const params = new SqlParams([workspaceId, profileIds]);
  let lateral = '';
  if (plan.size > 0) {
    const { columns, narrow } = plan.toSql(params, now);
    const where = ['e.workspace_id = p.workspace_id', 'e.profile_id = p.id', ...narrow];
    lateral = `cross join lateral (select ${columns.join(', ')} from event e where ${where.join(' and ')}) agg`;
  }
  const rows = await sql<Record<string, unknown>>(
    em,
    `select p.id::text as id, p.traits, p.computed_traits,
       coalesce((select jsonb_object_agg(c.purpose, c.granted) from consent c where c.profile_id = p.id), '{}'::jsonb) as consents,
       coalesce((select array_agg(m.segment_id::text) from segment_membership m where m.profile_id = p.id), '{}'::text[]) as segment_ids
       ${plan.size > 0 ? ', agg.*' : ''}
     from profile p ${lateral}
     where p.workspace_id = $1 and p.id = any($2::uuid[])`,
    params.values,
  );
  return rows.map((r) => ({
    id: r.id as string,
    traits: r.traits as Record<string, unknown>,
    computedTraits: r.computed_traits as Record<string, unknown>,
    consents: r.consents as Record<string, boolean>,
    segmentIds: new Set(r.segment_ids as string[]),
    events: plan.valuesOf(r),
  }));
}

export interface EvaluationOptions {
  operators: Operators;
  /** Evaluate only these segment ids (a recompute); the others keep their memberships. */
  only?: ReadonlySet<string>;
  /** The clock for time windows; now by default. */
  now?: Date;
  logger?: Logger;
}

export interface MembershipChange {
  segmentId: string;
  segmentKey: string;
  profileId: string;
}

export interface EvaluationOutcome {
  profiles: number;
  /** Profiles whose computed traits changed. */
  computedTraitsChanged: number;
  entered: MembershipChange[];
  exited: MembershipChange[];
}

/**
 * The real-time update of a batch of profiles, in the caller's transaction: computed traits from
 * their events, then every live segment, then the difference written — computed traits,
 * memberships inserted and deleted — with `segment.entered` / `segment.exited` recorded beside
 * them. Three statements however many segments and traits: lock (with a digest of the
 * definitions, which are compiled once per process and change), profiles with consents,
 * memberships and all event aggregates, and one for all writes when something changed. Inserts
 * and deletes report only rows they really changed, so no event is ever recorded twice.
 */
export async function refreshProfiles(
  em: EntityManager,
  workspaceId: string,
  profileIds: readonly string[],
  options: EvaluationOptions,
): Promise<EvaluationOutcome> {
  const outcome: EvaluationOutcome = { profiles: 0, computedTraitsChanged: 0, entered: [], exited: [] };
  if (profileIds.length === 0) return outcome;
  const now = options.now ?? new Date();
  const { ids, stamp } = await lockProfiles(em, workspaceId, profileIds);
  if (ids.length === 0) return outcome;
  const model = await modelOf(em, workspaceId, stamp, options.operators, options.only, options.logger);
  const profiles = await loadProfiles(em, workspaceId, ids, model.plan, now);
  outcome.profiles = profiles.length;

  const traitWrites: { id: string; traits: Record<string, unknown> }[] = [];
  const enter: [string, string][] = [];
  const exit: [string, string][] = [];
  for (const profile of profiles) {
    const computedTraits: Record<string, unknown> = {};
    for (const trait of model.traits) {
      const value = profile.events[trait.position];
      if (value !== null && value !== undefined) computedTraits[trait.key] = value;
    }
    if (!jsonEqual(computedTraits, profile.computedTraits))
      traitWrites.push({ id: profile.id, traits: computedTraits });

    const next = new Set(profile.segmentIds);
    const facts: ProfileFacts = {
      id: profile.id,
      traits: profile.traits,
      computedTraits,
      consents: profile.consents,
      isMemberOf: (key) => {
        const id = model.idOfKey.get(key);
        return id !== undefined && next.has(id);
      },
    };
    for (const segment of model.segments) {
      if (segment.test(facts, profile.events)) next.add(segment.id);
      else next.delete(segment.id);
    }
    for (const id of next) if (!profile.segmentIds.has(id)) enter.push([id, profile.id]);
    for (const id of profile.segmentIds)
      if (!next.has(id) && model.keyOf.has(id)) exit.push([id, profile.id]);
  }
  outcome.computedTraitsChanged = traitWrites.length;
  if (traitWrites.length === 0 && enter.length === 0 && exit.length === 0) return outcome;

  // One statement for every write: data-modifying CTEs all run, whatever the final select reads.
  const params = new SqlParams([workspaceId]);
  const parts: string[] = [];
  const changes: string[] = [];
  if (traitWrites.length) {
    parts.push(`traits as (update profile p set computed_traits = x.traits
       from jsonb_to_recordset(${params.add(JSON.stringify(traitWrites))}::jsonb) as x(id uuid, traits jsonb)
       where p.workspace_id = $1 and p.id = x.id returning p.id)`);
  }
  if (enter.length) {
    parts.push(`entered as (insert into segment_membership (id, workspace_id, segment_id, profile_id, entered_at)
       select x.id, $1, x.segment_id, x.profile_id, ${params.add(now)}::timestamptz
       from unnest(${params.add(enter.map(() => crypto.randomUUID()))}::uuid[], ${params.add(enter.map((e) => e[0]))}::uuid[],
         ${params.add(enter.map((e) => e[1]))}::uuid[]) as x(id, segment_id, profile_id)
       on conflict (segment_id, profile_id) do nothing returning segment_id, profile_id)`);
    changes.push(`select 'entered' as change, segment_id::text, profile_id::text from entered`);
  }
  if (exit.length) {
    parts.push(`exited as (delete from segment_membership m
       using unnest(${params.add(exit.map((e) => e[0]))}::uuid[], ${params.add(exit.map((e) => e[1]))}::uuid[]) as x(segment_id, profile_id)
       where m.workspace_id = $1 and m.segment_id = x.segment_id and m.profile_id = x.profile_id
       returning m.segment_id, m.profile_id)`);
    changes.push(`select 'exited' as change, segment_id::text, profile_id::text from exited`);
  }
  const rows = await sql<{ change: 'entered' | 'exited'; segment_id: string; profile_id: string }>(
    em,
    `with ${parts.join(',\n')} ${changes.length ? changes.join(' union all ') : 'select null as change where false'}`,
    params.values,
  );
  for (const row of rows) {
    const change: MembershipChange = {
      segmentId: row.segment_id,
      segmentKey: model.keyOf.get(row.segment_id) as string,
      profileId: row.profile_id,
    };
    outcome[row.change].push(change);
    recordEvent(em, {
      type: row.change === 'entered' ? SEGMENT_ENTERED : SEGMENT_EXITED,
      workspaceId,
      subject: change.profileId,
      payload: { ...change } satisfies SegmentMembershipPayload,
    });
  }
  return outcome;
}

/**
 * Which of `profileIds` a condition matches, without locking or writing anything (previews).
 * Computed traits and segment references read their stored values.
 */
export async function matchCondition(
  em: EntityManager,
  workspaceId: string,
  profileIds: readonly string[],
  condition: Condition,
  operators: Operators,
  now = new Date(),
): Promise<string[]> {
  if (profileIds.length === 0) return [];
  const plan = new AggregatePlan();
  const test = compileCondition(condition, operators, plan);
  const profiles = await loadProfiles(em, workspaceId, profileIds, plan, now);
  const keys = await sql<{ id: string; key: string }>(
    em,
    `select id::text as id, key from segment where workspace_id = $1`,
    [workspaceId],
  );
  const idOfKey = new Map(keys.map((s) => [s.key, s.id]));
  return profiles
    .filter((p) =>
      test(
        {
          id: p.id,
          traits: p.traits,
          computedTraits: p.computedTraits,
          consents: p.consents,
          isMemberOf: (key) => p.segmentIds.has(idOfKey.get(key) ?? ''),
        },
        p.events,
      ),
    )
    .map((p) => p.id);
}
