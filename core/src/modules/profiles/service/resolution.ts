import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import { recordEvent } from '../../../kernel/events.ts';
import type { IdentityType } from '../entities.ts';
import { type IdentityKey, maskIdentity } from './identities.ts';
import type { IdentityRuleSet } from './identity-rules.ts';
import { type MergeOutcome, mergeProfiles } from './merge.ts';

/** What one message says about who it is from. */
export interface Sighting {
  keys: IdentityKey[];
  /** When the message says it happened; first/last seen follow it. */
  at: Date;
  /** Shown in merge explanations, e.g. "message 3f2a… (identify)". */
  source: string;
}

export interface RefusedMerge {
  profileIds: string[];
  reason: string;
}

export interface Resolution {
  /** The profile each sighting belongs to, in input order. */
  profileIds: string[];
  createdProfileIds: string[];
  merges: MergeOutcome[];
  refusedMerges: RefusedMerge[];
}

const keyOf = (k: IdentityKey) => `${k.type}\u0000${k.value}`;

/**
 * Identity resolution for a batch, in the caller's transaction. Every identity a sighting
 * carries ends up on one profile: unknown ones join the profile the known ones point at (up
 * to the per-type limit), none known makes a new profile, and identities of two profiles
 * merge them, unless the merged profile would break a limit; then they stay apart and the
 * refusal says why. Advisory locks on the identities serialise concurrent batches that
 * share an identity, so two requests can never create two profiles for one person.
 */
export async function resolveProfiles(
  em: EntityManager,
  workspaceId: string,
  sightings: Sighting[],
  rules: IdentityRuleSet,
): Promise<Resolution> {
  const allKeys = new Map<string, IdentityKey>();
  for (const s of sightings) for (const k of s.keys) allKeys.set(keyOf(k), k);
  const keys = [...allKeys.values()];
  await sql(
    em,
    `select pg_advisory_xact_lock(h) from (
       select distinct hashtextextended($1 || chr(31) || t || chr(31) || v, 0) as h
       from unnest($2::text[], $3::text[]) as x(t, v) order by 1) locks`,
    [workspaceId, keys.map((k) => k.type), keys.map((k) => k.value)],
  );

  const owner = new Map<string, string>();
  for (const row of await sql<{ type: string; value: string; profile_id: string }>(
    em,
    `select i.type, i.value, i.profile_id from identity i
     join unnest($2::text[], $3::text[]) as x(t, v) on i.type = x.t and i.value = x.v
     where i.workspace_id = $1`,
    [workspaceId, keys.map((k) => k.type), keys.map((k) => k.value)],
  )) {
    owner.set(`${row.type}\u0000${row.value}`, row.profile_id);
  }

  const counts = new Map<string, Record<string, number>>();
  const knownProfiles = [...new Set(owner.values())];
  if (knownProfiles.length) {
    for (const row of await sql<{ profile_id: string; type: string; count: string }>(
      em,
      `select profile_id, type, count(*) as count from identity where profile_id = any($1::uuid[]) group by 1, 2`,
      [knownProfiles],
    )) {
      const c = counts.get(row.profile_id) ?? {};
      c[row.type] = Number(row.count);
      counts.set(row.profile_id, c);
    }
  }

  const pending = new Pending();
  const result: Resolution = { profileIds: [], createdProfileIds: [], merges: [], refusedMerges: [] };
  const seen = new Map<string, { first: Date; last: Date }>();

  for (const sighting of sightings) {
    const profiles = [
      ...new Set(sighting.keys.map((k) => owner.get(keyOf(k))).filter((p): p is string => !!p)),
    ];
    let profileId: string;
    if (profiles.length === 0) {
      profileId = crypto.randomUUID();
      pending.profiles.set(profileId, sighting.at);
      counts.set(profileId, {});
      result.createdProfileIds.push(profileId);
    } else {
      profileId = survivorOf(profiles, sighting.keys, owner, rules);
      for (const other of profiles.filter((p) => p !== profileId)) {
        const breach = combinedBreach(counts.get(profileId) ?? {}, counts.get(other) ?? {}, rules);
        const linking = sighting.keys.filter((k) => owner.get(keyOf(k)) === other).map(describe);
        const holding = sighting.keys.filter((k) => owner.get(keyOf(k)) === profileId).map(describe);
        if (breach) {
          result.refusedMerges.push({
            profileIds: [profileId, other],
            reason: `not merged: ${sighting.source} carried ${holding.join(', ')} of one profile and ${linking.join(', ')} of another, but together they would hold ${breach.count} ${breach.type} identities (at most ${breach.max})`,
          });
          continue;
        }
        await pending.flush(em, workspaceId);
        const merge = await mergeProfiles(em, workspaceId, {
          survivorId: profileId,
          mergedId: other,
          reason: `merged because ${sighting.source} carried ${holding.join(', ')} and ${linking.join(', ')}, which belonged to two profiles`,
          details: { source: sighting.source, survivorKeys: holding, mergedKeys: linking },
        });
        result.merges.push(merge);
        for (const [key, p] of owner) if (p === other) owner.set(key, profileId);
        counts.set(profileId, addCounts(counts.get(profileId) ?? {}, counts.get(other) ?? {}));
        counts.delete(other);
        result.profileIds = result.profileIds.map((p) => (p === other ? profileId : p));
        const moved = seen.get(other);
        if (moved) {
          seen.delete(other);
          seen.set(profileId, widen(seen.get(profileId), moved.first, moved.last));
        }
      }
    }
    // Attach the sighting's unknown identities, within the per-type limit.
    const have = counts.get(profileId) ?? {};
    for (const key of sighting.keys) {
      if (owner.has(keyOf(key))) continue;
      if ((have[key.type] ?? 0) >= rules.maxPerProfile[key.type]) continue;
      owner.set(keyOf(key), profileId);
      have[key.type] = (have[key.type] ?? 0) + 1;
      pending.identities.push({ profileId, key });
    }
    counts.set(profileId, have);
    seen.set(profileId, widen(seen.get(profileId), sighting.at, sighting.at));
    result.profileIds.push(profileId);
  }
  await pending.flush(em, workspaceId);
  await touchProfiles(em, seen);
  const mergedAway = new Set(result.merges.map((m) => m.mergedProfileId));
  result.createdProfileIds = result.createdProfileIds.filter((id) => !mergedAway.has(id));
  for (const id of result.createdProfileIds) {
    recordEvent(em, { type: 'profile.created', workspaceId, subject: id, payload: { profileId: id } });
  }
  return result;
}

/** The profile holding the strongest identity the sighting carries; the oldest on a tie. */
function survivorOf(
  profiles: string[],
  keys: IdentityKey[],
  owner: Map<string, string>,
  rules: IdentityRuleSet,
): string {
  let best = profiles[0] as string;
  let bestRank = Number.POSITIVE_INFINITY;
  for (const key of keys) {
    const p = owner.get(keyOf(key));
    if (p && rules.priority[key.type] < bestRank) {
      best = p;
      bestRank = rules.priority[key.type];
    }
  }
  return best;
}

function combinedBreach(a: Record<string, number>, b: Record<string, number>, rules: IdentityRuleSet) {
  for (const type of Object.keys(rules.maxPerProfile) as IdentityType[]) {
    const count = (a[type] ?? 0) + (b[type] ?? 0);
    if (count > rules.maxPerProfile[type]) return { type, count, max: rules.maxPerProfile[type] };
  }
  return null;
}

function addCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const sum = { ...a };
  for (const [type, n] of Object.entries(b)) sum[type] = (sum[type] ?? 0) + n;
  return sum;
}

function widen(span: { first: Date; last: Date } | undefined, first: Date, last: Date) {
  return {
    first: span && span.first < first ? span.first : first,
    last: span && span.last > last ? span.last : last,
  };
}

function describe(key: IdentityKey): string {
  return `${key.type} ${maskIdentity(key)}`;
}

/** New profiles and identities, written in bulk before anything reads them back. */
class Pending {
  profiles = new Map<string, Date>();
  identities: { profileId: string; key: IdentityKey }[] = [];

  async flush(em: EntityManager, workspaceId: string): Promise<void> {
    if (this.profiles.size) {
      const ids = [...this.profiles.keys()];
      await sql(
        em,
        `insert into profile (id, workspace_id, traits, computed_traits, first_seen_at, last_seen_at, created_at, updated_at)
         select id, $1, '{}', '{}', at, at, now(), now() from unnest($2::uuid[], $3::timestamptz[]) as x(id, at)`,
        [workspaceId, ids, ids.map((id) => this.profiles.get(id))],
      );
      this.profiles.clear();
    }
    if (this.identities.length) {
      await sql(
        em,
        `insert into identity (id, workspace_id, profile_id, type, value, created_at)
         select gen_random_uuid(), $1, p, t, v, now() from unnest($2::uuid[], $3::text[], $4::text[]) as x(p, t, v)`,
        [
          workspaceId,
          this.identities.map((i) => i.profileId),
          this.identities.map((i) => i.key.type),
          this.identities.map((i) => i.key.value),
        ],
      );
      this.identities = [];
    }
  }
}

/** First/last seen; a profile seen again within a minute is not rewritten (hot profiles, every batch). */
async function touchProfiles(
  em: EntityManager,
  seen: Map<string, { first: Date; last: Date }>,
): Promise<void> {
  if (!seen.size) return;
  const ids = [...seen.keys()];
  await sql(
    em,
    `update profile p set first_seen_at = least(p.first_seen_at, x.first), last_seen_at = greatest(p.last_seen_at, x.last), updated_at = now()
     from unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) as x(id, first, last)
     where p.id = x.id and (x.first < p.first_seen_at or x.last > p.last_seen_at + interval '1 minute')`,
    [ids, ids.map((id) => seen.get(id)?.first), ids.map((id) => seen.get(id)?.last)],
  );
}
