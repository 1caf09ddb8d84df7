import { type GraphQLObjectType, GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import type { LoadedModule } from '../kernel/module-host.ts';
import type { AnyRuntime } from '../kernel/plugin.ts';
import { auditMutations } from '../modules/audit/mutations.ts';
import { createBuilder, type GraphQLLimits } from './builder.ts';
import { addCoreTypes } from './core-types.ts';

export interface AtriumSchemas {
  admin: GraphQLSchema;
  public: GraphQLSchema;
}

/** One builder per server: core types first, then every module's fields, then both sub-graphs. */
export function buildSchemas(
  modules: LoadedModule[],
  runtimeOf: (module: LoadedModule) => AnyRuntime,
  limits: GraphQLLimits,
): AtriumSchemas {
  const builder = createBuilder(limits);
  const refs = addCoreTypes(builder);
  for (const module of modules) module.definition.schema?.(builder, refs, runtimeOf(module));
  return {
    // Every Admin mutation that succeeds leaves an audit entry (staff actions; customers use Public).
    admin: auditMutations(withoutEmptyRoots(builder.toSchema({ subGraph: 'admin' }))),
    public: withoutEmptyRoots(builder.toSchema({ subGraph: 'public' })),
  };
}

/** A sub-graph may have no mutations yet; an empty root type would make the schema invalid. */
function withoutEmptyRoots(schema: GraphQLSchema): GraphQLSchema {
  const config = schema.toConfig();
  const empty = (type: GraphQLObjectType | null | undefined) =>
    !!type && Object.keys(type.getFields()).length === 0;
  if (!empty(config.mutation) && !empty(config.subscription)) return schema;
  const dropped = new Set([config.mutation, config.subscription].filter(empty));
  return new GraphQLSchema({
    ...config,
    mutation: empty(config.mutation) ? null : config.mutation,
    subscription: empty(config.subscription) ? null : config.subscription,
    types: config.types.filter((t) => !dropped.has(t as GraphQLObjectType)),
  });
}

/** The committed form of a schema: sorted, so that only real changes show in a diff. */
export function printSorted(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
