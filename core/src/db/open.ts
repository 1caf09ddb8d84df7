import type { MikroORM } from '@mikro-orm/postgresql';
import type { Settings } from '../kernel/config.ts';
import type { Logger } from '../kernel/logger.ts';
import type { LoadedModule } from '../kernel/module-host.ts';
import { type EmbeddedDatabase, startEmbeddedDatabase } from './embedded.ts';
import { createOrm, migrate } from './orm.ts';

export interface OpenDatabase {
  orm: MikroORM;
  embedded: EmbeddedDatabase | null;
  close(): Promise<void>;
}

/**
 * The database a one-off command (migrate, reindex) works on: DATABASE_URL, or the embedded
 * PGlite, which is migrated on open as `atrium start` would (it has no separate migrate step).
 */
export async function openDatabase(
  settings: Settings,
  modules: LoadedModule[],
  logger: Logger,
  options: { migrateEmbedded?: boolean } = {},
): Promise<OpenDatabase> {
  const embedded = settings.DATABASE_URL
    ? null
    : await startEmbeddedDatabase(settings.ATRIUM_DATA_DIR, logger);
  const orm = await createOrm({
    databaseUrl: settings.DATABASE_URL ?? (embedded as EmbeddedDatabase).url,
    modules,
    poolMax: embedded ? 1 : 4,
    logger,
  });
  if (embedded && options.migrateEmbedded !== false) await migrate(orm);
  return {
    orm,
    embedded,
    async close() {
      await orm.close();
      await embedded?.stop();
    },
  };
}
