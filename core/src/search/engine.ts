import type { EntityManager } from '@mikro-orm/postgresql';
import { AtriumError } from '../kernel/errors.ts';

/**
 * The search port: what modules index and query, whichever engine runs behind it
 * (Meilisearch in production, PostgreSQL full-text search as the embedded default).
 * Documents live in collections (`content`, `knowledge`, …) per workspace; a workspace
 * never sees another's documents.
 */
export interface SearchEngine {
  /** `postgres` or `meilisearch`: for logs and health checks. */
  readonly kind: string;
  /** Creates the collection or updates its settings; idempotent. */
  ensureCollection(workspaceId: string, collection: string, settings: CollectionSettings): Promise<void>;
  /** Adds or replaces documents, keyed by (id, locale). */
  index(workspaceId: string, collection: string, docs: SearchDocument[]): Promise<void>;
  /** Removes documents by id, in every locale. */
  remove(workspaceId: string, collection: string, ids: string[]): Promise<void>;
  /**
   * Removes every document of the workspace (all collections) whose filter attributes match:
   * erasure (`{ profileId: [...] }`). Returns how many went, where the engine can tell (-1 otherwise).
   * `em`: an engine in the same database works in that transaction (an erasure's), so that the
   * documents go if and only if it commits; other engines remove at once.
   */
  removeWhere(workspaceId: string, filter: SearchFilters, options?: { em?: EntityManager }): Promise<number>;
  /** Deletes the collection with its documents and settings. */
  drop(workspaceId: string, collection: string): Promise<void>;
  search(query: SearchQuery): Promise<SearchResult>;
  /** Throws `SearchError` SEARCH_UNAVAILABLE when the engine cannot be reached. */
  health(): Promise<void>;
  close?(): Promise<void>;
}

export type FilterValue = string | number | boolean;

/**
 * Attribute → value. A scalar means equality (for a list-valued attribute such as `tags`: "contains");
 * a list means "any of" (`IN`). Only attributes listed in `filterable` may be used.
 */
export type SearchFilters = Record<string, FilterValue | FilterValue[]>;

export interface TypoTolerance {
  /** Default true. */
  enabled?: boolean;
  /** Words shorter than this get no typo (default 5, as Meilisearch). */
  minWordSizeForOneTypo?: number;
  /** Words at least this long may have two typos (default 9, as Meilisearch). */
  minWordSizeForTwoTypos?: number;
}

export interface CollectionSettings {
  /** Searchable fields, most important first: the first weighs most (PostgreSQL weights A, B, then C). */
  searchable: string[];
  /** Filter attributes that `search({ filters })` and `removeWhere` may use. */
  filterable?: string[];
  /** Filter attributes that `search({ sort })` may use. */
  sortable?: string[];
  /** Locales the collection holds (`de`, `en`, `de-CH`): tokenization and stemming per language. */
  localized?: string[];
  /** A word → words that it also finds (one-way; list both directions for mutual synonyms). */
  synonyms?: Record<string, string[]>;
  typoTolerance?: TypoTolerance;
}

export interface SearchDocument {
  /** The id of the thing found (an entry id); unique per collection together with `locale`. */
  id: string;
  /** BCP 47 locale of the text (`de`, `en-GB`); absent: language-neutral. */
  locale?: string;
  /** Text of the searchable fields; lists are joined. Other fields are ignored. */
  fields: Record<string, string | string[] | null | undefined>;
  /** Values of filterable/sortable attributes; lists for multi-valued ones (`tags`). */
  filters?: Record<string, FilterValue | FilterValue[] | null | undefined>;
}

export interface SearchQuery {
  workspaceId: string;
  /** Absent or empty: every collection of the workspace. */
  collections?: string[];
  /** websearch syntax: words, "quoted phrases", `or`, `-excluded`. */
  query: string;
  filters?: SearchFilters;
  /** Only documents in this locale (or its language: `de-CH` also finds `de`), and language-neutral ones. */
  locale?: string;
  /** `attribute:asc|desc`, before relevance. */
  sort?: string[];
  /** Default 20, at most 100. */
  limit?: number;
  offset?: number;
}

export interface SearchHit {
  id: string;
  collection: string;
  locale: string | null;
  /** Relevance in 0..1, comparable within one result. */
  score: number;
  /** Field → fragment with the matches in `<mark>…</mark>`; only fields that matched. */
  highlights: Record<string, string>;
}

export interface SearchResult {
  hits: SearchHit[];
  /** How many documents match (Meilisearch: its estimate). */
  total: number;
  tookMs: number;
}

export type SearchErrorCode =
  | 'SEARCH_UNAVAILABLE'
  | 'SEARCH_INVALID_FILTER'
  | 'SEARCH_INVALID_COLLECTION'
  | 'SEARCH_TASK_FAILED'
  | 'SEARCH_ENGINE_ERROR';

/** A search failure with a code that callers can translate (GraphQL error; 503 on SEARCH_UNAVAILABLE). */
export class SearchError extends AtriumError {
  declare readonly code: SearchErrorCode;
  constructor(code: SearchErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}

export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 100;

const COLLECTION = /^[a-z][a-z0-9_-]{0,62}$/;

export function assertCollection(collection: string): void {
  if (!COLLECTION.test(collection)) {
    throw new SearchError(
      'SEARCH_INVALID_COLLECTION',
      `collection "${collection}" must be lower-case letters, digits, "-" and "_" (at most 63)`,
    );
  }
}

/** Checks filter attributes against the collections' settings; unknown ones are a caller's mistake. */
export function assertFilterable(filters: SearchFilters | undefined, allowed: ReadonlySet<string>): void {
  for (const attribute of Object.keys(filters ?? {})) {
    if (!allowed.has(attribute)) {
      throw new SearchError(
        'SEARCH_INVALID_FILTER',
        `"${attribute}" is not filterable here (filterable: ${[...allowed].join(', ') || 'none'})`,
      );
    }
  }
}

export function clampLimit(limit: number | undefined): number {
  return Math.min(Math.max(Math.trunc(limit ?? DEFAULT_LIMIT), 1), MAX_LIMIT);
}

/** `de-CH` → `de`. */
export function languageOf(locale: string): string {
  return locale.toLowerCase().split(/[-_]/)[0] ?? '';
}

/** The text of a field as one string. */
export function fieldText(value: string | string[] | null | undefined): string {
  if (value == null) return '';
  return Array.isArray(value) ? value.join('\n') : value;
}

/** Filter values as lists, so that "equals" and "contains" are one operation. */
export function filterValues(value: FilterValue | FilterValue[] | null | undefined): FilterValue[] {
  if (value == null) return [];
  return Array.isArray(value) ? value : [value];
}
