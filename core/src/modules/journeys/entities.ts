import { defineEntity, p } from '@mikro-orm/postgresql';
import { createdAtColumn, idColumn, updatedAtColumn } from '../../db/columns.ts';
import { belongsToWorkspace } from '../workspaces/entities.ts';
import type { JourneyDefinition } from './definition.ts';

export const journeyStatuses = ['draft', 'published', 'paused', 'archived'] as const;
export type JourneyStatus = (typeof journeyStatuses)[number];

/** A journey as marketers see it: a draft they edit and the published version that runs. */
export const Journey = defineEntity({
  name: 'Journey',
  tableName: 'journey',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    key: p.string().length(100),
    name: p.string().length(200),
    status: p.enum(journeyStatuses).default('draft'),
    /** The editable definition; validated on save only loosely (JSON), fully on publish. */
    draft: p.json<Record<string, unknown>>(),
    /** The version new enrollments join; null until the first publish. */
    publishedVersion: p.integer().nullable(),
    createdAt: createdAtColumn(),
    updatedAt: updatedAtColumn(),
  },
  uniques: [{ properties: ['workspace', 'key'] }],
});
export type JourneyEntity = InstanceType<typeof Journey.class>;

export const inFlightPolicies = ['keep', 'exit'] as const;
export type InFlightPolicy = (typeof inFlightPolicies)[number];

/** A published definition; immutable, so enrollments on it always know what comes next. */
export const JourneyVersion = defineEntity({
  name: 'JourneyVersion',
  tableName: 'journey_version',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    journey: () => p.manyToOne(Journey).mapToPk().deleteRule('cascade'),
    version: p.integer(),
    definition: p.json<JourneyDefinition>(),
    /** What publishing this version did to enrollments on earlier versions. */
    inFlightPolicy: p.enum(inFlightPolicies),
    publishedBy: p.string().length(200).nullable(),
    createdAt: createdAtColumn(),
  },
  uniques: [{ properties: ['journey', 'version'] }],
});
export type JourneyVersionEntity = InstanceType<typeof JourneyVersion.class>;

export const enrollmentStatuses = ['active', 'waiting', 'completed', 'exited', 'failed'] as const;
export type EnrollmentStatus = (typeof enrollmentStatuses)[number];

/**
 * One profile's way through one version. The engine claims due rows (`due_at <= now`) with
 * SKIP LOCKED and advances them in one transaction per batch, so each step takes effect once.
 */
export const Enrollment = defineEntity({
  name: 'Enrollment',
  tableName: 'journey_enrollment',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    journey: () => p.manyToOne(Journey).mapToPk().deleteRule('cascade'),
    version: p.integer(),
    /** No foreign key, as for conversations: merges re-key it, erasure deletes it. */
    profileId: p.uuid(),
    status: p.enum(enrollmentStatuses),
    node: p.string().length(50).nullable(),
    /** When the engine should look at it next; null when it only waits for an event. */
    dueAt: p.datetime().nullable(),
    /** The event a wait listens for, if any. */
    awaitingEvent: p.string().length(200).nullable(),
    /** `event` when the awaited event ended the wait (else its timer did). */
    wokenBy: p.string().length(20).nullable(),
    /** Failed attempts of the current step; reset when a step succeeds. */
    failures: p.integer().default(0),
    /** How many nodes it has visited: part of every step's idempotency key. */
    visits: p.integer().default(0),
    control: p.boolean().default(false),
    context: p.json<Record<string, unknown>>().default('{}'),
    enteredAt: p.datetime(),
    endedAt: p.datetime().nullable(),
    endReason: p.string().length(300).nullable(),
    goalAt: p.datetime().nullable(),
    updatedAt: updatedAtColumn(),
  },
  indexes: [
    { properties: ['journey', 'profileId'] },
    { properties: ['status', 'dueAt'] },
    { properties: ['workspace', 'profileId', 'awaitingEvent'] },
  ],
});
export type EnrollmentEntity = InstanceType<typeof Enrollment.class>;

/** What happened at each node for each enrollment: the ledger that analytics and audits read. */
export const JourneyStepRun = defineEntity({
  name: 'JourneyStepRun',
  tableName: 'journey_step_run',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    journey: () => p.manyToOne(Journey).mapToPk().deleteRule('cascade'),
    version: p.integer(),
    enrollment: () => p.manyToOne(Enrollment).mapToPk().deleteRule('cascade'),
    node: p.string().length(50),
    /** The enrollment's visit number: (enrollment, visit) is unique, so a step is never logged twice. */
    visit: p.integer(),
    stepType: p.string().length(100),
    outcome: p.string().length(100).nullable(),
    note: p.string().length(500).nullable(),
    createdAt: createdAtColumn(),
  },
  uniques: [{ properties: ['enrollment', 'visit'] }],
  indexes: [{ properties: ['journey', 'version', 'node'] }],
});
export type JourneyStepRunEntity = InstanceType<typeof JourneyStepRun.class>;

/** Per channel: how many journey sends a profile may get, and the local hours when none go out. */
export const ChannelPolicy = defineEntity({
  name: 'ChannelPolicy',
  tableName: 'journey_channel_policy',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    channel: p.string().length(50),
    maxPerDay: p.integer().nullable(),
    maxPerWeek: p.integer().nullable(),
    /** HH:MM in the profile's zone; the window may cross midnight. */
    quietStart: p.string().length(5).nullable(),
    quietEnd: p.string().length(5).nullable(),
    updatedAt: updatedAtColumn(),
  },
  uniques: [{ properties: ['workspace', 'channel'] }],
});
export type ChannelPolicyEntity = InstanceType<typeof ChannelPolicy.class>;
