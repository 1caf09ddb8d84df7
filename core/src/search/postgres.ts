import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { sql } from '../db/sql.ts';
import type { Logger } from '../kernel/logger.ts';
import {
  assertCollection,
  assertFilterable,
  type CollectionSettings,
  clampLimit,
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

/** PostgreSQL's built-in text search configurations by language; any other language: `simple`. */
const CONFIGS: Record<string, string> = {
  de: 'german',
  en: 'english',
  fr: 'french',
  es: 'spanish',
  it: 'italian',
  nl: 'dutch',
  pt: 'portuguese',
  da: 'danish',
  sv: 'swedish',
  nb: 'norwegian',
  no: 'norwegian',
  fi: 'finnish',
};

/** The text search configuration for a locale: `de-CH` → german, `en` → english, others → simple. */
export function textSearchConfig(locale: string | undefined | null): string {
  return (locale && CONFIGS[languageOf(locale)]) || 'simple';
}

const WEIGHTS = ['A', 'B', 'C'] as const;
const BATCH = 500;
/** Fewer FTS hits than this and typo tolerance looks for corrected words. */
const TYPO_FALLBACK_BELOW = 3;
const MAX_VARIANTS = 8;
/** Relevance ranks at most this many matches (and `total` stops here), as Meilisearch's maxTotalHits. */
const MAX_HITS = 1000;
const TITLE_POOL = 250;
const HEADLINE =
  'StartSel=<mark>, StopSel=</mark>, MaxWords=18, MinWords=6, ShortWord=2, MaxFragments=2, FragmentDelimiter=" … "';

interface StoredCollection {
  collection: string;
  settings: CollectionSettings;
}

/**
 * Full-text search in PostgreSQL: a weighted `tsvector` per document in its language's
 * configuration, `websearch_to_tsquery`, `ts_rank_cd`, synonyms by query expansion, typo
 * tolerance by correcting unknown words to close words of the collection (pg_trgm), and
 * `ts_headline` highlights. Works on a server and on embedded PGlite.
 */
export class PostgresSearchEngine implements SearchEngine {
  readonly kind = 'postgres';
  readonly #orm: MikroORM;
  readonly #logger: Logger | undefined;
  #trigrams: Promise<boolean> | null = null;

  constructor(options: { orm: MikroORM; logger?: Logger }) {
    this.#orm = options.orm;
    this.#logger = options.logger;
  }

  async ensureCollection(
    workspaceId: string,
    collection: string,
    settings: CollectionSettings,
  ): Promise<void> {
    assertCollection(collection);
    if (!settings.searchable.length) {
      throw new SearchError(
        'SEARCH_INVALID_COLLECTION',
        `collection "${collection}" needs searchable fields`,
      );
    }
    await this.#run((em) =>
      sql(
        em,
        `insert into search_collection (workspace_id, collection, settings) values ($1, $2, $3::jsonb)
         on conflict (workspace_id, collection) do update set settings = excluded.settings, updated_at = now()`,
        [workspaceId, collection, JSON.stringify(settings)],
      ),
    );
  }

  async index(workspaceId: string, collection: string, docs: SearchDocument[]): Promise<void> {
    if (!docs.length) return;
    const [stored] = await this.#collections(workspaceId, [collection]);
    if (!stored) {
      throw new SearchError(
        'SEARCH_INVALID_COLLECTION',
        `collection "${collection}" does not exist in this workspace: ensureCollection first`,
      );
    }
    const searchable = stored.settings.searchable;
    // One statement cannot update a row twice: the last document of a key wins.
    const unique = new Map(docs.map((doc) => [`${doc.id}\u0000${doc.locale ?? ''}`, doc]));
    const rows = [...unique.values()].map((doc) => {
      const texts = searchable.map((field) => fieldText(doc.fields[field]));
      const byWeight = WEIGHTS.map((_, i) =>
        (i < WEIGHTS.length - 1 ? [texts[i] ?? ''] : texts.slice(i)).join('\n'),
      );
      const filters: Record<string, unknown[]> = {};
      for (const [key, value] of Object.entries(doc.filters ?? {})) filters[key] = filterValues(value);
      const fields: Record<string, string> = {};
      searchable.forEach((field, i) => {
        if (texts[i]) fields[field] = texts[i] as string;
      });
      return {
        doc_id: doc.id,
        locale: doc.locale ?? '',
        config: textSearchConfig(doc.locale),
        fields,
        filters,
        text: texts.filter(Boolean).join('\n'),
        a: byWeight[0],
        b: byWeight[1],
        c: byWeight[2],
      };
    });
    await this.#run(async (em) => {
      for (let i = 0; i < rows.length; i += BATCH) {
        const batch = JSON.stringify(rows.slice(i, i + BATCH));
        await sql(
          em,
          `insert into search_document (workspace_id, collection, doc_id, locale, config, fields, filters, text, tsv)
           select $1, $2, d.doc_id, d.locale, d.config::regconfig, d.fields, d.filters, d.text,
                  setweight(to_tsvector(d.config::regconfig, d.a), 'A') ||
                  setweight(to_tsvector(d.config::regconfig, d.b), 'B') ||
                  setweight(to_tsvector(d.config::regconfig, d.c), 'C')
           from jsonb_to_recordset($3::jsonb) as d(doc_id text, locale text, config text, fields jsonb, filters jsonb, text text, a text, b text, c text)
           on conflict (workspace_id, collection, doc_id, locale) do update set
             config = excluded.config, fields = excluded.fields, filters = excluded.filters,
             text = excluded.text, tsv = excluded.tsv, indexed_at = now()`,
          [workspaceId, collection, batch],
        );
        // The vocabulary typo tolerance corrects to: the words as written, lower-cased.
        await sql(
          em,
          `insert into search_term (workspace_id, collection, term)
           select distinct $1::uuid, $2, w
           from jsonb_to_recordset($3::jsonb) as d(text text),
                unnest(tsvector_to_array(to_tsvector('simple', d.text))) as w
           where length(w) between 3 and 40 and w !~ '^[0-9.,_-]+$'
           on conflict do nothing`,
          [workspaceId, collection, batch],
        );
      }
    });
  }

  async remove(workspaceId: string, collection: string, ids: string[]): Promise<void> {
    if (!ids.length) return;
    await this.#run(async (em) => {
      const removed = await sql<{ collection: string; text: string }>(
        em,
        `delete from search_document where workspace_id = $1 and collection = $2 and doc_id = any($3::text[])
         returning collection, text`,
        [workspaceId, collection, ids],
      );
      await this.#pruneTerms(em, workspaceId, removed);
    });
  }

  async removeWhere(
    workspaceId: string,
    filter: SearchFilters,
    options: { em?: EntityManager } = {},
  ): Promise<number> {
    const conditions = filterConditions(filter, 2);
    if (!conditions.sql.length) {
      throw new SearchError('SEARCH_INVALID_FILTER', 'removeWhere needs at least one filter attribute');
    }
    return this.#run(async (em) => {
      const removed = await sql<{ collection: string; text: string }>(
        em,
        `delete from search_document where workspace_id = $1 and ${conditions.sql.join(' and ')}
         returning collection, text`,
        [workspaceId, ...conditions.params],
      );
      await this.#pruneTerms(em, workspaceId, removed);
      return removed.length;
    }, options.em);
  }

  async drop(workspaceId: string, collection: string): Promise<void> {
    await this.#run(async (em) => {
      for (const table of ['search_document', 'search_term', 'search_collection']) {
        await sql(em, `delete from ${table} where workspace_id = $1 and collection = $2`, [
          workspaceId,
          collection,
        ]);
      }
    });
  }

  async health(): Promise<void> {
    await this.#run((em) => sql(em, 'select 1'));
  }

  async search(query: SearchQuery): Promise<SearchResult> {
    const started = performance.now();
    const collections = await this.#collections(query.workspaceId, query.collections);
    const empty = { hits: [], total: 0, tookMs: performance.now() - started };
    if (!collections.length) return empty;
    const filterable = new Set(collections.flatMap((c) => c.settings.filterable ?? []));
    assertFilterable(query.filters, filterable);
    const sortable = new Set(collections.flatMap((c) => c.settings.sortable ?? []));
    const sort = (query.sort ?? []).map((spec) => {
      const [attribute = '', direction = 'asc'] = spec.split(':');
      if (!sortable.has(attribute) || !/^(asc|desc)$/i.test(direction)) {
        throw new SearchError(
          'SEARCH_INVALID_FILTER',
          `cannot sort by "${spec}" (sortable: ${[...sortable].join(', ') || 'none'}; write attribute:asc|desc)`,
        );
      }
      return { attribute, direction: direction.toLowerCase() };
    });

    const configs = query.locale
      ? [...new Set([textSearchConfig(query.locale), 'simple'])]
      : [
          ...new Set([
            ...collections.flatMap((c) => (c.settings.localized ?? []).map(textSearchConfig)),
            'simple',
          ]),
        ];
    const text = query.query.trim();
    const synonyms = mergedSynonyms(collections);
    const variants = text ? expandSynonyms(text, synonyms) : [];
    const plan = { ...query, text, configs, sort, collections: collections.map((c) => c.collection) };

    let page = await this.#page(plan, variants, null);
    const typo = typoSettings(collections);
    if (text && typo.enabled && page.total < TYPO_FALLBACK_BELOW && (await this.#hasTrigrams())) {
      const corrected = await this.#correctedVariants(plan.workspaceId, plan.collections, text, typo);
      if (corrected.length) {
        const all = [...new Set([...variants, ...corrected.flatMap((v) => expandSynonyms(v, synonyms))])];
        page = await this.#page(plan, all.slice(0, MAX_VARIANTS * 2), variants);
      }
    }
    return { hits: page.hits, total: page.total, tookMs: performance.now() - started };
  }

  /**
   * One page of hits. `variants` are the query texts whose matches count; `exact`, when typo
   * tolerance added corrected variants, the user's own: their matches rank above corrected ones.
   */
  async #page(
    plan: Omit<SearchQuery, 'sort'> & {
      text: string;
      configs: string[];
      sort: { attribute: string; direction: string }[];
      collections: string[];
    },
    variants: string[],
    exact: string[] | null,
  ): Promise<{ hits: SearchHit[]; total: number }> {
    const params: unknown[] = [plan.workspaceId, plan.collections];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    const where = ['d.workspace_id = $1', 'd.collection = any($2::text[])'];
    if (plan.locale) {
      where.push(
        `d.locale = any(${param([...new Set([plan.locale, languageOf(plan.locale), ''])])}::text[])`,
      );
    }
    const filters = filterConditions(plan.filters ?? {}, params.length + 1);
    where.push(...filters.sql);
    params.push(...filters.params);

    const tsquery = (config: string, texts: string[]) =>
      texts.map((t) => `websearch_to_tsquery('${config}'::regconfig, ${param(t)})`).join(' || ');
    const perConfig = (texts: string[]) =>
      new Map(plan.configs.map((config) => [config, `(${tsquery(config, texts)})`]));
    const byConfig = (queries: Map<string, string>) =>
      `case d.config ${[...queries].map(([c, q]) => `when '${c}'::regconfig then ${q}`).join(' ')} end`;

    let score = '0::real';
    let highlights = 'null::jsonb';
    let whereParams = params.length;
    // Without the match condition: with it, the title candidates cost a second bitmap of all matches.
    const scope = [...where];
    let titleMatch = 'false';
    if (variants.length) {
      const queries = perConfig(variants);
      const matching = (qs: Map<string, string>) =>
        `(${[...qs].map(([config, q]) => `(d.config = '${config}'::regconfig and d.tsv @@ ${q})`).join(' or ')})`;
      where.push(matching(queries));
      whereParams = params.length;
      // The same query on the first searchable field only (weight A): the candidates that rank best.
      titleMatch = `(${[...queries].map(([config, q]) => `(d.config = '${config}'::regconfig and ts_filter(d.tsv, '{a}') @@ ${q})`).join(' or ')})`;
      score = `ts_rank_cd(d.tsv, ${byConfig(queries)}, 32)`;
      if (exact?.length) score = `(${score} + ts_rank_cd(d.tsv, ${byConfig(perConfig(exact))}, 32)) / 2`;
      // Escaped first, so that a highlight is safe HTML whose only tags are <mark>.
      const escaped = `replace(replace(replace(f.value #>> '{}', '&', '&amp;'), '<', '&lt;'), '>', '&gt;')`;
      highlights = `(select jsonb_object_agg(f.key, ts_headline(d.config, ${escaped}, ${byConfig(queries)}, '${HEADLINE}'))
            from jsonb_each(d.fields) f)`;
    }
    const order = [
      ...plan.sort.map((s) => `d.filters -> ${param(s.attribute)} -> 0 ${s.direction} nulls last`),
      'score desc',
      'd.doc_id',
      'd.locale',
    ];
    const limit = param(clampLimit(plan.limit));
    const offset = param(Math.max(0, Math.trunc(plan.offset ?? 0)));
    // Ranking reads every candidate's tsvector: a word in half the documents would cost hundreds of
    // milliseconds. So relevance ranks a bounded pool (the first MAX_HITS matches and the best
    // title matches) and `total` stops at MAX_HITS, as Meilisearch's maxTotalHits does.
    const pooled = variants.length > 0 && plan.sort.length === 0;
    const columns = 'd.workspace_id, d.collection, d.doc_id, d.locale, d.config, d.tsv, d.filters';
    const candidates = pooled
      ? `select distinct on (workspace_id, collection, doc_id, locale) * from (
           (select ${columns} from search_document d where ${where.join(' and ')} limit ${MAX_HITS})
           union all
           (select ${columns} from search_document d where ${[...scope, titleMatch].join(' and ')} limit ${TITLE_POOL})
         ) u`
      : `select ${columns} from search_document d where ${where.join(' and ')}`;
    // With LIMIT the planner likes a sequential scan when it expects many matches, and reads the
    // whole table when they are rare; the GIN bitmap is cheap either way, so it is always used.
    const rows = await this.#run((em) =>
      em.transactional(async (tem) => {
        await sql(tem, `select set_config('enable_seqscan', 'off', true)`);
        return sql<{
          collection: string;
          doc_id: string;
          locale: string;
          score: number;
          total: string;
          highlights: Record<string, string> | null;
        }>(
          tem,
          `with candidate as (${candidates}),
         page as (
           select d.workspace_id, d.collection, d.doc_id, d.locale, ${score} as score,
                  ${pooled ? `least(count(*) over (), ${MAX_HITS})` : 'count(*) over ()'} as total
           from candidate d
           order by ${order.join(', ')}
           limit ${limit} offset ${offset}
         )
         select p.collection, p.doc_id, p.locale, p.score, p.total, ${highlights} as highlights
         from page p
         join search_document d using (workspace_id, collection, doc_id, locale)
         order by ${order.join(', ')}`,
          params,
        );
      }),
    );
    return {
      total: rows.length
        ? Number(rows[0]?.total)
        : plan.offset
          ? Math.min(await this.#count(where, params.slice(0, whereParams)), MAX_HITS)
          : 0,
      hits: rows.map((row) => ({
        id: row.doc_id,
        collection: row.collection,
        locale: row.locale || null,
        score: Number(row.score),
        highlights: Object.fromEntries(
          Object.entries(row.highlights ?? {}).filter(([, fragment]) => fragment.includes('<mark>')),
        ),
      })),
    };
  }

  /** The total when the page is past the end (the window count has no row to ride on). */
  async #count(where: string[], params: unknown[]): Promise<number> {
    const [row] = await this.#run((em) =>
      sql<{ n: string }>(
        em,
        `select count(*) as n from search_document d where ${where.join(' and ')}`,
        params,
      ),
    );
    return Number(row?.n ?? 0);
  }

  /**
   * Query texts with unknown words replaced by close words of the collections: the trigram
   * index finds candidates, an edit distance (transpositions count once) within the typo budget
   * keeps them, as Meilisearch's defaults (one typo from 5 letters, two from 9).
   */
  async #correctedVariants(
    workspaceId: string,
    collections: string[],
    text: string,
    typo: ReturnType<typeof typoSettings>,
  ): Promise<string[]> {
    const words = [...new Set(queryWords(text).filter((w) => [...w].length >= typo.minWordSizeForOneTypo))];
    if (!words.length) return [];
    const candidates = await this.#run((em) =>
      em.transactional(async (tem) => {
        await sql(tem, `select set_config('pg_trgm.similarity_threshold', '0.2', true)`);
        return sql<{ word: string; term: string; known: boolean }>(
          tem,
          `select q.word, t.term, t.term = q.word as known
           from unnest($3::text[]) as q(word)
           cross join lateral (
             select term from search_term
             where workspace_id = $1 and collection = any($2::text[]) and term % q.word
             order by similarity(term, q.word) desc limit 12
           ) t`,
          [workspaceId, collections, words],
        );
      }),
    );
    const known = new Set(candidates.filter((c) => c.known).map((c) => c.word));
    const replacements = new Map<string, string[]>();
    for (const word of words) {
      if (known.has(word)) continue;
      const budget = [...word].length >= typo.minWordSizeForTwoTypos ? 2 : 1;
      const close = candidates
        .filter((c) => c.word === word)
        .map((c) => ({ term: c.term, distance: editDistance(word, c.term) }))
        .filter((c) => c.distance <= budget)
        .sort((a, b) => a.distance - b.distance)
        .slice(0, 3)
        .map((c) => c.term);
      if (close.length) replacements.set(word, close);
    }
    if (!replacements.size) return [];
    let variants = [text];
    for (const [word, terms] of replacements) {
      variants = variants
        .flatMap((v) => terms.map((term) => replaceWord(v, word, term)))
        .slice(0, MAX_VARIANTS);
    }
    return variants;
  }

  async #pruneTerms(em: EntityManager, workspaceId: string, removed: { collection: string; text: string }[]) {
    // Words of removed documents leave the vocabulary unless another document still has them:
    // an erased person's name must not live on as a typo correction.
    const byCollection = new Map<string, Set<string>>();
    for (const row of removed) {
      const words = byCollection.get(row.collection) ?? new Set<string>();
      for (const w of queryWords(row.text)) words.add(w);
      byCollection.set(row.collection, words);
    }
    for (const [collection, words] of byCollection) {
      await sql(
        em,
        `delete from search_term t
         where t.workspace_id = $1 and t.collection = $2 and t.term = any($3::text[])
           and not exists (
             select 1 from search_document d
             where d.workspace_id = $1 and d.collection = $2
               and d.tsv @@ plainto_tsquery(d.config, t.term) and strpos(lower(d.text), t.term) > 0)`,
        [workspaceId, collection, [...words]],
      );
    }
  }

  async #collections(workspaceId: string, names?: string[]): Promise<StoredCollection[]> {
    for (const name of names ?? []) assertCollection(name);
    const rows = await this.#run((em) =>
      names?.length
        ? sql<StoredCollection>(
            em,
            'select collection, settings from search_collection where workspace_id = $1 and collection = any($2::text[]) order by collection',
            [workspaceId, names],
          )
        : sql<StoredCollection>(
            em,
            'select collection, settings from search_collection where workspace_id = $1 order by collection',
            [workspaceId],
          ),
    );
    return rows;
  }

  #hasTrigrams(): Promise<boolean> {
    this.#trigrams ??= this.#run(async (em) => {
      const [row] = await sql<{ ok: boolean }>(
        em,
        `select exists (select 1 from pg_indexes where indexname = 'search_term_trgm_index') as ok`,
      );
      if (!row?.ok) {
        this.#logger?.warn(
          'pg_trgm is not installed in this database: search runs without typo tolerance (see docs/search.md)',
        );
      }
      return Boolean(row?.ok);
    });
    return this.#trigrams;
  }

  async #run<T>(work: (em: EntityManager) => Promise<T>, em?: EntityManager): Promise<T> {
    try {
      return await work(em ?? this.#orm.em.fork());
    } catch (error) {
      if (error instanceof SearchError) throw error;
      const code = String((error as { code?: unknown }).code ?? '');
      if (/^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|57P0[1-3]|08\d{3})$/.test(code)) {
        throw new SearchError('SEARCH_UNAVAILABLE', `the search database is unavailable (${code})`, {
          cause: error,
        });
      }
      throw new SearchError('SEARCH_ENGINE_ERROR', `PostgreSQL search failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}

/** Containment conditions on the normalized (list-valued) filters: `in` is an `or` of them. */
function filterConditions(filters: SearchFilters, firstParam: number): { sql: string[]; params: string[] } {
  const conditions: string[] = [];
  const params: string[] = [];
  for (const [attribute, value] of Object.entries(filters)) {
    const values = filterValues(value);
    if (!values.length) {
      conditions.push('false');
      continue;
    }
    const alternatives = values.map((v) => {
      params.push(JSON.stringify({ [attribute]: [v] }));
      return `filters @> $${firstParam + params.length - 1}::jsonb`;
    });
    conditions.push(`(${alternatives.join(' or ')})`);
  }
  return { sql: conditions, params };
}

function mergedSynonyms(collections: StoredCollection[]): Map<string, string[]> {
  const merged = new Map<string, string[]>();
  for (const { settings } of collections) {
    for (const [word, alternatives] of Object.entries(settings.synonyms ?? {})) {
      const key = word.toLowerCase();
      merged.set(key, [
        ...new Set([...(merged.get(key) ?? []), ...alternatives.map((a) => a.toLowerCase())]),
      ]);
    }
  }
  return merged;
}

/** The query and, for each word with synonyms, the query with that word replaced (phrases quoted). */
export function expandSynonyms(text: string, synonyms: Map<string, string[]>): string[] {
  let variants = [text];
  if (!synonyms.size) return variants;
  const whole = synonyms.get(text.toLowerCase());
  if (whole) variants.push(...whole.map(asTerm));
  for (const word of queryWords(text)) {
    const alternatives = synonyms.get(word);
    if (!alternatives) continue;
    variants = [
      ...variants,
      ...variants.flatMap((v) => alternatives.map((a) => replaceWord(v, word, asTerm(a)))),
    ];
    if (variants.length >= MAX_VARIANTS) break;
  }
  return [...new Set(variants)].slice(0, MAX_VARIANTS);
}

function asTerm(words: string): string {
  return /\s/.test(words.trim()) ? `"${words.trim()}"` : words.trim();
}

/** Lower-case words of a text or websearch query (operators and quotes dropped). */
export function queryWords(text: string): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => w !== 'or');
}

function replaceWord(text: string, word: string, replacement: string): string {
  const escaped = word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text.replace(new RegExp(`(?<![\\p{L}\\p{N}])${escaped}(?![\\p{L}\\p{N}])`, 'giu'), replacement);
}

function typoSettings(collections: StoredCollection[]) {
  const typo = collections[0]?.settings.typoTolerance ?? {};
  return {
    enabled: collections.some((c) => c.settings.typoTolerance?.enabled !== false),
    minWordSizeForOneTypo: typo.minWordSizeForOneTypo ?? 5,
    minWordSizeForTwoTypos: typo.minWordSizeForTwoTypos ?? 9,
  };
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
export function editDistance(a: string, b: string): number {
  const s = [...a];
  const t = [...b];
  const d = Array.from({ length: s.length + 1 }, (_, i) =>
    Array.from({ length: t.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) {
        row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
      }
    }
  }
  return (d[s.length] as number[])[t.length] as number;
}
