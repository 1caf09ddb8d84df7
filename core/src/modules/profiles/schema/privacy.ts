import { resolveOffsetConnection } from '@pothos/plugin-relay';
import type { AtriumBuilder } from '../../../graphql/builder.ts';
import type { GraphQLContext } from '../../../graphql/context.ts';
import { enumValues, workspaceIdOf } from '../../../graphql/helpers.ts';
import type { CoreRefs } from '../../../graphql/refs.ts';
import { NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import type { ModuleRuntime } from '../../../kernel/plugin.ts';
import {
  type ConsentChangeEntity,
  consentPurposes,
  ErasureRecord,
  type ErasureRecordEntity,
  type RetentionPolicyEntity,
} from '../entities.ts';
import {
  ConsentRequiredError,
  type ConsentState,
  consentHistoryOf,
  consentOf,
  setConsent,
} from '../privacy/consent.ts';
import { eraseProfile } from '../privacy/erasure.ts';
import { exportProfile } from '../privacy/export.ts';
import {
  applyRetention,
  removeRetentionPolicy,
  retentionPoliciesOf,
  setRetentionPolicy,
} from '../privacy/retention.ts';
import { getProfile } from '../service/profiles.ts';

const actorOf = (ctx: GraphQLContext) => ctx.principal?.subject ?? 'unknown';

/**
 * Consent (agents read and record it), GDPR export and erasure (admins only) and event
 * retention (admins): thin translations of the privacy services.
 */
export function privacySchema(builder: AtriumBuilder, refs: CoreRefs, runtime: ModuleRuntime): void {
  const PurposeEnum = builder.enumType('ConsentPurpose', {
    description: 'What a consent is for; with no recorded answer every purpose counts as not granted',
    values: enumValues(consentPurposes),
  });

  // Any mutation that sends or uses data under a consent lists it among its errors.
  builder.objectType(ConsentRequiredError, {
    name: 'ConsentRequiredError',
    description: 'The person has not granted the consent this needs: nothing was sent or changed',
    interfaces: [refs.Error],
    isTypeOf: (value) => value instanceof ConsentRequiredError,
    fields: (t) => ({
      purpose: t.field({ type: PurposeEnum, description: 'The consent it needs', resolve: (e) => e.purpose }),
    }),
  });

  const ConsentRef = builder.objectRef<ConsentState>('Consent').implement({
    description: "A profile's effective answer for one purpose",
    fields: (t) => ({
      purpose: t.field({ type: PurposeEnum, resolve: (c) => c.purpose }),
      granted: t.exposeBoolean('granted'),
      recorded: t.exposeBoolean('recorded', {
        description: 'False when the person never answered and `granted` is the default (false)',
      }),
      source: t.exposeString('source', { nullable: true }),
      policyVersion: t.exposeString('policyVersion', { nullable: true }),
      decidedAt: t.expose('decidedAt', { type: 'DateTime', nullable: true }),
    }),
  });

  const ConsentChangeRef = builder.objectRef<ConsentChangeEntity>('ConsentChange').implement({
    description: 'One recorded consent decision',
    fields: (t) => ({
      purpose: t.field({ type: PurposeEnum, resolve: (c) => c.purpose }),
      granted: t.exposeBoolean('granted'),
      source: t.exposeString('source'),
      policyVersion: t.exposeString('policyVersion'),
      decidedAt: t.expose('decidedAt', { type: 'DateTime' }),
    }),
  });

  builder.objectFields(refs.Profile, (t) => ({
    consents: t.field({
      type: [ConsentRef],
      description: 'Every purpose, in a fixed order, with its effective answer',
      resolve: (p, _args, ctx) => consentOf(ctx.em, p.id),
    }),
    consentHistory: t.connection({
      type: ConsentChangeRef,
      description: 'Every consent decision, newest first',
      resolve: (p, args, ctx) =>
        resolveOffsetConnection({ args, defaultSize: 50, maxSize: 200 }, (page) =>
          consentHistoryOf(ctx.em, p.id, page),
        ),
    }),
  }));

  builder.relayMutationField(
    'setConsent',
    {
      inputFields: (t) => ({
        profileId: t.globalID({ required: true, for: refs.Profile }),
        purpose: t.field({ type: PurposeEnum, required: true }),
        granted: t.boolean({ required: true }),
        source: t.string({
          required: true,
          description: 'Where the person said so, e.g. "contact-centre call" or "web-form"',
        }),
        policyVersion: t.string({ required: true }),
        decidedAt: t.field({ type: 'DateTime', required: false, description: 'Defaults to now' }),
      }),
    },
    {
      description: "Records a customer's consent decision; journeys and channels check it before every send",
      authScopes: { agent: true },
      errors: { types: [ValidationError, NotFoundError] },
      resolve: async (_root, { input }, ctx) => {
        const consent = await setConsent(ctx.em, workspaceIdOf(ctx), {
          profileId: input.profileId.id,
          purpose: input.purpose,
          granted: input.granted,
          source: input.source,
          policyVersion: input.policyVersion,
          decidedAt: input.decidedAt,
        });
        return { consent, profile: await getProfile(ctx.em, input.profileId.id) };
      },
    },
    {
      outputFields: (t) => ({
        consent: t.field({ type: ConsentRef, resolve: (p) => p.consent }),
        profile: t.field({ type: refs.Profile, resolve: (p) => p.profile }),
      }),
    },
  );

  builder.relayMutationField(
    'exportProfile',
    { inputFields: (t) => ({ profileId: t.globalID({ required: true, for: refs.Profile }) }) },
    {
      description: 'Everything held about a profile as one JSON document (GDPR data-subject access)',
      authScopes: { admin: true },
      errors: { types: [NotFoundError] },
      resolve: async (_root, { input }, ctx) => ({
        document: await exportProfile(ctx.em, workspaceIdOf(ctx), input.profileId.id, {
          exportedBy: actorOf(ctx),
          hooks: runtime.dataSubjectHooks,
        }),
      }),
    },
    { outputFields: (t) => ({ document: t.field({ type: 'JSON', resolve: (p) => p.document }) }) },
  );

  const ErasureRef = builder.objectRef<ErasureRecordEntity>('ErasureRecord');
  builder.node(ErasureRef, {
    description: 'The tombstone of an erasure: who asked, why, how many rows went; nothing about the person',
    authScopes: { admin: true },
    id: { resolve: (e) => e.id },
    loadOne: (id, ctx) => ctx.em.findOne(ErasureRecord, { id }),
    fields: (t) => ({
      requestedBy: t.exposeString('requestedBy'),
      reason: t.exposeString('reason', { nullable: true }),
      removed: t.field({
        type: 'JSON',
        description: 'Rows removed per store, e.g. { "event": 120, "identity": 3 }',
        resolve: (e) => e.removed,
      }),
      erasedAt: t.expose('erasedAt', { type: 'DateTime' }),
    }),
  });

  builder.queryField('erasureRecords', (t) =>
    t.connection({
      type: ErasureRef,
      description: 'Erasures, newest first',
      authScopes: { admin: true },
      resolve: (_root, args, ctx) =>
        resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, ({ limit, offset }) =>
          ctx.em.find(ErasureRecord, {}, { orderBy: { erasedAt: 'desc', id: 'asc' }, limit, offset }),
        ),
    }),
  );

  builder.relayMutationField(
    'eraseProfile',
    {
      inputFields: (t) => ({
        profileId: t.globalID({ required: true, for: refs.Profile }),
        reason: t.string({ required: false, description: 'Kept in the tombstone; must not name the person' }),
      }),
    },
    {
      description: 'Erases a profile and everything about it in every store (GDPR right to erasure)',
      authScopes: { admin: true },
      errors: { types: [ValidationError, NotFoundError] },
      resolve: async (_root, { input }, ctx) => ({
        erasure: await eraseProfile(
          ctx.em,
          workspaceIdOf(ctx),
          input.profileId.id,
          { requestedBy: actorOf(ctx), reason: input.reason },
          runtime.dataSubjectHooks,
        ),
      }),
    },
    { outputFields: (t) => ({ erasure: t.field({ type: ErasureRef, resolve: (p) => p.erasure }) }) },
  );

  const RetentionPolicyRef = builder.objectRef<RetentionPolicyEntity>('RetentionPolicy').implement({
    description: 'How long events of a type are kept; "*" covers every type without its own policy',
    fields: (t) => ({
      eventType: t.exposeString('eventType'),
      days: t.exposeInt('days'),
      updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    }),
  });

  builder.queryField('retentionPolicies', (t) =>
    t.field({
      type: [RetentionPolicyRef],
      authScopes: { admin: true },
      resolve: (_root, _args, ctx) => retentionPoliciesOf(ctx.em, workspaceIdOf(ctx)),
    }),
  );

  const eventTypeHelp = 'track, identify, page, screen, group, alias, or "*" for every other type';

  builder.relayMutationField(
    'setRetentionPolicy',
    {
      inputFields: (t) => ({
        eventType: t.string({ required: true, description: eventTypeHelp }),
        days: t.int({ required: true, description: 'At least 7: ingestion dedupes messageId for 7 days' }),
      }),
    },
    {
      authScopes: { admin: true },
      errors: { types: [ValidationError] },
      resolve: async (_root, { input }, ctx) => ({
        policy: await setRetentionPolicy(ctx.em, workspaceIdOf(ctx), input),
      }),
    },
    { outputFields: (t) => ({ policy: t.field({ type: RetentionPolicyRef, resolve: (p) => p.policy }) }) },
  );

  builder.relayMutationField(
    'removeRetentionPolicy',
    { inputFields: (t) => ({ eventType: t.string({ required: true, description: eventTypeHelp }) }) },
    {
      authScopes: { admin: true },
      errors: { types: [ValidationError, NotFoundError] },
      resolve: async (_root, { input }, ctx) => {
        await removeRetentionPolicy(ctx.em, workspaceIdOf(ctx), input.eventType);
        return { eventType: input.eventType };
      },
    },
    { outputFields: (t) => ({ eventType: t.string({ resolve: (p) => p.eventType }) }) },
  );

  const RetentionDeletionRef = builder
    .objectRef<{ eventType: string; deleted: number }>('RetentionDeletion')
    .implement({
      fields: (t) => ({ eventType: t.exposeString('eventType'), deleted: t.exposeInt('deleted') }),
    });
  const RetentionRunRef = builder
    .objectRef<{ total: number; deleted: { eventType: string; deleted: number }[] }>('RetentionRun')
    .implement({
      fields: (t) => ({
        total: t.exposeInt('total'),
        deleted: t.field({ type: [RetentionDeletionRef], resolve: (r) => r.deleted }),
      }),
    });

  builder.mutationField('applyRetention', (t) =>
    t.field({
      type: RetentionRunRef,
      description: "Deletes this workspace's events older than their policy now, not at the next hourly run",
      authScopes: { admin: true },
      resolve: async (_root, _args, ctx) => {
        const outcome = await applyRetention(ctx.em, { workspaceId: workspaceIdOf(ctx) });
        return {
          total: outcome.total,
          deleted: Object.entries(outcome.deleted).map(([eventType, deleted]) => ({ eventType, deleted })),
        };
      },
    }),
  );
}
