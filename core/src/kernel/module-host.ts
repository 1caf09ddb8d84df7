import semver from 'semver';
import { PluginError } from './errors.ts';
import type { AnyModule, AtriumPlugin, JobDefinition } from './plugin.ts';
import { CORE_VERSION } from './version.ts';

/** A module with its validated config, ready for the host to wire. */
export interface LoadedModule {
  definition: AnyModule;
  config: unknown;
  /** The module's job definitions, resolved against its validated config. */
  jobs: Record<string, JobDefinition<unknown>>;
  /** True for plugins from atrium.config.ts, false for core modules. */
  isPlugin: boolean;
}

const NAME = /^[a-z][a-z0-9-]{1,62}$/;

/**
 * Checks every plugin before anything starts: a name, a compatible core range, options
 * that satisfy its config schema, no clash with another module. The first problem stops boot.
 */
export function loadModules(coreModules: AnyModule[], plugins: AtriumPlugin[]): LoadedModule[] {
  const loaded: LoadedModule[] = coreModules.map((definition) => withJobs(definition, undefined, false));
  const names = new Set(coreModules.map((m) => m.name));
  for (const plugin of plugins) {
    const def = plugin?.definition;
    if (!def || typeof def.name !== 'string') {
      throw new PluginError(
        String(def?.name ?? '?'),
        'is not a plugin: use definePlugin() and call the factory',
      );
    }
    if (!NAME.test(def.name))
      throw new PluginError(def.name, 'name must be lower-case letters, digits and dashes');
    if (names.has(def.name)) throw new PluginError(def.name, 'is listed twice or clashes with a core module');
    names.add(def.name);
    const range = def.compatibility;
    if (!range || !semver.validRange(range)) {
      throw new PluginError(def.name, `compatibility must be a semver range (got ${JSON.stringify(range)})`);
    }
    if (!semver.satisfies(CORE_VERSION, range)) {
      throw new PluginError(def.name, `needs @atrium/core ${range} but this is ${CORE_VERSION}`);
    }
    loaded.push(withJobs(def, parsePluginConfig(def, plugin.options), true));
  }
  assertUnique(loaded, (m) => Object.keys(m.jobs), 'job queue');
  assertUnique(loaded, (m) => (m.definition.migrations ?? []).map((x) => x.name), 'migration');
  assertUnique(loaded, (m) => (m.definition.entities ?? []).map((e) => e.meta.className), 'entity');
  assertUnique(loaded, (m) => (m.definition.segmentOperators ?? []).map((o) => o.code), 'segment operator');
  assertUnique(
    loaded,
    (m) => (m.definition.searchSources ?? []).map((s) => s.collection),
    'search collection',
  );
  assertUnique(loaded, (m) => (m.definition.channels ?? []).map((c) => c.code), 'channel');
  assertUnique(loaded, (m) => (m.definition.journeySteps ?? []).map((s) => s.code), 'journey step');
  assertUnique(loaded, (m) => (m.definition.assistantTools ?? []).map((t) => t.code), 'assistant tool');
  return loaded;
}

function withJobs(definition: AnyModule, config: unknown, isPlugin: boolean): LoadedModule {
  const jobs = typeof definition.jobs === 'function' ? definition.jobs(config) : (definition.jobs ?? {});
  return { definition, config, jobs, isPlugin };
}

function parsePluginConfig(def: AnyModule, options: unknown): unknown {
  if (!def.config) return options;
  const parsed = def.config.safeParse(options ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = issue?.path.length ? issue.path.join('.') : 'options';
  throw new PluginError(def.name, `is misconfigured: ${path}: ${issue?.message ?? 'invalid'}`);
}

function assertUnique(modules: LoadedModule[], keys: (m: LoadedModule) => string[], what: string): void {
  const owner = new Map<string, string>();
  for (const m of modules) {
    for (const key of keys(m)) {
      const first = owner.get(key);
      if (first)
        throw new PluginError(m.definition.name, `declares ${what} "${key}" that ${first} already declares`);
      owner.set(key, m.definition.name);
    }
  }
}
