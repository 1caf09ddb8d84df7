import { defineEntity, p } from '@mikro-orm/postgresql';
import { createdAtColumn, idColumn, updatedAtColumn } from '../../db/columns.ts';
import { belongsToWorkspace } from '../workspaces/entities.ts';

/** One customer: traits they told us, traits we compute, and when we saw them. */
export const Profile = defineEntity({
  name: 'Profile',
  tableName: 'profile',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    traits: p.json<Record<string, unknown>>().default('{}'),
    computedTraits: p.json<Record<string, unknown>>().default('{}'),
    firstSeenAt: p.datetime(),
    lastSeenAt: p.datetime(),
    createdAt: createdAtColumn(),
    updatedAt: updatedAtColumn(),
    memberships: () => p.oneToMany(SegmentMembership).mappedBy('profile'),
  },
  indexes: [{ properties: ['workspace', 'lastSeenAt'] }],
});
export type ProfileEntity = InstanceType<typeof Profile.class>;

export const identityTypes = ['anonymous_id', 'user_id', 'email', 'phone'] as const;
export type IdentityType = (typeof identityTypes)[number];

/** A key that points at one profile: normalised, and unique in its workspace. */
export const Identity = defineEntity({
  name: 'Identity',
  tableName: 'identity',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    profile: () => p.manyToOne(Profile).deleteRule('cascade'),
    type: p.enum(identityTypes),
    value: p.string().length(320),
    createdAt: createdAtColumn(),
  },
  uniques: [{ properties: ['workspace', 'type', 'value'] }],
  indexes: [{ properties: ['profile'] }],
});
export type IdentityEntity = InstanceType<typeof Identity.class>;

/**
 * How identities of a type take part in resolution: lower `priority` wins when identities
 * disagree, and a profile never holds more than `maxPerProfile` of the type, which is
 * what stops a shared device or a typo from merging strangers.
 */
export const IdentityRule = defineEntity({
  name: 'IdentityRule',
  tableName: 'identity_rule',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    type: p.enum(identityTypes),
    priority: p.integer(),
    maxPerProfile: p.integer(),
    updatedAt: updatedAtColumn(),
  },
  uniques: [{ properties: ['workspace', 'type'] }],
});
export type IdentityRuleEntity = InstanceType<typeof IdentityRule.class>;

export const eventTypes = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type EventType = (typeof eventTypes)[number];

/**
 * A Segment-spec event. Stored for volume: a profile's timeline reads one btree range
 * (profile, timestamp desc); time windows across a workspace use (workspace, timestamp).
 */
export const Event = defineEntity({
  name: 'Event',
  tableName: 'event',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    profile: () => p.manyToOne(Profile).deleteRule('cascade'),
    messageId: p.string().length(200),
    type: p.enum(eventTypes),
    /** The event name for track, the page or screen name, the group id: what the type names. */
    name: p.string().length(200).nullable(),
    userId: p.string().length(320).nullable(),
    anonymousId: p.string().length(320).nullable(),
    properties: p.json<Record<string, unknown>>().default('{}'),
    traits: p.json<Record<string, unknown>>().default('{}'),
    context: p.json<Record<string, unknown>>().default('{}'),
    channel: p.string().length(50).default('server'),
    /** When it happened, as the client says (Segment's `timestamp`, corrected for clock skew). */
    timestamp: p.datetime(),
    sentAt: p.datetime().nullable(),
    originalTimestamp: p.datetime().nullable(),
    receivedAt: p.datetime(),
  },
  uniques: [{ properties: ['workspace', 'messageId'] }],
  indexes: [
    {
      // Led by profile_id (ids are unique across workspaces): the timeline, merges and the
      // cascade check when a profile is deleted all read one range of it.
      name: 'event_timeline_idx',
      columns: [{ name: 'profile_id' }, { name: 'timestamp', sort: 'DESC' }],
    },
    { name: 'event_window_idx', properties: ['workspace', 'timestamp'] },
    { name: 'event_name_window_idx', properties: ['workspace', 'name', 'timestamp'] },
  ],
});
export type EventEntity = InstanceType<typeof Event.class>;

export const consentPurposes = [
  'marketing_email',
  'marketing_sms',
  'personalization',
  'analytics',
  'ai_memory',
] as const;
export type ConsentPurpose = (typeof consentPurposes)[number];

/** What a consent decision says; the current state and the history hold the same columns. */
const consentDecision = () => ({
  id: idColumn(),
  workspace: belongsToWorkspace,
  profile: () => p.manyToOne(Profile).deleteRule('cascade'),
  purpose: p.enum(consentPurposes),
  granted: p.boolean(),
  source: p.string().length(100),
  policyVersion: p.string().length(50),
  decidedAt: p.datetime(),
});

/** The current answer of one profile for one purpose. */
export const Consent = defineEntity({
  name: 'Consent',
  tableName: 'consent',
  properties: consentDecision(),
  uniques: [{ properties: ['profile', 'purpose'] }],
});
export type ConsentEntity = InstanceType<typeof Consent.class>;

/** Every consent decision ever made, for audit: the current state is the latest per purpose. */
export const ConsentChange = defineEntity({
  name: 'ConsentChange',
  tableName: 'consent_change',
  properties: consentDecision(),
  indexes: [{ properties: ['profile', 'decidedAt'] }],
});
export type ConsentChangeEntity = InstanceType<typeof ConsentChange.class>;

/** A record that two profiles became one, and why; it names the ids, never personal data. */
export const ProfileMerge = defineEntity({
  name: 'ProfileMerge',
  tableName: 'profile_merge',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    survivor: () => p.manyToOne(Profile).deleteRule('cascade'),
    /** The id of the profile that was folded into the survivor and no longer exists. */
    mergedProfileId: p.uuid(),
    /** "merged because …": the identity both shared, the rule applied, who asked. */
    reason: p.text(),
    details: p.json<Record<string, unknown>>().default('{}'),
    createdAt: createdAtColumn(),
  },
  indexes: [{ properties: ['survivor'] }],
});
export type ProfileMergeEntity = InstanceType<typeof ProfileMerge.class>;

/** A key for Segment-compatible ingestion; public-ish (it ships in web pages), so it can only write events. */
export const WriteKey = defineEntity({
  name: 'WriteKey',
  tableName: 'write_key',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    name: p.string().length(200),
    prefix: p.string().length(16),
    keyHash: p.string().length(64).unique().hidden(),
    createdAt: createdAtColumn(),
    revokedAt: p.datetime().nullable(),
  },
});
export type WriteKeyEntity = InstanceType<typeof WriteKey.class>;

/** The declared type of a trait; writes that break it are refused with the trait's name. */
export const traitKinds = ['string', 'number', 'boolean', 'datetime', 'object', 'array'] as const;
export type TraitKind = (typeof traitKinds)[number];

export const TraitDefinition = defineEntity({
  name: 'TraitDefinition',
  tableName: 'trait_definition',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    key: p.string().length(200),
    kind: p.enum(traitKinds),
    description: p.text().nullable(),
    createdAt: createdAtColumn(),
  },
  uniques: [{ properties: ['workspace', 'key'] }],
});
export type TraitDefinitionEntity = InstanceType<typeof TraitDefinition.class>;

export const computedTraitKinds = ['last_event', 'event_count', 'property_sum', 'engagement_score'] as const;
export type ComputedTraitKind = (typeof computedTraitKinds)[number];

/** A trait Atrium keeps current from events, e.g. orders in 90 days or lifetime value. */
export const ComputedTraitDefinition = defineEntity({
  name: 'ComputedTraitDefinition',
  tableName: 'computed_trait_definition',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    key: p.string().length(200),
    kind: p.enum(computedTraitKinds),
    /** Event name, property, window in days: what the kind needs, validated on write. */
    config: p.json<Record<string, unknown>>().default('{}'),
    createdAt: createdAtColumn(),
    updatedAt: updatedAtColumn(),
  },
  uniques: [{ properties: ['workspace', 'key'] }],
});
export type ComputedTraitDefinitionEntity = InstanceType<typeof ComputedTraitDefinition.class>;

export const segmentStatuses = ['active', 'computing', 'archived'] as const;
export type SegmentStatus = (typeof segmentStatuses)[number];

/** A group of profiles defined as data: a condition tree evaluated on every change. */
export const Segment = defineEntity({
  name: 'Segment',
  tableName: 'segment',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    key: p.string().length(100),
    name: p.string().length(200),
    description: p.text().nullable(),
    condition: p.json<Record<string, unknown>>(),
    status: p.enum(segmentStatuses).default('computing'),
    /** Progress of the last full recompute: profiles done of total. */
    computedProfiles: p.integer().default(0),
    totalProfiles: p.integer().default(0),
    lastComputedAt: p.datetime().nullable(),
    createdAt: createdAtColumn(),
    updatedAt: updatedAtColumn(),
  },
  uniques: [{ properties: ['workspace', 'key'] }],
});
export type SegmentEntity = InstanceType<typeof Segment.class>;

export const SegmentMembership = defineEntity({
  name: 'SegmentMembership',
  tableName: 'segment_membership',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    segment: () => p.manyToOne(Segment).deleteRule('cascade'),
    profile: () => p.manyToOne(Profile).deleteRule('cascade'),
    enteredAt: p.datetime(),
  },
  uniques: [{ properties: ['segment', 'profile'] }],
  indexes: [{ properties: ['profile'] }],
});
export type SegmentMembershipEntity = InstanceType<typeof SegmentMembership.class>;

/** How long events are kept; never below the 7 days ingestion dedupes `messageId` for. */
export const RetentionPolicy = defineEntity({
  name: 'RetentionPolicy',
  tableName: 'retention_policy',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    /** An event type (track, page, …) or '*' for every type without a policy of its own. */
    eventType: p.string().length(20),
    days: p.integer(),
    createdAt: createdAtColumn(),
    updatedAt: updatedAtColumn(),
  },
  uniques: [{ properties: ['workspace', 'eventType'] }],
});
export type RetentionPolicyEntity = InstanceType<typeof RetentionPolicy.class>;

/** The audit trail of an erasure: when, who asked, how much went; nothing that identifies the person. */
export const ErasureRecord = defineEntity({
  name: 'ErasureRecord',
  tableName: 'erasure_record',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    requestedBy: p.string().length(200),
    reason: p.text().nullable(),
    /** Rows removed per store, e.g. { event: 120, identity: 3 }. */
    removed: p.json<Record<string, number>>().default('{}'),
    erasedAt: p.datetime(),
  },
});
export type ErasureRecordEntity = InstanceType<typeof ErasureRecord.class>;
