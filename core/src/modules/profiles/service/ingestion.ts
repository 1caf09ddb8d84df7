import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { WORKSPACE_FILTER } from '../../../db/orm.ts';
import { transactionalWithRetry } from '../../../db/retry.ts';
import { sql } from '../../../db/sql.ts';
import { recordEvent } from '../../../kernel/events.ts';
import type { EventType, IdentityType, TraitKind } from '../entities.ts';
import { defaultIdentityRules, type IdentityRuleSet } from './identity-rules.ts';
import { resolveProfiles, type Sighting } from './resolution.ts';
import type { TrackingCall } from './tracking-calls.ts';
import { validateTraits } from './traits.ts';

/**
 * The one domain event per ingestion transaction (one request, or several written together)
 * that segments and computed traits listen to: which profiles got new events, and of which
 * types and names. Ids are capped so a large batch keeps the outbox row small; `profileIds`
 * is never capped.
 */
export const EVENTS_INGESTED = 'profile.events-ingested';
export interface EventsIngestedPayload {
  profileIds: string[];
  eventCount: number;
  eventTypes: EventType[];
  /** Distinct `track` event names. */
  eventNames: string[];
  /** Ids of the stored events, at most MAX_EVENT_IDS of them. */
  eventIds: string[];
  eventIdsTruncated: boolean;
}
const MAX_EVENT_IDS = 1000;

export interface IngestionOutcome {
  /** Calls stored now; the others repeated a messageId stored before or earlier in the list. */
  stored: number;
  duplicates: number;
  profileIds: string[];
}

/**
 * Stores calls in one transaction: identities resolved, events written, identify traits
 * merged into profiles, domain events in the outbox. Returns after commit, so the caller
 * acknowledges only what is durable. A bad trait rolls everything back.
 */
export async function ingestCalls(
  orm: MikroORM,
  workspaceId: string,
  calls: TrackingCall[],
): Promise<IngestionOutcome> {
  return transactionalWithRetry(orm.em, (tem) => ingestInTransaction(tem, workspaceId, calls), {
    prepare: (em) => em.setFilterParams(WORKSPACE_FILTER, { id: workspaceId }),
  });
}

async function ingestInTransaction(
  em: EntityManager,
  workspaceId: string,
  calls: TrackingCall[],
): Promise<IngestionOutcome> {
  const { schema, rules } = await workspaceRulesOf(em, workspaceId);
  for (const call of calls) {
    if (call.type === 'identify') call.traits = validateTraits(call.traits, schema, `${call.at}traits`);
  }
  // Repeats within the request go here (first wins); messageIds stored before are skipped by
  // the insert itself, and only the calls it stored change traits or count as new.
  const firstOf = new Map<string, TrackingCall>();
  for (const call of calls) if (!firstOf.has(call.messageId)) firstOf.set(call.messageId, call);
  const fresh = [...firstOf.values()];

  const resolution = await resolveProfiles(em, workspaceId, await sightingsOf(em, workspaceId, fresh), rules);
  const profileOf = resolution.profileIds;
  const stored = await insertEvents(em, workspaceId, fresh, profileOf);
  const storedIndexes = new Set(stored.map((row) => row.index));
  await mergeIdentifyTraits(
    em,
    workspaceId,
    fresh.flatMap((call, i) =>
      storedIndexes.has(i) && call.type === 'identify' ? [{ profileId: profileOf[i] as string, call }] : [],
    ),
  );

  const profileIds = [...new Set(stored.map((row) => profileOf[row.index] as string))];
  const storedCalls = stored.map((row) => fresh[row.index] as TrackingCall);
  if (stored.length) {
    const payload: EventsIngestedPayload = {
      profileIds,
      eventCount: stored.length,
      eventTypes: [...new Set(storedCalls.map((c) => c.type))],
      eventNames: [...new Set(storedCalls.flatMap((c) => (c.type === 'track' && c.name ? [c.name] : [])))],
      eventIds: stored.slice(0, MAX_EVENT_IDS).map((row) => row.id),
      eventIdsTruncated: stored.length > MAX_EVENT_IDS,
    };
    recordEvent(em, { type: EVENTS_INGESTED, workspaceId, payload: { ...payload } });
  }
  return {
    stored: stored.length,
    duplicates: calls.length - stored.length,
    profileIds,
  };
}

/**
 * The workspace's trait schema and identity rules in one round trip (the same answers as
 * `traitSchemaOf` and `identityRulesOf`): ingestion runs this on every request.
 */
async function workspaceRulesOf(
  em: EntityManager,
  workspaceId: string,
): Promise<{ schema: Map<string, TraitKind>; rules: IdentityRuleSet }> {
  const [row] = await sql<{
    traits: { key: string; kind: TraitKind }[] | null;
    rules: { type: IdentityType; priority: number; maxPerProfile: number }[] | null;
  }>(
    em,
    `select
       (select json_agg(json_build_object('key', key, 'kind', kind)) from trait_definition where workspace_id = $1) as traits,
       (select json_agg(json_build_object('type', type, 'priority', priority, 'maxPerProfile', max_per_profile))
          from identity_rule where workspace_id = $1) as rules`,
    [workspaceId],
  );
  const rules: IdentityRuleSet = {
    priority: { ...defaultIdentityRules.priority },
    maxPerProfile: { ...defaultIdentityRules.maxPerProfile },
  };
  for (const rule of row?.rules ?? []) {
    rules.priority[rule.type] = rule.priority;
    rules.maxPerProfile[rule.type] = rule.maxPerProfile;
  }
  return { schema: new Map((row?.traits ?? []).map((t) => [t.key, t.kind])), rules };
}

/**
 * Alias links `previousId` to `userId`. The previous id is a user id when the graph knows it
 * as one, else it is taken for the anonymous id it usually is (Segment's own reading).
 */
async function sightingsOf(
  em: EntityManager,
  workspaceId: string,
  calls: TrackingCall[],
): Promise<Sighting[]> {
  const previousIds = calls.flatMap((c) => (c.previousId ? [c.previousId] : []));
  const knownUserIds = new Set<string>();
  if (previousIds.length) {
    const rows = await sql<{ value: string }>(
      em,
      `select value from identity where workspace_id = $1 and type = 'user_id' and value = any($2::text[])`,
      [workspaceId, previousIds],
    );
    for (const row of rows) knownUserIds.add(row.value);
  }
  return calls.map((call) => ({
    keys: call.previousId
      ? [
          ...call.keys,
          {
            type: knownUserIds.has(call.previousId) ? ('user_id' as const) : ('anonymous_id' as const),
            value: call.previousId,
          },
        ]
      : call.keys,
    at: call.timestamp,
    source: `message ${call.messageId} (${call.type})`,
  }));
}

/**
 * One multi-row insert through jsonb_to_recordset: PostgreSQL parses the rows once (as jsonb,
 * so the JSON columns are not parsed again; ~20 % faster than json), far cheaper than an
 * entity per event. Rows go in messageId order so that two requests sharing
 * messageIds wait on each other instead of deadlocking; a messageId stored meanwhile is skipped.
 */
async function insertEvents(
  em: EntityManager,
  workspaceId: string,
  calls: TrackingCall[],
  profileOf: string[],
): Promise<{ id: string; index: number }[]> {
  const rows = calls
    .map((c, index) => ({
      profile_id: profileOf[index],
      message_id: c.messageId,
      type: c.type,
      name: c.name,
      user_id: c.userId,
      anonymous_id: c.anonymousId,
      properties: c.properties,
      traits: c.traits,
      context: c.context,
      channel: c.channel,
      timestamp: c.timestamp,
      sent_at: c.sentAt,
      original_timestamp: c.originalTimestamp,
      received_at: c.receivedAt,
    }))
    .sort((a, b) => (a.message_id < b.message_id ? -1 : a.message_id > b.message_id ? 1 : 0));
  const inserted = await sql<{ id: string; message_id: string }>(
    em,
    `insert into event (id, workspace_id, profile_id, message_id, type, name, user_id, anonymous_id,
       properties, traits, context, channel, timestamp, sent_at, original_timestamp, received_at)
     select gen_random_uuid(), $1, profile_id, message_id, type, name, user_id, anonymous_id,
       properties, traits, context, channel, timestamp, sent_at, original_timestamp, received_at
     from jsonb_to_recordset($2::jsonb) as x(profile_id uuid, message_id text, type text, name text,
       user_id text, anonymous_id text, properties jsonb, traits jsonb, context jsonb, channel text,
       timestamp timestamptz, sent_at timestamptz, original_timestamp timestamptz, received_at timestamptz)
     on conflict (workspace_id, message_id) do nothing
     returning id, message_id`,
    [workspaceId, JSON.stringify(rows)],
  );
  const indexOf = new Map(calls.map((c, i) => [c.messageId, i]));
  return inserted.map((row) => ({ id: row.id, index: indexOf.get(row.message_id) as number }));
}

/**
 * Merges identify traits into profiles, later calls over earlier ones; a null removes a trait.
 * One statement reads, merges and writes (the profile rows are already locked by resolution);
 * one `profile.traits-changed` per profile whose traits really changed, naming the keys.
 */
async function mergeIdentifyTraits(
  em: EntityManager,
  workspaceId: string,
  updates: { profileId: string; call: TrackingCall }[],
): Promise<void> {
  const patches = new Map<string, Record<string, unknown>>();
  for (const { profileId, call } of updates) {
    if (Object.keys(call.traits).length === 0) continue;
    patches.set(profileId, { ...patches.get(profileId), ...call.traits });
  }
  if (patches.size === 0) return;
  const changed = await sql<{ id: string; changed: string[] }>(
    em,
    `with patch as (
       select x.id, x.patch, p.traits as old from jsonb_to_recordset($2::jsonb) as x(id uuid, patch jsonb)
       join profile p on p.id = x.id and p.workspace_id = $1),
     merged as (
       select id,
         (old || coalesce((select jsonb_object_agg(key, value) from jsonb_each(patch) where value <> 'null'), '{}'))
           - array(select key from jsonb_each(patch) where value = 'null') as traits,
         array(select key from jsonb_each(patch) e
           where old -> e.key is distinct from nullif(e.value, 'null'::jsonb)) as changed
       from patch)
     update profile p set traits = merged.traits, updated_at = now()
     from merged where p.id = merged.id and cardinality(merged.changed) > 0
     returning p.id, merged.changed`,
    [workspaceId, JSON.stringify([...patches].map(([id, patch]) => ({ id, patch })))],
  );
  for (const { id, changed: keys } of changed) {
    recordEvent(em, {
      type: 'profile.traits-changed',
      workspaceId,
      subject: id,
      payload: { profileId: id, changed: keys },
    });
  }
}
