import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import { NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import { recordEvent } from '../../../kernel/events.ts';
import type { IdentityType } from '../entities.ts';
import type { IdentityRuleSet } from './identity-rules.ts';

export interface MergeOutcome {
  survivorId: string;
  mergedProfileId: string;
  mergeId: string;
  reason: string;
}

/** Identities per type the two profiles would hold together, and the first type over its limit. */
export async function mergeLimitBreach(
  em: EntityManager,
  profileIds: readonly string[],
  rules: IdentityRuleSet,
): Promise<{ type: IdentityType; count: number; max: number } | null> {
  const rows = await sql<{ type: IdentityType; count: string }>(
    em,
    `select type, count(*) as count from identity where profile_id = any($1::uuid[]) group by type`,
    [profileIds],
  );
  for (const row of rows) {
    const count = Number(row.count);
    const max = rules.maxPerProfile[row.type];
    if (count > max) return { type: row.type, count, max };
  }
  return null;
}

/**
 * Folds `mergedId` into `survivorId` in the caller's transaction: identities, events, consents
 * (the later decision per purpose wins), segment memberships and earlier merge records move;
 * traits combine (the more recently seen profile wins a conflict); a merge record says why;
 * `profile.merged` is emitted so plugins re-key their own rows.
 */
export async function mergeProfiles(
  em: EntityManager,
  workspaceId: string,
  input: { survivorId: string; mergedId: string; reason: string; details?: Record<string, unknown> },
): Promise<MergeOutcome> {
  const { survivorId, mergedId } = input;
  if (survivorId === mergedId)
    throw new ValidationError('a profile cannot be merged into itself', 'mergedId');
  // Lock both rows in id order, so that two merges of the same pair cannot deadlock.
  const locked = await sql<{ id: string; traits: Record<string, unknown>; last_seen_at: Date }>(
    em,
    `select id, traits, last_seen_at from profile where workspace_id = $1 and id = any($2::uuid[]) order by id for update`,
    [workspaceId, [survivorId, mergedId]],
  );
  const survivor = locked.find((p) => p.id === survivorId);
  const merged = locked.find((p) => p.id === mergedId);
  if (!survivor) throw new NotFoundError('Profile');
  if (!merged) throw new NotFoundError('Profile');

  const newerFirst = merged.last_seen_at > survivor.last_seen_at;
  const traits = newerFirst
    ? { ...survivor.traits, ...merged.traits }
    : { ...merged.traits, ...survivor.traits };
  await sql(
    em,
    `update profile s set traits = $3::jsonb,
       first_seen_at = least(s.first_seen_at, m.first_seen_at),
       last_seen_at = greatest(s.last_seen_at, m.last_seen_at),
       updated_at = now()
     from profile m where s.id = $1 and m.id = $2`,
    [survivorId, mergedId, JSON.stringify(traits)],
  );
  await sql(em, `update identity set profile_id = $1 where profile_id = $2 and workspace_id = $3`, [
    survivorId,
    mergedId,
    workspaceId,
  ]);
  await sql(em, `update event set profile_id = $1 where profile_id = $2 and workspace_id = $3`, [
    survivorId,
    mergedId,
    workspaceId,
  ]);
  // Consent: per purpose the later decision stands; history moves whole.
  await sql(
    em,
    `delete from consent c using consent o
     where ((c.profile_id = $2 and o.profile_id = $1) or (c.profile_id = $1 and o.profile_id = $2))
       and c.purpose = o.purpose
       and (c.decided_at < o.decided_at or (c.decided_at = o.decided_at and c.profile_id = $2))`,
    [survivorId, mergedId],
  );
  await sql(em, `update consent set profile_id = $1 where profile_id = $2`, [survivorId, mergedId]);
  await sql(em, `update consent_change set profile_id = $1 where profile_id = $2 and workspace_id = $3`, [
    survivorId,
    mergedId,
    workspaceId,
  ]);
  await sql(
    em,
    `delete from segment_membership m using segment_membership s
     where m.profile_id = $2 and s.profile_id = $1 and s.segment_id = m.segment_id`,
    [survivorId, mergedId],
  );
  // The survivor enters the segments only the merged profile was in: say so, as any entry is said.
  const entered = await sql<{ segment_id: string; key: string }>(
    em,
    `update segment_membership m set profile_id = $1 from segment s
     where m.profile_id = $2 and m.workspace_id = $3 and s.id = m.segment_id
     returning m.segment_id, s.key`,
    [survivorId, mergedId, workspaceId],
  );
  for (const row of entered) {
    recordEvent(em, {
      type: 'segment.entered',
      workspaceId,
      subject: survivorId,
      payload: { segmentId: row.segment_id, segmentKey: row.key, profileId: survivorId },
    });
  }
  await sql(em, `update profile_merge set survivor_id = $1 where survivor_id = $2`, [survivorId, mergedId]);
  await sql(em, `delete from profile where id = $1`, [mergedId]);

  const mergeId = crypto.randomUUID();
  await sql(
    em,
    `insert into profile_merge (id, workspace_id, survivor_id, merged_profile_id, reason, details, created_at)
     values ($1, $2, $3, $4, $5, $6::jsonb, now())`,
    [mergeId, workspaceId, survivorId, mergedId, input.reason, JSON.stringify(input.details ?? {})],
  );
  recordEvent(em, {
    type: 'profile.merged',
    workspaceId,
    subject: survivorId,
    payload: { survivorId, mergedProfileId: mergedId, mergeId, reason: input.reason },
  });
  return { survivorId, mergedProfileId: mergedId, mergeId, reason: input.reason };
}
