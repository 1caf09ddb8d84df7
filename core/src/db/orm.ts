import { Migrator } from '@mikro-orm/migrations';
import { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from '../kernel/logger.ts';
import type { LoadedModule } from '../kernel/module-host.ts';
import type { AnyEntitySchema } from '../kernel/plugin.ts';
import { coreMigrations } from './migrations/index.ts';

/** The filter that confines every workspace-scoped query to the caller's workspace. */
export const WORKSPACE_FILTER = 'workspace';

export interface OrmOptions {
  databaseUrl: string;
  /** Their entities are mapped and their migrations (after the core's) applied, in list order. */
  modules: LoadedModule[];
  poolMax: number;
  logger: Logger;
  /** A name shown in pg_stat_activity, to tell API and worker connections apart. */
  applicationName?: string;
}

/** Any entity with a `workspace` property is workspace-scoped; no opt-in to forget. */
export function workspaceScopedEntities(entities: AnyEntitySchema[]): AnyEntitySchema[] {
  return entities.filter((e) => 'workspace' in (e.meta.properties ?? {}));
}

export async function createOrm(options: OrmOptions): Promise<MikroORM> {
  const entities = options.modules.flatMap((m) => m.definition.entities ?? []);
  const migrations = [...coreMigrations, ...options.modules.flatMap((m) => m.definition.migrations ?? [])];
  const scoped = workspaceScopedEntities(entities);
  return MikroORM.init({
    clientUrl: options.databaseUrl,
    entities,
    extensions: [Migrator],
    pool: { min: 0, max: options.poolMax },
    driverOptions: { application_name: options.applicationName ?? 'atrium' },
    // Without params the filter throws instead of returning every workspace's rows.
    filters: {
      [WORKSPACE_FILTER]: {
        name: WORKSPACE_FILTER,
        entity: scoped.map((e) => e.meta.className),
        cond: (args: { id: string }) => ({ workspace: args.id }),
        default: true,
      },
    },
    migrations: {
      migrationsList: migrations,
      tableName: 'atrium_migrations',
      transactional: true,
      allOrNothing: true,
      silent: true,
      // Migrations are written by hand from `npm run db:diff`; no snapshot files in the tree.
      snapshot: false,
    },
    allowGlobalContext: false,
    loggerFactory: () => ({
      log: (namespace: string, message: string) => options.logger.debug({ namespace }, message),
      error: (namespace: string, message: string) => options.logger.error({ namespace }, message),
      warn: (namespace: string, message: string) => options.logger.warn({ namespace }, message),
      logQuery: () => {},
      setDebugMode: () => {},
      isEnabled: () => false,
    }),
  });
}

/** Applies every pending migration of core and plugins, in the order they were listed. */
export async function migrate(orm: MikroORM): Promise<string[]> {
  const applied = await orm.migrator.up();
  return applied.map((m) => m.name);
}
