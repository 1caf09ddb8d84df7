import {
  type EnqueuedTaskPromise,
  type Filter,
  Meilisearch,
  MeilisearchApiError,
  MeilisearchRequestError,
  MeilisearchRequestTimeOutError,
  MeilisearchTaskTimeOutError,
  type MultiSearchQueryWithFederation,
  type Task,
} from 'meilisearch';
import type { Logger } from '../kernel/logger.ts';
import {
  assertCollection,
  type CollectionSettings,
  clampLimit,
  type FilterValue,
  fieldText,
  filterValues,
  languageOf,
  type SearchDocument,
  type SearchEngine,
  SearchError,
  type SearchFilters,
  type SearchHit,
  type SearchQuery,
  type SearchResult,
} from './engine.ts';

/** Meilisearch names languages by ISO 639-3. */
const ISO3: Record<string, string> = {
  de: 'deu',
  en: 'eng',
  fr: 'fra',
  es: 'spa',
  it: 'ita',
  nl: 'nld',
  pt: 'por',
  da: 'dan',
  sv: 'swe',
  nb: 'nob',
  no: 'nor',
  fi: 'fin',
  pl: 'pol',
  tr: 'tur',
  ja: 'jpn',
  zh: 'cmn',
};
const BATCH = 1000;
const TASK_TIMEOUT_MS = 120_000;
// Sentinels for highlight tags: the text is HTML-escaped after Meilisearch marks it.
const PRE = '\u0001';
const POST = '\u0002';

/** The index of a workspace's collection: `${workspaceId}_${collection}`, in Meilisearch's alphabet. */
export function indexUid(workspaceId: string, collection: string): string {
  return `${workspaceId.replace(/[^A-Za-z0-9-]/g, '_')}_${collection.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/** A document's primary key: id and locale together, in characters Meilisearch accepts. */
function documentKey(id: string, locale: string): string {
  return Buffer.from(JSON.stringify([id, locale])).toString('base64url');
}

interface StoredDocument {
  key: string;
  id: string;
  locale: string;
  fields: Record<string, string>;
  filters: Record<string, FilterValue[]>;
}

/**
 * The production engine: an index per workspace and collection, settings from the collection's,
 * every write awaited as a task whose failure is thrown as `SearchError('SEARCH_TASK_FAILED')`.
 * Documents are `{ key, id, locale, fields: {…}, filters: {…} }`, so no field can clash with ours.
 */
export class MeilisearchEngine implements SearchEngine {
  readonly kind = 'meilisearch';
  readonly #client: Meilisearch;
  readonly #url: string;
  readonly #logger: Logger | undefined;

  constructor(options: { url: string; apiKey?: string; logger?: Logger; timeoutMs?: number }) {
    this.#url = options.url;
    this.#logger = options.logger;
    this.#client = new Meilisearch({
      host: options.url,
      apiKey: options.apiKey,
      timeout: options.timeoutMs ?? 10_000,
      clientAgents: ['atrium'],
    });
  }

  async ensureCollection(
    workspaceId: string,
    collection: string,
    settings: CollectionSettings,
  ): Promise<void> {
    assertCollection(collection);
    const uid = indexUid(workspaceId, collection);
    const created = await this.#task(`create index ${uid}`, () =>
      this.#client.createIndex(uid, { primaryKey: 'key' }),
    ).catch((error: unknown) => {
      if (error instanceof SearchError && error.message.includes('index_already_exists')) return null;
      throw error;
    });
    if (created) this.#logger?.info({ index: uid }, 'Meilisearch index created');
    const typo = settings.typoTolerance ?? {};
    const locales = [...new Set((settings.localized ?? []).map((l) => ISO3[languageOf(l)]).filter(Boolean))];
    await this.#task(`settings of ${uid}`, () =>
      this.#client.index(uid).updateSettings({
        searchableAttributes: settings.searchable.map((f) => `fields.${f}`),
        filterableAttributes: ['id', 'locale', ...(settings.filterable ?? []).map((f) => `filters.${f}`)],
        sortableAttributes: (settings.sortable ?? []).map((f) => `filters.${f}`),
        localizedAttributes: locales.length
          ? [{ attributePatterns: ['fields.*'], locales: locales as string[] }]
          : [],
        synonyms: settings.synonyms ?? {},
        typoTolerance: {
          enabled: typo.enabled ?? true,
          minWordSizeForTypos: {
            oneTypo: typo.minWordSizeForOneTypo ?? 5,
            twoTypos: typo.minWordSizeForTwoTypos ?? 9,
          },
        },
      }),
    );
  }

  async index(workspaceId: string, collection: string, docs: SearchDocument[]): Promise<void> {
    const uid = indexUid(workspaceId, collection);
    const stored: StoredDocument[] = docs.map((doc) => {
      const fields: Record<string, string> = {};
      for (const [name, value] of Object.entries(doc.fields)) {
        const text = fieldText(value);
        if (text) fields[name] = text;
      }
      const filters: Record<string, FilterValue[]> = {};
      for (const [name, value] of Object.entries(doc.filters ?? {})) filters[name] = filterValues(value);
      const locale = doc.locale ?? '';
      return { key: documentKey(doc.id, locale), id: doc.id, locale, fields, filters };
    });
    for (let i = 0; i < stored.length; i += BATCH) {
      const batch = stored.slice(i, i + BATCH);
      await this.#task(`add documents to ${uid}`, () =>
        this.#client.index<StoredDocument>(uid).addDocuments(batch, { primaryKey: 'key' }),
      );
    }
  }

  async remove(workspaceId: string, collection: string, ids: string[]): Promise<void> {
    if (!ids.length) return;
    const uid = indexUid(workspaceId, collection);
    await this.#task(`remove documents from ${uid}`, () =>
      this.#client.index(uid).deleteDocuments({ filter: `id IN ${list(ids)}` }),
    ).catch(ignoreMissingIndex);
  }

  async removeWhere(workspaceId: string, filter: SearchFilters): Promise<number> {
    const expression = filterExpression(filter);
    if (!expression.length) {
      throw new SearchError('SEARCH_INVALID_FILTER', 'removeWhere needs at least one filter attribute');
    }
    let removed = 0;
    for (const uid of await this.#indexesOf(workspaceId)) {
      const filterable = await this.#call(() => this.#client.index(uid).getFilterableAttributes());
      const names = (filterable ?? []).map((a) => (typeof a === 'string' ? a : JSON.stringify(a)));
      // An index that cannot filter by the attribute holds no such documents.
      if (!Object.keys(filter).every((attribute) => names.includes(`filters.${attribute}`))) continue;
      const task = await this.#task(`remove matching documents from ${uid}`, () =>
        this.#client.index(uid).deleteDocuments({ filter: expression }),
      );
      removed += Number((task.details as { deletedDocuments?: number } | undefined)?.deletedDocuments ?? 0);
    }
    return removed;
  }

  async drop(workspaceId: string, collection: string): Promise<void> {
    const uid = indexUid(workspaceId, collection);
    await this.#task(`delete index ${uid}`, () => this.#client.deleteIndex(uid)).catch(ignoreMissingIndex);
  }

  async health(): Promise<void> {
    await this.#call(() => this.#client.health());
  }

  async search(query: SearchQuery): Promise<SearchResult> {
    const started = performance.now();
    for (const c of query.collections ?? []) assertCollection(c);
    let uids = query.collections?.length
      ? query.collections.map((c) => indexUid(query.workspaceId, c))
      : await this.#indexesOf(query.workspaceId);
    const filter: string[] = filterExpression(query.filters ?? {});
    if (query.locale)
      filter.push(`locale IN ${list([...new Set([query.locale, languageOf(query.locale), ''])])}`);
    const locales = query.locale && ISO3[languageOf(query.locale)];
    const sort = query.sort?.map((s) => `filters.${s}`);
    const request = (uid: string): MultiSearchQueryWithFederation => ({
      indexUid: uid,
      q: query.query,
      filter: filter as Filter,
      ...(locales ? { locales: [locales] } : {}),
      ...(sort?.length ? { sort } : {}),
      attributesToHighlight: ['fields.*'],
      attributesToCrop: ['fields.*'],
      cropLength: 24,
      cropMarker: '…',
      highlightPreTag: PRE,
      highlightPostTag: POST,
      showRankingScore: true,
    });
    for (let attempt = 0; ; attempt++) {
      if (!uids.length) return { hits: [], total: 0, tookMs: performance.now() - started };
      try {
        const response = await this.#call(() =>
          this.#client.multiSearch({
            federation: { limit: clampLimit(query.limit), offset: Math.max(0, query.offset ?? 0) },
            queries: uids.map(request),
          }),
        );
        const collectionOf = new Map(
          uids.map((uid) => [uid, uid.slice(indexUid(query.workspaceId, '').length)] as const),
        );
        const hits: SearchHit[] = response.hits.map((hit) => {
          const formatted =
            (hit._formatted as { fields?: Record<string, unknown> } | undefined)?.fields ?? {};
          const highlights: Record<string, string> = {};
          for (const [field, value] of Object.entries(formatted)) {
            const text = typeof value === 'string' ? value : Array.isArray(value) ? value.join('\n') : '';
            if (text.includes(PRE)) highlights[field] = markHighlights(text);
          }
          const uid = hit._federation?.indexUid ?? uids[0] ?? '';
          return {
            id: String(hit.id),
            collection: collectionOf.get(uid) ?? uid,
            locale: (hit.locale as string) || null,
            score: hit._rankingScore ?? 0,
            highlights,
          };
        });
        return {
          hits,
          total: response.estimatedTotalHits ?? response.totalHits ?? hits.length,
          tookMs: performance.now() - started,
        };
      } catch (error) {
        // A collection never indexed in this workspace has no index yet: it has no hits either.
        if (attempt === 0 && error instanceof SearchError && error.message.includes('index_not_found')) {
          const existing = new Set(await this.#indexesOf(query.workspaceId));
          uids = uids.filter((uid) => existing.has(uid));
          continue;
        }
        throw error;
      }
    }
  }

  async #indexesOf(workspaceId: string): Promise<string[]> {
    const prefix = indexUid(workspaceId, '');
    const uids: string[] = [];
    for (let offset = 0; ; offset += 1000) {
      const page = await this.#call(() => this.#client.getIndexes({ offset, limit: 1000 }));
      uids.push(...page.results.map((i) => i.uid).filter((uid) => uid.startsWith(prefix)));
      if (page.results.length < 1000) return uids;
    }
  }

  /** Enqueues, waits for the task and throws its error when it failed. */
  async #task(what: string, enqueue: () => EnqueuedTaskPromise): Promise<Task> {
    const task = await this.#call(() => enqueue().waitTask({ timeout: TASK_TIMEOUT_MS }));
    if (task.status !== 'succeeded') {
      const reason = task.error ? `${task.error.message} [${task.error.code}]` : task.status;
      throw new SearchError(
        'SEARCH_TASK_FAILED',
        `Meilisearch task ${task.uid} (${what}) ${task.status}: ${reason}`,
      );
    }
    return task;
  }

  /** Client errors as `SearchError`s: unreachable → SEARCH_UNAVAILABLE; the URL shown, never the key. */
  async #call<T>(request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      if (error instanceof SearchError) throw error;
      if (error instanceof MeilisearchRequestError || error instanceof MeilisearchRequestTimeOutError) {
        throw new SearchError(
          'SEARCH_UNAVAILABLE',
          `Meilisearch at ${this.#url} is unavailable: ${error.message}`,
          {
            cause: error,
          },
        );
      }
      if (error instanceof MeilisearchTaskTimeOutError) {
        throw new SearchError('SEARCH_TASK_FAILED', error.message, { cause: error });
      }
      if (error instanceof MeilisearchApiError) {
        const code = error.cause?.code ?? 'unknown';
        const invalidFilter = /invalid_(search|document)_(filter|sort)/.test(code);
        throw new SearchError(
          invalidFilter ? 'SEARCH_INVALID_FILTER' : 'SEARCH_ENGINE_ERROR',
          `Meilisearch: ${error.cause?.message ?? error.message} [${code}]`,
          { cause: error },
        );
      }
      throw new SearchError('SEARCH_ENGINE_ERROR', `Meilisearch: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}

function ignoreMissingIndex(error: unknown): null {
  if (error instanceof SearchError && error.message.includes('index_not_found')) return null;
  throw error;
}

/** `filters.tags = "a"`, `filters.tags IN ["a", "b"]`: on a list attribute, "contains". */
function filterExpression(filters: SearchFilters): string[] {
  return Object.entries(filters).map(([attribute, value]) => {
    if (!/^[A-Za-z0-9_]+$/.test(attribute)) {
      throw new SearchError('SEARCH_INVALID_FILTER', `"${attribute}" is not a valid filter attribute`);
    }
    const values = filterValues(value);
    return Array.isArray(value)
      ? `filters.${attribute} IN ${list(values)}`
      : `filters.${attribute} = ${literal(value)}`;
  });
}

function list(values: FilterValue[]): string {
  return `[${values.map(literal).join(', ')}]`;
}

function literal(value: FilterValue): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** HTML-escapes a highlighted text and turns the sentinels into `<mark>` tags. */
function markHighlights(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replaceAll(PRE, '<mark>')
    .replaceAll(POST, '</mark>');
}
