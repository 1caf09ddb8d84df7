import { openDatabase } from '../db/open.ts';
import { migrate } from '../db/orm.ts';
import { loadConfig } from '../kernel/config.ts';
import { createLogger } from '../kernel/logger.ts';
import { loadModules } from '../kernel/module-host.ts';
import { coreModules } from '../modules/index.ts';

/** `atrium migrate`: the Helm pre-upgrade hook runs this before new pods start. */
export async function migrateCommand(): Promise<void> {
  const { settings, plugins } = await loadConfig();
  const logger = createLogger(settings.LOG_LEVEL);
  const database = await openDatabase(settings, loadModules(coreModules, plugins), logger, {
    migrateEmbedded: false,
  });
  try {
    const applied = await migrate(database.orm);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'the database is up to date');
  } finally {
    await database.close();
  }
}
