import { createLogger } from '../kernel/logger.ts';
import { type LoadedModule, loadModules } from '../kernel/module-host.ts';
import type { AnyRuntime, AtriumPlugin } from '../kernel/plugin.ts';
import { coreModules } from '../modules/index.ts';
import { type AtriumSchemas, buildSchemas, printSorted } from './schema.ts';

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

/** Both graphs of core plus `plugins`, built without a database (for printing and for tests). */
export function buildConfiguredSchemas(plugins: AtriumPlugin[]): AtriumSchemas {
  const modules = loadModules(coreModules, plugins);
  return buildSchemas(modules, printingRuntime, { maxDepth: 12, maxComplexity: 2000, maxBreadth: 200 });
}

/** The SDL of core plus `plugins`, sorted, as committed and compared by the drift test. */
export function printConfiguredSchema(plugins: AtriumPlugin[], graph: 'admin' | 'public'): string {
  return printSorted(buildConfiguredSchemas(plugins)[graph]);
}
