import type { EntityManager, FilterQuery } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import { NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import { recordEvent } from '../../../kernel/events.ts';
import {
  Event,
  type EventEntity,
  type EventType,
  Identity,
  Profile,
  type ProfileEntity,
} from '../entities.ts';
import { type IdentityKey, normaliseIdentity } from './identities.ts';
import { identityRulesOf } from './identity-rules.ts';
import { type MergeOutcome, mergeLimitBreach, mergeProfiles } from './merge.ts';
import { isTraitName, traitSchemaOf, validateTraits } from './traits.ts';

export interface ProfileFilter {
  /** Profiles whose trait `key` equals `equals` (JSON equality). */
  traits?: { key: string; equals?: unknown }[] | null;
  /** Profiles that are members of the segment with this key. */
  segmentKey?: string | null;
  identity?: { type: IdentityKey['type']; value: string } | null;
}

export interface Page {
  limit: number;
  offset: number;
}

export async function findProfiles(
  em: EntityManager,
  filter: ProfileFilter,
  page: Page,
): Promise<ProfileEntity[]> {
  const where: FilterQuery<ProfileEntity>[] = [];
  for (const [i, t] of (filter.traits ?? []).entries()) {
    if (!isTraitName(t.key)) throw new ValidationError('not a trait name', `filter.traits[${i}].key`);
    where.push({ traits: { [t.key]: t.equals } } as FilterQuery<ProfileEntity>);
  }
  if (filter.identity) {
    const key = normaliseIdentity(filter.identity.type, filter.identity.value, 'filter.identity.value');
    const owner = await em.findOne(Identity, { type: key.type, value: key.value });
    if (!owner) return [];
    where.push({ id: owner.profile.id });
  }
  if (filter.segmentKey) where.push({ memberships: { segment: { key: filter.segmentKey } } });
  return em.find(Profile, where.length ? { $and: where } : {}, {
    orderBy: { lastSeenAt: 'desc', id: 'asc' },
    limit: page.limit,
    offset: page.offset,
  });
}

export async function getProfile(em: EntityManager, id: string): Promise<ProfileEntity> {
  const profile = await em.findOne(Profile, { id });
  if (!profile) throw new NotFoundError('Profile');
  return profile;
}

/** A profile's events, newest first: one range of the (workspace, profile, timestamp) index. */
export function profileTimeline(
  em: EntityManager,
  profileId: string,
  page: Page,
  types?: EventType[] | null,
): Promise<EventEntity[]> {
  return em.find(
    Event,
    { profile: profileId, ...(types?.length ? { type: { $in: types } } : {}) },
    { orderBy: { timestamp: 'desc', id: 'desc' }, limit: page.limit, offset: page.offset },
  );
}

/** Sets (or, with null, removes) traits, checked against the workspace's trait schema. */
export async function setProfileTraits(
  em: EntityManager,
  workspaceId: string,
  profileId: string,
  traits: Record<string, unknown>,
): Promise<ProfileEntity> {
  // One transaction: the change and its event commit together (the event is flushed at its end).
  return em.transactional(async (tem) => {
    await applyTraits(tem, workspaceId, profileId, traits);
    // Re-read: the statement wrote past the entity this request may have loaded.
    const profile = await tem.findOne(Profile, { id: profileId }, { refresh: true });
    if (!profile) throw new NotFoundError('Profile');
    return profile;
  });
}

/**
 * Sets (or, with null, removes) traits in one statement that locks the row, and records
 * `profile.traits-changed` with the keys that really changed; returns them. The event is an ORM
 * entity: the caller's transaction flushes it. For hot paths (the journey engine) that need no
 * entity back.
 */
export async function applyTraits(
  em: EntityManager,
  workspaceId: string,
  profileId: string,
  traits: Record<string, unknown>,
): Promise<string[]> {
  const checked = validateTraits(traits, await traitSchemaOf(em, workspaceId));
  const set = Object.fromEntries(Object.entries(checked).filter(([, value]) => value !== null));
  const removed = Object.keys(checked).filter((key) => checked[key] === null);
  const [row] = await sql<{ changed: string[] }>(
    em,
    `with old as (select id, traits from profile where id = $1 and workspace_id = $2 for update),
     changed as (
       select k from old, jsonb_each($3::jsonb) as e(k, v) where old.traits -> k is distinct from v
       union all
       select k from old, unnest($4::text[]) as k where old.traits ? k),
     updated as (
       update profile p set traits = (old.traits || $3::jsonb) - $4::text[], updated_at = now()
       from old where p.id = old.id and exists (select 1 from changed) returning p.id)
     select coalesce((select array_agg(k) from changed), '{}') as changed from old`,
    [profileId, workspaceId, JSON.stringify(set), removed],
  );
  if (!row) throw new NotFoundError('Profile');
  if (row.changed.length) {
    recordEvent(em, {
      type: 'profile.traits-changed',
      workspaceId,
      subject: profileId,
      payload: { profileId, changed: row.changed },
    });
  }
  return row.changed;
}

export interface MergePreview {
  allowed: boolean;
  reason: string;
  identities: number;
  events: number;
}

/** What a manual merge would do, without doing it. */
export async function previewMerge(
  em: EntityManager,
  workspaceId: string,
  survivorId: string,
  mergedId: string,
): Promise<MergePreview> {
  await getProfile(em, survivorId);
  await getProfile(em, mergedId);
  if (survivorId === mergedId)
    throw new ValidationError('a profile cannot be merged into itself', 'mergedId');
  const breach = await mergeLimitBreach(em, [survivorId, mergedId], await identityRulesOf(em, workspaceId));
  const identities = await em.count(Identity, { profile: mergedId });
  const events = await em.count(Event, { profile: mergedId });
  return {
    allowed: !breach,
    reason: breach
      ? `refused: together they would hold ${breach.count} ${breach.type} identities (at most ${breach.max})`
      : `allowed: ${identities} identities and ${events} events would move`,
    identities,
    events,
  };
}

/** An agent's or admin's merge: the same rules as automatic merges, the actor in the reason. */
export async function mergeProfilesManually(
  em: EntityManager,
  workspaceId: string,
  input: { survivorId: string; mergedId: string; actor: string; note?: string | null },
): Promise<MergeOutcome> {
  return em.transactional(async (tem) => {
    const preview = await previewMerge(tem, workspaceId, input.survivorId, input.mergedId);
    if (!preview.allowed) throw new ValidationError(preview.reason, 'mergedId');
    const note = input.note?.trim() ? `: ${input.note.trim().slice(0, 500)}` : '';
    return mergeProfiles(tem, workspaceId, {
      survivorId: input.survivorId,
      mergedId: input.mergedId,
      reason: `merged by ${input.actor} through the API${note}`,
      details: { actor: input.actor },
    });
  });
}
