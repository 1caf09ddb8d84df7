import type { ObjectRef } from '@pothos/core';
import type { AtriumBuilder, AtriumSchemaTypes } from '../../../graphql/builder.ts';
import { enumValues, workspaceIdOf } from '../../../graphql/helpers.ts';
import { NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import type { ModuleRuntime } from '../../../kernel/plugin.ts';
import {
  ComputedTraitDefinition,
  type ComputedTraitDefinitionEntity,
  computedTraitKinds,
} from '../entities.ts';
import { computedTraitKindSpecs } from '../segments/computed-trait-kinds.ts';
import {
  createComputedTrait,
  deleteComputedTrait,
  listComputedTraits,
  updateComputedTrait,
} from '../segments/computed-traits.ts';
import type { ArgDef } from '../segments/conditions.ts';
import type { AnySegmentOperator } from '../segments/operators.ts';

type Types = PothosSchemaTypes.ExtendDefaultTypes<AtriumSchemaTypes>;

/** Computed-trait definitions: editors define them, analysts read them; values show on Profile.computedTraits. */
export function computedTraitsSchema(
  builder: AtriumBuilder,
  runtime: ModuleRuntime,
  shared: {
    ArgRef: ObjectRef<Types, ArgDef & { name: string }>;
    argsOf: (args: Record<string, ArgDef>) => (ArgDef & { name: string })[];
    operators: () => ReadonlyMap<string, AnySegmentOperator>;
  },
): void {
  const KindEnum = builder.enumType('ComputedTraitKind', {
    values: enumValues(computedTraitKinds),
  });

  const KindInfoRef = builder
    .objectRef<{ kind: (typeof computedTraitKinds)[number] }>('ComputedTraitKindInfo')
    .implement({
      description: 'What a kind computes and the config it takes, to draw a form from',
      fields: (t) => ({
        kind: t.field({ type: KindEnum, resolve: (k) => k.kind }),
        label: t.string({ resolve: (k) => computedTraitKindSpecs[k.kind].label }),
        config: t.field({
          type: [shared.ArgRef],
          resolve: (k) => shared.argsOf(computedTraitKindSpecs[k.kind].args),
        }),
      }),
    });

  const DefinitionRef = builder.objectRef<ComputedTraitDefinitionEntity>('ComputedTraitDefinition');
  builder.node(DefinitionRef, {
    description: 'A trait Atrium keeps current from events, shown under Profile.computedTraits[key]',
    authScopes: { editor: true, analyst: true },
    id: { resolve: (d) => d.id },
    loadOne: (id, ctx) => ctx.em.findOne(ComputedTraitDefinition, { id }),
    fields: (t) => ({
      key: t.exposeString('key'),
      kind: t.field({ type: KindEnum, resolve: (d) => d.kind }),
      config: t.field({ type: 'JSON', resolve: (d) => d.config }),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
      updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    }),
  });

  builder.queryField('computedTraitDefinitions', (t) =>
    t.field({
      type: [DefinitionRef],
      authScopes: { editor: true, analyst: true },
      resolve: (_root, _args, ctx) => listComputedTraits(ctx.em),
    }),
  );

  builder.queryField('computedTraitKinds', (t) =>
    t.field({
      type: [KindInfoRef],
      authScopes: { editor: true, analyst: true },
      resolve: () => computedTraitKinds.map((kind) => ({ kind })),
    }),
  );

  const payload = {
    outputFields: (
      t: PothosSchemaTypes.ObjectFieldBuilder<Types, { computedTrait: ComputedTraitDefinitionEntity }>,
    ) => ({
      computedTrait: t.field({ type: DefinitionRef, resolve: (p) => p.computedTrait }),
    }),
  };

  builder.relayMutationField(
    'createComputedTrait',
    {
      inputFields: (t) => ({
        key: t.string({ required: true }),
        kind: t.field({ type: KindEnum, required: true }),
        config: t.field({
          type: 'JSON',
          required: true,
          description: 'As computedTraitKinds describes for the kind',
        }),
      }),
    },
    {
      authScopes: { editor: true },
      errors: { types: [ValidationError] },
      resolve: async (_root, { input }, ctx) => ({
        computedTrait: await createComputedTrait(ctx.em, runtime.jobs, workspaceIdOf(ctx), input),
      }),
    },
    payload,
  );

  builder.relayMutationField(
    'updateComputedTrait',
    {
      inputFields: (t) => ({
        id: t.globalID({ required: true, for: DefinitionRef }),
        kind: t.field({ type: KindEnum, required: false }),
        config: t.field({ type: 'JSON', required: false }),
      }),
    },
    {
      authScopes: { editor: true },
      errors: { types: [ValidationError, NotFoundError] },
      resolve: async (_root, { input }, ctx) => ({
        computedTrait: await updateComputedTrait(ctx.em, runtime.jobs, workspaceIdOf(ctx), {
          ...input,
          id: input.id.id,
        }),
      }),
    },
    payload,
  );

  builder.relayMutationField(
    'deleteComputedTrait',
    { inputFields: (t) => ({ id: t.globalID({ required: true, for: DefinitionRef }) }) },
    {
      authScopes: { editor: true },
      errors: { types: [ValidationError, NotFoundError] },
      resolve: async (_root, { input }, ctx) => {
        const deleted = await deleteComputedTrait(
          ctx.em,
          runtime.jobs,
          workspaceIdOf(ctx),
          shared.operators(),
          input.id.id,
        );
        return { key: deleted.key };
      },
    },
    {
      outputFields: (t) => ({
        key: t.string({ description: 'The key that was deleted', resolve: (p) => p.key }),
      }),
    },
  );
}
