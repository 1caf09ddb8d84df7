import { resolveOffsetConnection } from '@pothos/plugin-relay';
import type { AtriumBuilder } from '../../../graphql/builder.ts';
import { enumValues, workspaceIdOf } from '../../../graphql/helpers.ts';
import type { CoreRefs } from '../../../graphql/refs.ts';
import { NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import {
  type EventEntity,
  eventTypes,
  Identity,
  type IdentityEntity,
  identityTypes,
  Profile,
  ProfileMerge,
  type ProfileMergeEntity,
  traitKinds,
} from '../entities.ts';
import { identityRulesOf, setIdentityRule } from '../service/identity-rules.ts';
import {
  findProfiles,
  getProfile,
  mergeProfilesManually,
  previewMerge,
  profileTimeline,
  setProfileTraits,
} from '../service/profiles.ts';
import { defineTrait } from '../service/traits.ts';

/** Profiles as agents see them: traits, identities, timeline; merges with their reasons. */
export function profilesSchema(builder: AtriumBuilder, refs: CoreRefs): void {
  const IdentityTypeEnum = builder.enumType('IdentityType', { values: enumValues(identityTypes) });
  const EventTypeEnum = builder.enumType('EventType', { values: enumValues(eventTypes) });
  const TraitKindEnum = builder.enumType('TraitKind', { values: enumValues(traitKinds) });

  const IdentityRef = builder.objectRef<IdentityEntity>('Identity').implement({
    description: 'A normalised key (e-mail, phone, user id, anonymous id) that points at one profile',
    fields: (t) => ({
      type: t.field({ type: IdentityTypeEnum, resolve: (i) => i.type }),
      value: t.exposeString('value'),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
    }),
  });

  const EventRef = builder.objectRef<EventEntity>('Event');
  builder.node(EventRef, {
    description: 'A Segment-spec event: track, identify, page, screen, group or alias',
    authScopes: { agent: true, analyst: true },
    id: { resolve: (e) => e.id },
    fields: (t) => ({
      messageId: t.exposeString('messageId'),
      type: t.field({ type: EventTypeEnum, resolve: (e) => e.type }),
      name: t.exposeString('name', { nullable: true }),
      properties: t.field({ type: 'JSON', resolve: (e) => e.properties }),
      traits: t.field({ type: 'JSON', resolve: (e) => e.traits }),
      context: t.field({ type: 'JSON', resolve: (e) => e.context }),
      channel: t.exposeString('channel'),
      userId: t.exposeString('userId', { nullable: true }),
      anonymousId: t.exposeString('anonymousId', { nullable: true }),
      timestamp: t.expose('timestamp', { type: 'DateTime' }),
      sentAt: t.expose('sentAt', { type: 'DateTime', nullable: true }),
      receivedAt: t.expose('receivedAt', { type: 'DateTime' }),
    }),
  });

  const MergeRef = builder.objectRef<ProfileMergeEntity>('ProfileMerge').implement({
    description: 'A record that another profile was folded into this one, and why',
    fields: (t) => ({
      mergedProfileId: t.exposeString('mergedProfileId', {
        description: 'The id of the profile that no longer exists',
      }),
      reason: t.exposeString('reason'),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
    }),
  });

  builder.node(refs.Profile, {
    description: 'One customer: what they told us, what we computed, how we know them',
    authScopes: { agent: true },
    id: { resolve: (p) => p.id },
    loadOne: (id, ctx) => ctx.em.findOne(Profile, { id }),
    fields: (t) => ({
      traits: t.field({ type: 'JSON', resolve: (p) => p.traits }),
      computedTraits: t.field({ type: 'JSON', resolve: (p) => p.computedTraits }),
      firstSeenAt: t.expose('firstSeenAt', { type: 'DateTime' }),
      lastSeenAt: t.expose('lastSeenAt', { type: 'DateTime' }),
      identities: t.field({
        type: [IdentityRef],
        resolve: (p, _args, ctx) =>
          ctx.em.find(Identity, { profile: p.id }, { orderBy: { type: 'asc', value: 'asc' } }),
      }),
      merges: t.field({
        type: [MergeRef],
        resolve: (p, _args, ctx) =>
          ctx.em.find(ProfileMerge, { survivor: p.id }, { orderBy: { createdAt: 'desc' } }),
      }),
      timeline: t.connection({
        type: EventRef,
        description: 'Events, newest first',
        args: { types: t.arg({ type: [EventTypeEnum], required: false }) },
        resolve: (p, args, ctx) =>
          resolveOffsetConnection({ args, defaultSize: 50, maxSize: 200 }, (page) =>
            profileTimeline(ctx.em, p.id, page, args.types),
          ),
      }),
    }),
  });

  const TraitFilter = builder.inputType('TraitFilter', {
    fields: (t) => ({ key: t.string({ required: true }), equals: t.field({ type: 'JSON', required: true }) }),
  });
  const IdentityInput = builder.inputType('IdentityInput', {
    fields: (t) => ({
      type: t.field({ type: IdentityTypeEnum, required: true }),
      value: t.string({ required: true }),
    }),
  });
  const ProfileFilter = builder.inputType('ProfileFilter', {
    fields: (t) => ({
      traits: t.field({ type: [TraitFilter], required: false }),
      segmentKey: t.string({ required: false }),
      identity: t.field({ type: IdentityInput, required: false }),
    }),
  });

  builder.queryField('profile', (t) =>
    t.field({
      type: refs.Profile,
      nullable: true,
      authScopes: { agent: true },
      args: { id: t.arg.globalID({ required: true, for: refs.Profile }) },
      resolve: (_root, { id }, ctx) => ctx.em.findOne(Profile, { id: id.id }),
    }),
  );

  builder.queryField('profiles', (t) =>
    t.connection({
      type: refs.Profile,
      description: 'Profiles, most recently seen first',
      authScopes: { agent: true },
      args: { filter: t.arg({ type: ProfileFilter, required: false }) },
      resolve: (_root, args, ctx) =>
        resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, (page) =>
          findProfiles(ctx.em, args.filter ?? {}, page),
        ),
    }),
  );

  const MergePreviewRef = builder
    .objectRef<{ allowed: boolean; reason: string; identities: number; events: number }>('MergePreview')
    .implement({
      fields: (t) => ({
        allowed: t.exposeBoolean('allowed'),
        reason: t.exposeString('reason'),
        identities: t.exposeInt('identities', { description: 'Identities that would move' }),
        events: t.exposeInt('events', { description: 'Events that would move' }),
      }),
    });

  builder.queryField('mergePreview', (t) =>
    t.field({
      type: MergePreviewRef,
      authScopes: { agent: true },
      args: {
        survivorId: t.arg.globalID({ required: true, for: refs.Profile }),
        mergedId: t.arg.globalID({ required: true, for: refs.Profile }),
      },
      resolve: (_root, args, ctx) =>
        previewMerge(ctx.em, workspaceIdOf(ctx), args.survivorId.id, args.mergedId.id),
    }),
  );

  builder.relayMutationField(
    'setProfileTraits',
    {
      inputFields: (t) => ({
        profileId: t.globalID({ required: true, for: refs.Profile }),
        traits: t.field({ type: 'JSON', required: true, description: 'Traits to set; null removes one' }),
      }),
    },
    {
      authScopes: { agent: true },
      errors: { types: [ValidationError, NotFoundError] },
      resolve: async (_root, { input }, ctx) => ({
        profile: await setProfileTraits(
          ctx.em,
          workspaceIdOf(ctx),
          input.profileId.id,
          input.traits as Record<string, unknown>,
        ),
      }),
    },
    { outputFields: (t) => ({ profile: t.field({ type: refs.Profile, resolve: (p) => p.profile }) }) },
  );

  builder.relayMutationField(
    'mergeProfiles',
    {
      inputFields: (t) => ({
        survivorId: t.globalID({ required: true, for: refs.Profile }),
        mergedId: t.globalID({ required: true, for: refs.Profile }),
        note: t.string({ required: false }),
      }),
    },
    {
      authScopes: { agent: true },
      errors: { types: [ValidationError, NotFoundError] },
      resolve: async (_root, { input }, ctx) => {
        const outcome = await mergeProfilesManually(ctx.em, workspaceIdOf(ctx), {
          survivorId: input.survivorId.id,
          mergedId: input.mergedId.id,
          actor: ctx.principal?.subject ?? 'unknown',
          note: input.note,
        });
        return { profile: await getProfile(ctx.em, outcome.survivorId), reason: outcome.reason };
      },
    },
    {
      outputFields: (t) => ({
        profile: t.field({ type: refs.Profile, resolve: (p) => p.profile }),
        reason: t.string({ resolve: (p) => p.reason }),
      }),
    },
  );

  const TraitDefinitionRef = builder
    .objectRef<{ key: string; kind: (typeof traitKinds)[number]; description?: string | null }>(
      'TraitDefinition',
    )
    .implement({
      fields: (t) => ({
        key: t.exposeString('key'),
        kind: t.field({ type: TraitKindEnum, resolve: (d) => d.kind }),
        description: t.string({ nullable: true, resolve: (d) => d.description ?? null }),
      }),
    });

  builder.relayMutationField(
    'defineTrait',
    {
      inputFields: (t) => ({
        key: t.string({ required: true }),
        kind: t.field({ type: TraitKindEnum, required: true }),
        description: t.string({ required: false }),
      }),
    },
    {
      authScopes: { admin: true },
      errors: { types: [ValidationError] },
      resolve: async (_root, { input }, ctx) => ({
        trait: await defineTrait(ctx.em, workspaceIdOf(ctx), input),
      }),
    },
    { outputFields: (t) => ({ trait: t.field({ type: TraitDefinitionRef, resolve: (p) => p.trait }) }) },
  );

  const IdentityRuleRef = builder
    .objectRef<{ type: (typeof identityTypes)[number]; priority: number; maxPerProfile: number }>(
      'IdentityRule',
    )
    .implement({
      description: 'Lower priority wins when identities disagree; maxPerProfile stops run-away merges',
      fields: (t) => ({
        type: t.field({ type: IdentityTypeEnum, resolve: (r) => r.type }),
        priority: t.exposeInt('priority'),
        maxPerProfile: t.exposeInt('maxPerProfile'),
      }),
    });
  const rulesList = (rules: Awaited<ReturnType<typeof identityRulesOf>>) =>
    identityTypes.map((type) => ({
      type,
      priority: rules.priority[type],
      maxPerProfile: rules.maxPerProfile[type],
    }));

  builder.queryField('identityRules', (t) =>
    t.field({
      type: [IdentityRuleRef],
      authScopes: { admin: true },
      resolve: async (_root, _args, ctx) => rulesList(await identityRulesOf(ctx.em, workspaceIdOf(ctx))),
    }),
  );

  builder.relayMutationField(
    'setIdentityRule',
    {
      inputFields: (t) => ({
        type: t.field({ type: IdentityTypeEnum, required: true }),
        priority: t.int({ required: true }),
        maxPerProfile: t.int({ required: true }),
      }),
    },
    {
      authScopes: { admin: true },
      errors: { types: [ValidationError] },
      resolve: async (_root, { input }, ctx) => ({
        rules: rulesList(await setIdentityRule(ctx.em, workspaceIdOf(ctx), input)),
      }),
    },
    { outputFields: (t) => ({ rules: t.field({ type: [IdentityRuleRef], resolve: (p) => p.rules }) }) },
  );
}
