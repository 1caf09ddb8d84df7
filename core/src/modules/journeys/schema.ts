import { resolveOffsetConnection } from '@pothos/plugin-relay';
import type { AtriumBuilder } from '../../graphql/builder.ts';
import { enumValues, workspaceIdOf } from '../../graphql/helpers.ts';
import type { CoreRefs } from '../../graphql/refs.ts';
import { NotFoundError, ValidationError } from '../../kernel/errors.ts';
import type { ModuleRuntime } from '../../kernel/plugin.ts';
import { operatorRegistry } from '../profiles/segments/operators.ts';
import { type DefinitionContext, validateDefinition } from './definition.ts';
import {
  ChannelPolicy,
  type ChannelPolicyEntity,
  Enrollment,
  type EnrollmentEntity,
  enrollmentStatuses,
  inFlightPolicies,
  Journey,
  type JourneyEntity,
  JourneyStepRun,
  type JourneyStepRunEntity,
  JourneyVersion,
  type JourneyVersionEntity,
  journeyStatuses,
} from './entities.ts';
import { type JourneyAnalytics, journeyAnalytics, type StepStats } from './service/analytics.ts';
import {
  createJourney,
  enrollProfile,
  exitProfile,
  publishJourney,
  setJourneyStatus,
  updateJourneyDraft,
} from './service/journeys.ts';
import { type SimulatedStep, simulateJourney } from './service/simulate.ts';
import type { AnyStep } from './steps/step.ts';

/** Editors author and run journeys; analysts read how they perform; viewers read them. */
export function journeysSchema(builder: AtriumBuilder, refs: CoreRefs, runtime: ModuleRuntime): void {
  const context = (): DefinitionContext & { steps: ReadonlyMap<string, AnyStep> } => ({
    steps: runtime.journeySteps,
    operators: operatorRegistry(runtime.segmentOperators),
  });
  const actor = (ctx: { principal: { subject: string } | null }) => ctx.principal?.subject ?? null;

  const StatusEnum = builder.enumType('JourneyStatus', { values: enumValues(journeyStatuses) });
  const EnrollmentStatusEnum = builder.enumType('EnrollmentStatus', {
    values: enumValues(enrollmentStatuses),
  });
  const InFlightEnum = builder.enumType('InFlightPolicy', {
    description:
      'What publishing a new version does to running enrollments: KEEP them on their version, or EXIT them',
    values: enumValues(inFlightPolicies),
  });

  const StepTypeRef = builder.objectRef<AnyStep>('JourneyStepType').implement({
    description: 'A step a journey node can use: `{ type: code, args: { … }, next: { outcome: node } }`',
    fields: (t) => ({
      code: t.exposeString('code'),
      label: t.exposeString('label'),
      description: t.exposeString('description'),
      args: t.field({
        type: 'JSON',
        description: 'Argument definitions, for a form',
        resolve: (s) => s.args,
      }),
      waits: t.boolean({ resolve: (s) => s.waits === true }),
    }),
  });

  const VersionRef = builder.objectRef<JourneyVersionEntity>('JourneyVersion').implement({
    description: 'A published, immutable definition',
    fields: (t) => ({
      version: t.exposeInt('version'),
      definition: t.field({ type: 'JSON', resolve: (v) => v.definition }),
      inFlightPolicy: t.field({ type: InFlightEnum, resolve: (v) => v.inFlightPolicy }),
      publishedBy: t.exposeString('publishedBy', { nullable: true }),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
    }),
  });

  const StepStatsRef = builder.objectRef<StepStats>('JourneyStepStats').implement({
    fields: (t) => ({
      node: t.exposeString('node'),
      stepType: t.exposeString('stepType'),
      entered: t.exposeInt('entered'),
      completed: t.exposeInt('completed'),
      dropped: t.exposeInt('dropped', { description: 'Left the journey while at this step' }),
      current: t.exposeInt('current', { description: 'At this step now' }),
      outcomes: t.field({ type: 'JSON', description: '[{ outcome, count }]', resolve: (s) => s.outcomes }),
    }),
  });
  const GroupRef = builder
    .objectRef<{ enrolled: number; converted: number; conversionRate: number }>('JourneyGroupStats')
    .implement({
      fields: (t) => ({
        enrolled: t.exposeInt('enrolled'),
        converted: t.exposeInt('converted'),
        conversionRate: t.exposeFloat('conversionRate'),
      }),
    });
  const AnalyticsRef = builder.objectRef<JourneyAnalytics>('JourneyAnalytics').implement({
    fields: (t) => ({
      version: t.exposeInt('version', { nullable: true }),
      enrolled: t.exposeInt('enrolled'),
      active: t.exposeInt('active'),
      completed: t.exposeInt('completed'),
      exited: t.exposeInt('exited'),
      failed: t.exposeInt('failed'),
      converted: t.exposeInt('converted'),
      conversionRate: t.exposeFloat('conversionRate'),
      medianHoursToGoal: t.exposeFloat('medianHoursToGoal', { nullable: true }),
      control: t.field({ type: GroupRef, nullable: true, resolve: (a) => a.control }),
      treatment: t.field({ type: GroupRef, nullable: true, resolve: (a) => a.treatment }),
      upliftPoints: t.exposeFloat('upliftPoints', {
        nullable: true,
        description: 'Treatment minus control conversion, in percentage points',
      }),
      steps: t.field({ type: [StepStatsRef], resolve: (a) => a.steps }),
      dropOffs: t.field({
        type: [StepStatsRef],
        description: 'Steps by drop-outs, most first',
        resolve: (a) => a.dropOffs,
      }),
    }),
  });

  const JourneyRef = builder.objectRef<JourneyEntity>('Journey');
  builder.node(JourneyRef, {
    description: 'A customer journey: a draft graph, its published versions and how they perform',
    authScopes: { viewer: true },
    id: { resolve: (j) => j.id },
    loadOne: (id, ctx) => ctx.em.findOne(Journey, { id }),
    fields: (t) => ({
      key: t.exposeString('key'),
      name: t.exposeString('name'),
      status: t.field({ type: StatusEnum, resolve: (j) => j.status }),
      draft: t.field({ type: 'JSON', resolve: (j) => j.draft }),
      publishedVersion: t.exposeInt('publishedVersion', { nullable: true }),
      versions: t.field({
        type: [VersionRef],
        resolve: (j, _args, ctx) =>
          ctx.em.find(JourneyVersion, { journey: j.id }, { orderBy: { version: 'desc' } }),
      }),
      analytics: t.field({
        type: AnalyticsRef,
        authScopes: { analyst: true, editor: true },
        args: { version: t.arg.int({ description: 'One version; all versions when left out' }) },
        resolve: (j, args, ctx) => journeyAnalytics(ctx.em, j.id, args.version ?? null),
      }),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
      updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    }),
  });

  const StepRunRef = builder.objectRef<JourneyStepRunEntity>('JourneyStepRun').implement({
    fields: (t) => ({
      node: t.exposeString('node'),
      stepType: t.exposeString('stepType'),
      outcome: t.exposeString('outcome', { nullable: true, description: 'Null while the step waits' }),
      note: t.exposeString('note', { nullable: true }),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
    }),
  });

  const EnrollmentRef = builder.objectRef<EnrollmentEntity>('JourneyEnrollment').implement({
    description: "One profile's way through one journey version",
    fields: (t) => ({
      id: t.exposeID('id'),
      journey: t.field({
        type: JourneyRef,
        resolve: (e, _a, ctx) => ctx.em.findOneOrFail(Journey, { id: e.journey }),
      }),
      version: t.exposeInt('version'),
      status: t.field({ type: EnrollmentStatusEnum, resolve: (e) => e.status }),
      node: t.exposeString('node', { nullable: true }),
      dueAt: t.expose('dueAt', { type: 'DateTime', nullable: true }),
      awaitingEvent: t.exposeString('awaitingEvent', { nullable: true }),
      control: t.exposeBoolean('control'),
      enteredAt: t.expose('enteredAt', { type: 'DateTime' }),
      endedAt: t.expose('endedAt', { type: 'DateTime', nullable: true }),
      endReason: t.exposeString('endReason', { nullable: true }),
      goalAt: t.expose('goalAt', { type: 'DateTime', nullable: true }),
      steps: t.field({
        type: [StepRunRef],
        resolve: (e, _a, ctx) =>
          ctx.em.find(JourneyStepRun, { enrollment: e.id }, { orderBy: { visit: 'asc' } }),
      }),
    }),
  });

  builder.objectField(refs.Profile, 'journeyEnrollments', (t) =>
    t.field({
      type: [EnrollmentRef],
      authScopes: { viewer: true },
      description: "The profile's journeys, newest first",
      resolve: (profile, _args, ctx) =>
        ctx.em.find(Enrollment, { profileId: profile.id }, { orderBy: { enteredAt: 'desc' }, limit: 100 }),
    }),
  );

  builder.queryField('journeys', (t) =>
    t.connection({
      type: JourneyRef,
      authScopes: { viewer: true },
      args: { status: t.arg({ type: StatusEnum }) },
      resolve: (_root, args, ctx) =>
        resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, ({ limit, offset }) =>
          ctx.em.find(Journey, args.status ? { status: args.status } : {}, {
            orderBy: { updatedAt: 'desc' },
            limit,
            offset,
          }),
        ),
    }),
  );

  builder.queryField('journeyStepTypes', (t) =>
    t.field({
      type: [StepTypeRef],
      authScopes: { viewer: true },
      resolve: () => [...runtime.journeySteps.values()],
    }),
  );

  const SimulatedRef = builder.objectRef<SimulatedStep>('SimulatedJourneyStep').implement({
    fields: (t) => ({
      node: t.exposeString('node'),
      type: t.exposeString('type'),
      at: t.expose('at', { type: 'DateTime' }),
      outcome: t.exposeString('outcome', { nullable: true }),
      note: t.exposeString('note', { nullable: true }),
    }),
  });
  builder.queryField('simulateJourney', (t) =>
    t.field({
      type: [SimulatedRef],
      description: 'What the draft would do for this profile from now; nothing is changed or sent',
      authScopes: { editor: true, analyst: true },
      errors: { types: [ValidationError, NotFoundError] },
      args: {
        journeyId: t.arg.globalID({ required: true, for: JourneyRef }),
        profileId: t.arg.globalID({ required: true, for: refs.Profile }),
        assumeEvents: t.arg.stringList({
          description: 'Events to assume the profile does while waiting for them',
        }),
      },
      resolve: (_root, args, ctx) =>
        simulateJourney(ctx.em, runtime, context(), {
          journeyId: args.journeyId.id,
          profileId: args.profileId.id,
          assumeEvents: args.assumeEvents ?? [],
        }),
    }),
  );

  builder.relayMutationField(
    'createJourney',
    {
      inputFields: (t) => ({
        key: t.string({ required: true }),
        name: t.string({ required: true }),
        draft: t.field({ type: 'JSON', required: true, description: 'The definition; see docs/journeys.md' }),
      }),
    },
    {
      authScopes: { editor: true },
      errors: { types: [ValidationError] },
      resolve: async (_root, { input }, ctx) => ({
        journey: await createJourney(ctx.em, workspaceIdOf(ctx), input),
      }),
    },
    { outputFields: (t) => ({ journey: t.field({ type: JourneyRef, resolve: (p) => p.journey }) }) },
  );

  builder.relayMutationField(
    'updateJourneyDraft',
    {
      inputFields: (t) => ({
        id: t.globalID({ required: true, for: JourneyRef }),
        name: t.string(),
        draft: t.field({ type: 'JSON' }),
      }),
    },
    {
      authScopes: { editor: true },
      errors: { types: [ValidationError, NotFoundError] },
      resolve: async (_root, { input }, ctx) => ({
        journey: await updateJourneyDraft(ctx.em, input.id.id, {
          name: input.name,
          draft: input.draft ?? undefined,
        }),
      }),
    },
    { outputFields: (t) => ({ journey: t.field({ type: JourneyRef, resolve: (p) => p.journey }) }) },
  );

  builder.relayMutationField(
    'validateJourneyDraft',
    { inputFields: (t) => ({ id: t.globalID({ required: true, for: JourneyRef }) }) },
    {
      authScopes: { editor: true },
      errors: { types: [ValidationError, NotFoundError] },
      resolve: async (_root, { input }, ctx) => {
        const journey = await ctx.em.findOne(Journey, { id: input.id.id });
        if (!journey) throw new NotFoundError('the journey');
        return { journey, definition: validateDefinition(journey.draft, context()) };
      },
    },
    {
      outputFields: (t) => ({
        journey: t.field({ type: JourneyRef, resolve: (p) => p.journey }),
        definition: t.field({
          type: 'JSON',
          description: 'The draft with defaults applied',
          resolve: (p) => p.definition,
        }),
      }),
    },
  );

  builder.relayMutationField(
    'publishJourney',
    {
      inputFields: (t) => ({
        id: t.globalID({ required: true, for: JourneyRef }),
        inFlight: t.field({
          type: InFlightEnum,
          required: true,
          description: 'What happens to running enrollments',
        }),
      }),
    },
    {
      authScopes: { editor: true },
      errors: { types: [ValidationError, NotFoundError] },
      resolve: (_root, { input }, ctx) =>
        publishJourney(ctx.em, context(), input.id.id, input.inFlight, actor(ctx)),
    },
    {
      outputFields: (t) => ({
        journey: t.field({ type: JourneyRef, resolve: (p) => p.journey }),
        version: t.field({ type: VersionRef, resolve: (p) => p.version }),
        exitedEnrollments: t.int({ resolve: (p) => p.exited }),
      }),
    },
  );

  for (const action of ['pause', 'resume', 'archive'] as const) {
    builder.relayMutationField(
      `${action}Journey`,
      { inputFields: (t) => ({ id: t.globalID({ required: true, for: JourneyRef }) }) },
      {
        authScopes: { editor: true },
        errors: { types: [ValidationError, NotFoundError] },
        resolve: async (_root, { input }, ctx) => ({
          journey: await setJourneyStatus(ctx.em, input.id.id, action, actor(ctx)),
        }),
      },
      { outputFields: (t) => ({ journey: t.field({ type: JourneyRef, resolve: (p) => p.journey }) }) },
    );
  }

  builder.relayMutationField(
    'enrollInJourney',
    {
      inputFields: (t) => ({
        journeyId: t.globalID({ required: true, for: JourneyRef }),
        profileId: t.globalID({ required: true, for: refs.Profile }),
        context: t.field({ type: 'JSON', description: 'Values the steps can read, e.g. an order id' }),
      }),
    },
    {
      authScopes: { editor: true, agent: true },
      errors: { types: [ValidationError, NotFoundError] },
      resolve: (_root, { input }, ctx) =>
        enrollProfile(
          ctx.em,
          input.journeyId.id,
          input.profileId.id,
          (input.context as Record<string, unknown>) ?? {},
        ),
    },
    {
      outputFields: (t) => ({
        enrollment: t.field({
          type: EnrollmentRef,
          nullable: true,
          resolve: (p, _a, ctx) =>
            p.enrollmentId ? ctx.em.findOne(Enrollment, { id: p.enrollmentId }) : null,
        }),
        refused: t.string({
          nullable: true,
          description: 'Why the entry rules kept the profile out',
          resolve: (p) => p.refused,
        }),
      }),
    },
  );

  builder.relayMutationField(
    'exitJourney',
    {
      inputFields: (t) => ({
        journeyId: t.globalID({ required: true, for: JourneyRef }),
        profileId: t.globalID({ required: true, for: refs.Profile }),
      }),
    },
    {
      authScopes: { editor: true, agent: true },
      errors: { types: [NotFoundError] },
      resolve: async (_root, { input }, ctx) => {
        await exitProfile(ctx.em, input.journeyId.id, input.profileId.id, actor(ctx));
        return { journey: await ctx.em.findOneOrFail(Journey, { id: input.journeyId.id }) };
      },
    },
    { outputFields: (t) => ({ journey: t.field({ type: JourneyRef, resolve: (p) => p.journey }) }) },
  );

  const PolicyRef = builder.objectRef<ChannelPolicyEntity>('JourneyChannelPolicy').implement({
    description: 'Frequency caps and quiet hours for journey sends on one channel',
    fields: (t) => ({
      channel: t.exposeString('channel'),
      maxPerDay: t.exposeInt('maxPerDay', { nullable: true }),
      maxPerWeek: t.exposeInt('maxPerWeek', { nullable: true }),
      quietStart: t.exposeString('quietStart', { nullable: true }),
      quietEnd: t.exposeString('quietEnd', { nullable: true }),
    }),
  });
  builder.queryField('journeyChannelPolicies', (t) =>
    t.field({
      type: [PolicyRef],
      authScopes: { viewer: true },
      resolve: (_r, _a, ctx) => ctx.em.find(ChannelPolicy, {}),
    }),
  );
  builder.relayMutationField(
    'setJourneyChannelPolicy',
    {
      inputFields: (t) => ({
        channel: t.string({ required: true }),
        maxPerDay: t.int(),
        maxPerWeek: t.int(),
        quietStart: t.string({ description: 'HH:MM on the profile’s clock' }),
        quietEnd: t.string(),
      }),
    },
    {
      authScopes: { admin: true },
      errors: { types: [ValidationError] },
      resolve: async (_root, { input }, ctx) => {
        const time = /^([01]\d|2[0-3]):[0-5]\d$/;
        for (const field of ['quietStart', 'quietEnd'] as const) {
          const value = input[field];
          if (value != null && !time.test(value)) throw new ValidationError(`${field} must be HH:MM`, field);
        }
        if ((input.quietStart == null) !== (input.quietEnd == null)) {
          throw new ValidationError('give both quietStart and quietEnd, or neither', 'quietEnd');
        }
        for (const field of ['maxPerDay', 'maxPerWeek'] as const) {
          const value = input[field];
          if (value != null && value < 0) throw new ValidationError(`${field} must not be negative`, field);
        }
        const workspace = workspaceIdOf(ctx);
        const policy =
          (await ctx.em.findOne(ChannelPolicy, { channel: input.channel })) ??
          ctx.em.create(ChannelPolicy, { workspace, channel: input.channel });
        policy.maxPerDay = input.maxPerDay ?? null;
        policy.maxPerWeek = input.maxPerWeek ?? null;
        policy.quietStart = input.quietStart ?? null;
        policy.quietEnd = input.quietEnd ?? null;
        await ctx.em.flush();
        return { policy };
      },
    },
    { outputFields: (t) => ({ policy: t.field({ type: PolicyRef, resolve: (p) => p.policy }) }) },
  );
}
