import { startEmbeddedDatabase } from '../db/embedded.ts';
import { createOrm, migrate } from '../db/orm.ts';
import { loadConfig } from '../kernel/config.ts';
import { createLogger } from '../kernel/logger.ts';
import { loadModules } from '../kernel/module-host.ts';
import { coreModules } from '../modules/index.ts';

/** `atrium migrate`: the Helm pre-upgrade hook runs this before new pods start. */
export async function migrateCommand(): Promise<void> {
  const { settings, plugins } = await loadConfig();
  const logger = createLogger(settings.LOG_LEVEL);
  const modules = loadModules(coreModules, plugins);
  const embedded = settings.DATABASE_URL
    ? null
    : await startEmbeddedDatabase(settings.ATRIUM_DATA_DIR, logger);
  const orm = await createOrm({
    databaseUrl: settings.DATABASE_URL ?? (embedded?.url as string),
    modules,
    poolMax: 2,
    logger,
  });
  try {
    const applied = await migrate(orm);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'the database is up to date');
  } finally {
    await orm.close();
    await embedded?.stop();
  }
}
