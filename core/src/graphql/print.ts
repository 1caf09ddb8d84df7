import { createLogger } from '../kernel/logger.ts';
import { type LoadedModule, loadModules } from '../kernel/module-host.ts';
import type { AnyRuntime, AtriumPlugin } from '../kernel/plugin.ts';
import { coreModules } from '../modules/index.ts';
import { buildSchemas, printSorted } from './schema.ts';

/** A runtime for building the schema without a database: resolvers are never called. */
function printingRuntime(module: LoadedModule): AnyRuntime {
  const unavailable = (what: string) => () => {
    throw new Error(`${what} is not available while printing the schema`);
  };
  return Object.defineProperties(
    {
      name: module.definition.name,
      config: module.config,
      logger: createLogger('silent'),
    } as AnyRuntime,
    { orm: { get: unavailable('the database') }, jobs: { get: unavailable('the job queue') } },
  );
}

/** The SDL of core plus `plugins`, sorted, as committed and compared by the drift test. */
export function printConfiguredSchema(plugins: AtriumPlugin[], graph: 'admin' | 'public'): string {
  const modules = loadModules(coreModules, plugins);
  const schemas = buildSchemas(modules, printingRuntime, {
    maxDepth: 12,
    maxComplexity: 2000,
    maxBreadth: 200,
  });
  return printSorted(schemas[graph]);
}
