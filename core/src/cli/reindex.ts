import type { MikroORM } from '@mikro-orm/postgresql';
import { openDatabase } from '../db/open.ts';
import { sql } from '../db/sql.ts';
import { loadConfig } from '../kernel/config.ts';
import { ConfigError } from '../kernel/errors.ts';
import { createLogger } from '../kernel/logger.ts';
import { loadModules } from '../kernel/module-host.ts';
import { coreModules } from '../modules/index.ts';
import type { SearchEngine } from '../search/engine.ts';
import { createSearchEngine } from '../search/index.ts';
import { progressBar, SearchIndexer, type SearchSource } from '../search/indexing.ts';

export interface ReindexOptions {
  orm: MikroORM;
  search: SearchEngine;
  sources: readonly SearchSource[];
  /** A workspace slug; absent: every workspace. */
  workspace?: string;
  /** A collection; absent: every collection a module declares. */
  collection?: string;
  /** Where the progress bar goes (stderr in the CLI). */
  progress?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Drops and rebuilds collections from their sources; returns documents indexed per workspace/collection. */
export async function reindex(options: ReindexOptions): Promise<Record<string, number>> {
  const indexer = new SearchIndexer(options.search, options.sources);
  const collections = options.collection
    ? [indexer.source(options.collection).collection]
    : indexer.collections;
  const em = options.orm.em.fork();
  const workspaces = await sql<{ id: string; slug: string }>(
    em,
    options.workspace
      ? 'select id, slug from workspace where slug = $1'
      : 'select id, slug from workspace order by slug',
    options.workspace ? [options.workspace] : [],
  );
  if (options.workspace && !workspaces.length) {
    throw new ConfigError('--workspace', `no workspace "${options.workspace}"`);
  }
  const out = options.progress;
  const counts: Record<string, number> = {};
  for (const workspace of workspaces) {
    for (const collection of collections) {
      const label = `${workspace.slug}/${collection}`;
      let lastTenth = -1;
      counts[label] = await indexer.reindex(em, workspace.id, collection, {
        onProgress: (done, total) => {
          const line = progressBar(label, done, total);
          // A terminal gets one line redrawn; a log (CI, kubectl logs) a line per tenth.
          const tenth = total ? Math.floor((done / total) * 10) : 10;
          if (out?.isTTY) out.write(`\r${line}`);
          else if (tenth !== lastTenth) out?.write(`${line}\n`);
          lastTenth = tenth;
        },
      });
      if (out?.isTTY) out.write('\n');
    }
  }
  return counts;
}

/** `atrium reindex [--workspace slug] [--collection c]`. */
export async function reindexCommand(args: { workspace?: string; collection?: string }): Promise<void> {
  const { settings, plugins } = await loadConfig();
  const logger = createLogger(settings.LOG_LEVEL === 'info' ? 'warn' : settings.LOG_LEVEL);
  const modules = loadModules(coreModules, plugins);
  const database = await openDatabase(settings, modules, logger);
  const orm = database.orm;
  const search = createSearchEngine(settings, orm, logger);
  try {
    const counts = await reindex({
      orm,
      search,
      sources: modules.flatMap((m) => m.definition.searchSources ?? []),
      ...args,
      progress: process.stderr,
    });
    for (const [label, documents] of Object.entries(counts)) console.log(`${label}: ${documents} documents`);
    if (!Object.keys(counts).length) console.log('nothing to reindex: no workspace or no search source');
  } finally {
    await search.close?.();
    await database.close();
  }
}
