import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import { NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import { recordEvent } from '../../../kernel/events.ts';
import type { JobQueue } from '../../../kernel/jobs.ts';
import {
  Profile,
  type ProfileEntity,
  Segment,
  type SegmentEntity,
  SegmentMembership,
  type SegmentStatus,
} from '../entities.ts';
import {
  type Condition,
  findCycle,
  type OperatorShape,
  type ReferenceCheck,
  referencesOf,
  validateCondition,
} from './conditions.ts';
import { liveSegments, matchCondition } from './evaluate.ts';
import type { AnySegmentOperator } from './operators.ts';

export const RECOMPUTE_SEGMENT = 'segments.recompute';
export interface RecomputeSegmentJob {
  workspaceId: string;
  segmentId: string;
  /** The condition this run computes; a run whose condition was replaced stops. */
  revision?: string;
}

export interface Page {
  limit: number;
  offset: number;
}

type Operators = ReadonlyMap<string, AnySegmentOperator>;
const shapes = (operators: Operators) => operators as ReadonlyMap<string, OperatorShape>;

const SEGMENT_KEY = /^[a-z0-9][a-z0-9_-]{0,99}$/;

/** A short fingerprint of a condition, the same whatever the key order jsonb stored it in. */
export function conditionRevision(condition: unknown): string {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (typeof value !== 'object' || value === null) return value;
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  };
  return createHash('sha256')
    .update(JSON.stringify(canonical(condition)))
    .digest('hex')
    .slice(0, 16);
}

/** Segment keys each live segment's condition references. */
async function segmentGraph(
  em: EntityManager,
  workspaceId: string,
  operators: Operators,
): Promise<Map<string, { id: string; references: string[] }>> {
  const graph = new Map<string, { id: string; references: string[] }>();
  for (const segment of await liveSegments(em, workspaceId)) {
    let references: string[] = [];
    try {
      const condition = validateCondition(segment.condition, shapes(operators));
      references = referencesOf(condition, shapes(operators), 'segment').map((r) => r.key);
    } catch {
      // Not evaluated while its condition does not validate: it depends on nothing.
    }
    graph.set(segment.key, { id: segment.id, references });
  }
  return graph;
}

/** What validation checks references against: live segments and defined computed traits. */
async function referenceCheck(em: EntityManager, workspaceId: string): Promise<ReferenceCheck> {
  const segments = await liveSegments(em, workspaceId);
  const traits = await sql<{ key: string }>(
    em,
    `select key from computed_trait_definition where workspace_id = $1`,
    [workspaceId],
  );
  return {
    segmentKeys: new Set(segments.map((s) => s.key)),
    computedTraitKeys: new Set(traits.map((t) => t.key)),
  };
}

/** Validates a condition for the segment `key`: operators, arguments, references, no cycle. */
async function checkCondition(
  em: EntityManager,
  workspaceId: string,
  operators: Operators,
  raw: unknown,
  key: string | null,
): Promise<Condition> {
  const condition = validateCondition(raw, shapes(operators), await referenceCheck(em, workspaceId));
  if (key) {
    const graph = await segmentGraph(em, workspaceId, operators);
    const references = referencesOf(condition, shapes(operators), 'segment');
    const cycle = findCycle(key, references, (k) => (k === key ? [] : (graph.get(k)?.references ?? [])));
    if (cycle)
      throw new ValidationError(
        `${cycle.path}: segment "${key}" would depend on itself (${cycle.chain.join(' → ')})`,
        cycle.path,
      );
  }
  return condition;
}

/** The segment ids a recompute of `segmentId` must evaluate: it and every segment that depends on it. */
export async function dependentsOf(
  em: EntityManager,
  workspaceId: string,
  segmentId: string,
  operators: Operators,
): Promise<Set<string>> {
  const graph = await segmentGraph(em, workspaceId, operators);
  const ids = new Set([segmentId]);
  const keys = new Set([...graph].filter(([, s]) => s.id === segmentId).map(([k]) => k));
  for (let grew = true; grew; ) {
    grew = false;
    for (const [key, segment] of graph) {
      if (!keys.has(key) && segment.references.some((r) => keys.has(r))) {
        keys.add(key);
        ids.add(segment.id);
        grew = true;
      }
    }
  }
  return ids;
}

export interface SegmentInput {
  key: string;
  name: string;
  description?: string | null;
  condition?: unknown;
}

function checkName(name: string | null | undefined): string {
  const trimmed = name?.trim() ?? '';
  if (!trimmed || trimmed.length > 200) throw new ValidationError('name must be 1 to 200 characters', 'name');
  return trimmed;
}

async function queueRecompute(
  em: EntityManager,
  jobs: JobQueue,
  workspaceId: string,
  segment: SegmentEntity,
) {
  const data: RecomputeSegmentJob = {
    workspaceId,
    segmentId: segment.id,
    revision: conditionRevision(segment.condition),
  };
  await jobs.send(RECOMPUTE_SEGMENT, data, { em });
}

/** Saves a segment as `computing` and queues the recompute that fills it. */
export async function createSegment(
  em: EntityManager,
  jobs: JobQueue,
  workspaceId: string,
  operators: Operators,
  input: SegmentInput,
): Promise<SegmentEntity> {
  if (!SEGMENT_KEY.test(input.key))
    throw new ValidationError('key: lower-case letters, digits, _ and - (up to 100)', 'key');
  const name = checkName(input.name);
  return em.transactional(async (tem) => {
    if (await tem.findOne(Segment, { key: input.key }))
      throw new ValidationError(`a segment with the key "${input.key}" exists`, 'key');
    const condition = await checkCondition(tem, workspaceId, operators, input.condition, input.key);
    const segment = tem.create(Segment, {
      workspace: workspaceId,
      key: input.key,
      name,
      description: input.description?.trim() || null,
      condition: condition as unknown as Record<string, unknown>,
      status: 'computing',
    });
    await tem.flush();
    await queueRecompute(tem, jobs, workspaceId, segment);
    return segment;
  });
}

/** Renames or redefines a segment; a new condition starts a recompute. */
export async function updateSegment(
  em: EntityManager,
  jobs: JobQueue,
  workspaceId: string,
  operators: Operators,
  input: { id: string; name?: string | null; description?: string | null; condition?: unknown },
): Promise<SegmentEntity> {
  return em.transactional(async (tem) => {
    const segment = await tem.findOne(Segment, { id: input.id });
    if (!segment) throw new NotFoundError('Segment');
    if (segment.status === 'archived') throw new ValidationError('an archived segment cannot change', 'id');
    if (input.name !== undefined && input.name !== null) segment.name = checkName(input.name);
    if (input.description !== undefined) segment.description = input.description?.trim() || null;
    const redefined =
      input.condition !== undefined &&
      input.condition !== null &&
      conditionRevision(input.condition) !== conditionRevision(segment.condition);
    if (redefined) {
      const condition = await checkCondition(tem, workspaceId, operators, input.condition, segment.key);
      segment.condition = condition as unknown as Record<string, unknown>;
      segment.status = 'computing';
      segment.computedProfiles = 0;
    }
    await tem.flush();
    if (redefined) await queueRecompute(tem, jobs, workspaceId, segment);
    return segment;
  });
}

/**
 * Archives a segment no live segment depends on: it stops taking members and its memberships go
 * (one `segment.archived` event, no per-profile exits); the definition stays for the record.
 */
export async function archiveSegment(
  em: EntityManager,
  workspaceId: string,
  operators: Operators,
  id: string,
): Promise<SegmentEntity> {
  return em.transactional(async (tem) => {
    const segment = await tem.findOne(Segment, { id });
    if (!segment) throw new NotFoundError('Segment');
    if (segment.status === 'archived') return segment;
    const graph = await segmentGraph(tem, workspaceId, operators);
    const users = [...graph].filter(([key, s]) => key !== segment.key && s.references.includes(segment.key));
    if (users.length)
      throw new ValidationError(
        `segment "${segment.key}" is used by segments: ${users.map(([k]) => k).join(', ')}`,
        'id',
      );
    const removed = await sql(tem, `delete from segment_membership where segment_id = $1 returning id`, [
      segment.id,
    ]);
    segment.status = 'archived';
    recordEvent(tem, {
      type: 'segment.archived',
      workspaceId,
      subject: segment.id,
      payload: { segmentId: segment.id, segmentKey: segment.key, members: removed.length },
    });
    await tem.flush();
    return segment;
  });
}

export function listSegments(
  em: EntityManager,
  filter: { status?: SegmentStatus | null },
  page: Page,
): Promise<SegmentEntity[]> {
  return em.find(Segment, filter.status ? { status: filter.status } : { status: { $ne: 'archived' } }, {
    orderBy: { name: 'asc', id: 'asc' },
    limit: page.limit,
    offset: page.offset,
  });
}

export function memberCount(em: EntityManager, segmentId: string): Promise<number> {
  return em.count(SegmentMembership, { segment: segmentId });
}

/** Members, most recently entered first. */
export async function segmentMembers(
  em: EntityManager,
  segmentId: string,
  page: Page,
): Promise<ProfileEntity[]> {
  const memberships = await em.find(
    SegmentMembership,
    { segment: segmentId },
    {
      orderBy: { enteredAt: 'desc', profile: 'asc' },
      limit: page.limit,
      offset: page.offset,
      populate: ['profile'],
    },
  );
  return memberships.map((m) => m.profile as unknown as ProfileEntity);
}

export async function segmentsOfProfile(em: EntityManager, profileId: string): Promise<SegmentEntity[]> {
  const memberships = await em.find(
    SegmentMembership,
    { profile: profileId },
    { populate: ['segment'], orderBy: { enteredAt: 'asc' } },
  );
  return memberships.map((m) => m.segment as unknown as SegmentEntity);
}

export interface SegmentPreview {
  /** Profiles that match; extrapolated from the scanned ones when `exact` is false. */
  count: number;
  exact: boolean;
  scannedProfiles: number;
  totalProfiles: number;
  sample: ProfileEntity[];
}

/** How many profiles a preview evaluates before it extrapolates. */
export const PREVIEW_SCAN_LIMIT = 50_000;
const PREVIEW_PAGE = 1000;

/**
 * Who a condition would select, without saving or writing anything: the count and the first
 * `sampleSize` matching profiles (most recently seen first among the scanned). Workspaces larger
 * than PREVIEW_SCAN_LIMIT profiles get a count extrapolated from the most recently seen ones.
 */
export async function previewSegment(
  em: EntityManager,
  workspaceId: string,
  operators: Operators,
  raw: unknown,
  sampleSize: number,
): Promise<SegmentPreview> {
  if (!Number.isInteger(sampleSize) || sampleSize < 0 || sampleSize > 100)
    throw new ValidationError('sampleSize must be between 0 and 100', 'sampleSize');
  const condition = await checkCondition(em, workspaceId, operators, raw, null);
  const [total] = await sql<{ n: string }>(em, `select count(*) as n from profile where workspace_id = $1`, [
    workspaceId,
  ]);
  const totalProfiles = Number(total?.n ?? 0);
  const now = new Date();
  let scanned = 0;
  let matched = 0;
  const sampleIds: string[] = [];
  // The cursor keeps last_seen_at as text: a JS Date would drop its microseconds.
  let cursor: { seen: string; id: string } | null = null;
  while (scanned < PREVIEW_SCAN_LIMIT) {
    const page: { id: string; seen: string }[] = await sql<{ id: string; seen: string }>(
      em,
      `select id::text as id, last_seen_at::text as seen from profile where workspace_id = $1
         and ($2::timestamptz is null or (last_seen_at, id) < ($2::timestamptz, $3::uuid))
       order by last_seen_at desc, id desc limit ${PREVIEW_PAGE}`,
      [workspaceId, cursor?.seen ?? null, cursor?.id ?? null],
    );
    if (page.length === 0) break;
    const ids = page.map((p) => p.id);
    const matching = new Set(await matchCondition(em, workspaceId, ids, condition, operators, now));
    matched += matching.size;
    for (const id of ids) if (matching.has(id) && sampleIds.length < sampleSize) sampleIds.push(id);
    scanned += page.length;
    const last = page[page.length - 1] as { id: string; seen: string };
    cursor = { seen: last.seen, id: last.id };
  }
  const exact = scanned >= totalProfiles;
  const profiles = sampleIds.length ? await em.find(Profile, { id: { $in: sampleIds } }) : [];
  const byId = new Map(profiles.map((p) => [p.id, p]));
  return {
    count: exact || scanned === 0 ? matched : Math.round((matched * totalProfiles) / scanned),
    exact,
    scannedProfiles: scanned,
    totalProfiles,
    sample: sampleIds.flatMap((id) => byId.get(id) ?? []),
  };
}
