import { resolveOffsetConnection } from '@pothos/plugin-relay';
import type { AtriumBuilder } from '../../../graphql/builder.ts';
import { enumValues, workspaceIdOf } from '../../../graphql/helpers.ts';
import { namedArgs, operationArgRef } from '../../../graphql/operation-args.ts';
import type { CoreRefs } from '../../../graphql/refs.ts';
import { NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import type { ModuleRuntime } from '../../../kernel/plugin.ts';
import { Segment, type SegmentEntity, segmentStatuses } from '../entities.ts';
import type { ArgDef } from '../segments/conditions.ts';
import { operatorRegistry } from '../segments/operators.ts';
import {
  archiveSegment,
  createSegment,
  listSegments,
  memberCount,
  previewSegment,
  type SegmentPreview,
  segmentMembers,
  segmentsOfProfile,
  updateSegment,
} from '../segments/service.ts';
import { computedTraitsSchema } from './computed-traits.ts';

/** Segments for editors (define, preview, archive), analysts (sizes) and agents (members). */
export function segmentsSchema(builder: AtriumBuilder, refs: CoreRefs, runtime: ModuleRuntime): void {
  const operators = () => operatorRegistry(runtime.segmentOperators);
  const StatusEnum = builder.enumType('SegmentStatus', { values: enumValues(segmentStatuses) });
  const ArgRef = operationArgRef(builder);
  const argsOf = namedArgs;

  const OperatorRef = builder
    .objectRef<{ code: string; label: string; description: string; args: Record<string, ArgDef> }>(
      'SegmentOperator',
    )
    .implement({
      description: 'A condition a segment leaf can use: `{ op: code, args: { … } }`',
      fields: (t) => ({
        code: t.exposeString('code'),
        label: t.exposeString('label'),
        description: t.exposeString('description'),
        args: t.field({ type: [ArgRef], resolve: (o) => argsOf(o.args) }),
      }),
    });

  const SegmentRef = builder.objectRef<SegmentEntity>('Segment');
  builder.node(SegmentRef, {
    description: 'A group of profiles defined by a condition, kept current on every change',
    authScopes: { editor: true, analyst: true, agent: true },
    id: { resolve: (s) => s.id },
    loadOne: (id, ctx) => ctx.em.findOne(Segment, { id }),
    fields: (t) => ({
      key: t.exposeString('key'),
      name: t.exposeString('name'),
      description: t.exposeString('description', { nullable: true }),
      condition: t.field({ type: 'JSON', resolve: (s) => s.condition }),
      status: t.field({ type: StatusEnum, resolve: (s) => s.status }),
      computedProfiles: t.exposeInt('computedProfiles', {
        description: 'Profiles the running recompute has done',
      }),
      totalProfiles: t.exposeInt('totalProfiles', { description: 'Profiles the running recompute will do' }),
      progress: t.float({
        description: 'Recompute progress from 0 to 1',
        resolve: (s) =>
          s.status === 'computing'
            ? s.totalProfiles
              ? Math.min(1, s.computedProfiles / s.totalProfiles)
              : 0
            : 1,
      }),
      lastComputedAt: t.expose('lastComputedAt', { type: 'DateTime', nullable: true }),
      memberCount: t.int({ resolve: (s, _args, ctx) => memberCount(ctx.em, s.id) }),
      members: t.connection({
        type: refs.Profile,
        description: 'Members, most recently entered first',
        authScopes: { agent: true },
        resolve: (s, args, ctx) =>
          resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, (page) =>
            segmentMembers(ctx.em, s.id, page),
          ),
      }),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
      updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    }),
  });

  builder.objectField(refs.Profile, 'segments', (t) =>
    t.field({
      type: [SegmentRef],
      description: 'Segments this profile is a member of',
      resolve: (p, _args, ctx) => segmentsOfProfile(ctx.em, p.id),
    }),
  );

  builder.queryField('segments', (t) =>
    t.connection({
      type: SegmentRef,
      description: 'Segments by name; archived ones only when asked for by status',
      authScopes: { editor: true, analyst: true, agent: true },
      args: { status: t.arg({ type: StatusEnum, required: false }) },
      resolve: (_root, args, ctx) =>
        resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, (page) =>
          listSegments(ctx.em, { status: args.status }, page),
        ),
    }),
  );

  builder.queryField('segment', (t) =>
    t.field({
      type: SegmentRef,
      nullable: true,
      authScopes: { editor: true, analyst: true, agent: true },
      args: { id: t.arg.globalID({ required: true, for: SegmentRef }) },
      resolve: (_root, { id }, ctx) => ctx.em.findOne(Segment, { id: id.id }),
    }),
  );

  builder.queryField('segmentOperators', (t) =>
    t.field({
      type: [OperatorRef],
      description: 'Every operator a condition can use, core and plugins, with arguments to draw forms from',
      authScopes: { editor: true, analyst: true },
      resolve: () => [...operators().values()],
    }),
  );

  const PreviewRef = builder.objectRef<SegmentPreview>('SegmentPreview').implement({
    description: 'Who a condition would select, computed without saving anything',
    fields: (t) => ({
      count: t.exposeInt('count', { description: 'Matching profiles; extrapolated when exact is false' }),
      exact: t.exposeBoolean('exact'),
      scannedProfiles: t.exposeInt('scannedProfiles'),
      totalProfiles: t.exposeInt('totalProfiles'),
      sample: t.field({ type: [refs.Profile], authScopes: { agent: true }, resolve: (p) => p.sample }),
    }),
  });

  builder.queryField('segmentPreview', (t) =>
    t.field({
      type: PreviewRef,
      description: 'Count and a sample of the profiles a condition selects, before saving it',
      authScopes: { editor: true },
      errors: { types: [ValidationError] },
      args: {
        condition: t.arg({ type: 'JSON', required: true }),
        sampleSize: t.arg.int({ required: false, defaultValue: 10 }),
      },
      resolve: (_root, args, ctx) =>
        previewSegment(ctx.em, workspaceIdOf(ctx), operators(), args.condition, args.sampleSize ?? 10),
    }),
  );

  builder.relayMutationField(
    'createSegment',
    {
      inputFields: (t) => ({
        key: t.string({
          required: true,
          description: 'Stable, lower-case: what conditions and APIs refer to',
        }),
        name: t.string({ required: true }),
        description: t.string({ required: false }),
        condition: t.field({ type: 'JSON', required: true }),
      }),
    },
    {
      authScopes: { editor: true },
      errors: { types: [ValidationError] },
      resolve: async (_root, { input }, ctx) => ({
        segment: await createSegment(ctx.em, runtime.jobs, workspaceIdOf(ctx), operators(), input),
      }),
    },
    { outputFields: (t) => ({ segment: t.field({ type: SegmentRef, resolve: (p) => p.segment }) }) },
  );

  builder.relayMutationField(
    'updateSegment',
    {
      inputFields: (t) => ({
        id: t.globalID({ required: true, for: SegmentRef }),
        name: t.string({ required: false }),
        description: t.string({ required: false }),
        condition: t.field({
          type: 'JSON',
          required: false,
          description: 'A new condition starts a recompute',
        }),
      }),
    },
    {
      authScopes: { editor: true },
      errors: { types: [ValidationError, NotFoundError] },
      resolve: async (_root, { input }, ctx) => ({
        segment: await updateSegment(ctx.em, runtime.jobs, workspaceIdOf(ctx), operators(), {
          ...input,
          id: input.id.id,
        }),
      }),
    },
    { outputFields: (t) => ({ segment: t.field({ type: SegmentRef, resolve: (p) => p.segment }) }) },
  );

  builder.relayMutationField(
    'archiveSegment',
    { inputFields: (t) => ({ id: t.globalID({ required: true, for: SegmentRef }) }) },
    {
      authScopes: { editor: true },
      errors: { types: [ValidationError, NotFoundError] },
      resolve: async (_root, { input }, ctx) => ({
        segment: await archiveSegment(ctx.em, workspaceIdOf(ctx), operators(), input.id.id),
      }),
    },
    { outputFields: (t) => ({ segment: t.field({ type: SegmentRef, resolve: (p) => p.segment }) }) },
  );

  computedTraitsSchema(builder, runtime, { ArgRef, argsOf, operators });
}
