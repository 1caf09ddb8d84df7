import { type GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import type { LoadedModule } from '../kernel/module-host.ts';
import type { ModuleRuntime } from '../kernel/plugin.ts';
import { createBuilder, type GraphQLLimits } from './builder.ts';
import { addCoreTypes } from './core-types.ts';

export interface AtriumSchemas {
  admin: GraphQLSchema;
  public: GraphQLSchema;
}

/** One builder per server: core types first, then every module's fields, then both sub-graphs. */
export function buildSchemas(
  modules: LoadedModule[],
  runtimeOf: (module: LoadedModule) => ModuleRuntime<any>,
  limits: GraphQLLimits,
): AtriumSchemas {
  const builder = createBuilder(limits);
  const refs = addCoreTypes(builder);
  for (const module of modules) module.definition.schema?.(builder, refs, runtimeOf(module));
  return {
    admin: builder.toSchema({ subGraph: 'admin' }),
    public: builder.toSchema({ subGraph: 'public' }),
  };
}

/** The committed form of a schema: sorted, so that only real changes show in a diff. */
export function printSorted(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
