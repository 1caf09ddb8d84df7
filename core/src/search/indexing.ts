import type { EntityManager } from '@mikro-orm/postgresql';
import { WORKSPACE_FILTER } from '../db/orm.ts';
import type { DomainEvent } from '../kernel/events.ts';
import type { JobQueue } from '../kernel/jobs.ts';
import { type CollectionSettings, type SearchDocument, type SearchEngine, SearchError } from './engine.ts';

/**
 * What a module contributes to search: a collection, its settings, and how its rows become
 * documents. Modules declare these in `ModuleDefinition.searchSources`; the core's search module
 * keeps the engine in step (on `search.index` jobs) and `atrium reindex` rebuilds from them.
 */
export interface SearchSource {
  /** Unique across modules: `content`, `knowledge`, `loyalty-offers`. */
  collection: string;
  settings: CollectionSettings;
  /**
   * The documents of these ids, every locale that should be findable (published, public…).
   * An id with no document (unpublished, deleted) leaves the index. `em` is confined to the workspace.
   */
  documentsFor(em: EntityManager, workspaceId: string, ids: string[]): Promise<SearchDocument[]>;
  /** Every id the collection should hold: what reindex walks. */
  allIds(em: EntityManager, workspaceId: string): Promise<string[]>;
  /**
   * Domain events after which the ids they name are indexed again (`content.published`,
   * `content.unpublished`). `ids` defaults to the payload's `entryId`, else the event's subject.
   */
  indexOn?: { event: string; ids?: (event: DomainEvent) => string[] }[];
}

export const SEARCH_INDEX_JOB = 'search.index';

export interface SearchIndexJobData {
  workspaceId: string;
  collection: string;
  ids: string[];
}

/** Queues (re)indexing of some ids; pass `em` to queue it in the transaction that changed them. */
export function queueSearchIndex(
  jobs: JobQueue,
  data: SearchIndexJobData,
  em?: EntityManager,
): Promise<string | null> {
  return jobs.send(SEARCH_INDEX_JOB, data, em ? { em } : {});
}

/** The `search.index` jobs an event calls for: one per source that follows the event type. */
export function indexJobsFor(event: DomainEvent, sources: readonly SearchSource[]): SearchIndexJobData[] {
  const jobs: SearchIndexJobData[] = [];
  for (const source of sources) {
    for (const trigger of source.indexOn ?? []) {
      if (trigger.event !== event.type) continue;
      const ids = trigger.ids?.(event) ?? defaultIds(event);
      if (ids.length) jobs.push({ workspaceId: event.workspaceId, collection: source.collection, ids });
    }
  }
  return jobs;
}

function defaultIds(event: DomainEvent): string[] {
  const entryId = event.payload.entryId;
  if (typeof entryId === 'string') return [entryId];
  return event.subject ? [event.subject] : [];
}

/**
 * Keeps collections in step with their sources. Settings are applied once per process and
 * collection (Meilisearch turns every settings update into a task).
 */
export class SearchIndexer {
  readonly #engine: SearchEngine;
  readonly #sources: Map<string, SearchSource>;
  readonly #ensured = new Set<string>();

  constructor(engine: SearchEngine, sources: readonly SearchSource[]) {
    this.#engine = engine;
    this.#sources = new Map(sources.map((s) => [s.collection, s]));
  }

  source(collection: string): SearchSource {
    const source = this.#sources.get(collection);
    if (!source) {
      throw new SearchError(
        'SEARCH_INVALID_COLLECTION',
        `no search source for collection "${collection}" (known: ${[...this.#sources.keys()].join(', ') || 'none'})`,
      );
    }
    return source;
  }

  get collections(): string[] {
    return [...this.#sources.keys()];
  }

  async ensure(workspaceId: string, collection: string): Promise<void> {
    const key = `${workspaceId}/${collection}`;
    if (this.#ensured.has(key)) return;
    await this.#engine.ensureCollection(workspaceId, collection, this.source(collection).settings);
    this.#ensured.add(key);
  }

  /** Indexes the ids' documents; ids without documents, and locales they no longer have, leave. */
  async sync(em: EntityManager, data: SearchIndexJobData): Promise<{ indexed: number; removed: number }> {
    const source = this.source(data.collection);
    await this.ensure(data.workspaceId, data.collection);
    const docs = await source.documentsFor(em, data.workspaceId, data.ids);
    // Removing first drops locales an entry lost; the moment between the two is the price.
    await this.#engine.remove(data.workspaceId, data.collection, data.ids);
    await this.#engine.index(data.workspaceId, data.collection, docs);
    const kept = new Set(docs.map((d) => d.id));
    return { indexed: docs.length, removed: data.ids.filter((id) => !kept.has(id)).length };
  }

  /**
   * Drops the collection and builds it again from `allIds`, `batchSize` ids at a time;
   * `onProgress` hears after every batch.
   */
  async reindex(
    em: EntityManager,
    workspaceId: string,
    collection: string,
    options: { batchSize?: number; onProgress?: (done: number, total: number) => void } = {},
  ): Promise<number> {
    const source = this.source(collection);
    const scoped = em.fork();
    scoped.setFilterParams(WORKSPACE_FILTER, { id: workspaceId });
    const ids = await source.allIds(scoped, workspaceId);
    await this.#engine.drop(workspaceId, collection);
    this.#ensured.delete(`${workspaceId}/${collection}`);
    await this.ensure(workspaceId, collection);
    const batchSize = options.batchSize ?? 200;
    let documents = 0;
    options.onProgress?.(0, ids.length);
    for (let i = 0; i < ids.length; i += batchSize) {
      const batch = ids.slice(i, i + batchSize);
      const docs = await source.documentsFor(scoped.fork(), workspaceId, batch);
      await this.#engine.index(workspaceId, collection, docs);
      documents += docs.length;
      options.onProgress?.(Math.min(i + batchSize, ids.length), ids.length);
    }
    return documents;
  }
}

/** `content  [#####-----] 512/1024`: one line, rewritten in place on a terminal. */
export function progressBar(label: string, done: number, total: number, width = 30): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `${label.padEnd(12)} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}`;
}
