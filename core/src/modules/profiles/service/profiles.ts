import type { EntityManager, FilterQuery } from '@mikro-orm/postgresql';
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
  const checked = validateTraits(traits, await traitSchemaOf(em, workspaceId));
  return em.transactional(async (tem) => {
    const profile = await getProfile(tem, profileId);
    const next = { ...profile.traits };
    const changed: string[] = [];
    for (const [key, value] of Object.entries(checked)) {
      if (JSON.stringify(next[key]) === JSON.stringify(value ?? undefined)) continue;
      if (value === null) delete next[key];
      else next[key] = value;
      changed.push(key);
    }
    if (changed.length) {
      profile.traits = next;
      recordEvent(tem, {
        type: 'profile.traits-changed',
        workspaceId,
        subject: profile.id,
        payload: { profileId: profile.id, changed },
      });
    }
    return profile;
  });
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
