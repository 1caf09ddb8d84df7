import { createHash } from 'node:crypto';
import { LlmError, type LlmProvider, PROFILE_FILTER, type SearchSource } from '@atrium/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { documentText } from './document-text.ts';

/** Documents per embed call: 16 took up to 49 s for SmolLM2 on a busy 2-CPU machine, near LLM_TIMEOUT_MS. */
export const EMBED_BATCH = 8;

export interface EmbeddingSync {
  embedded: number;
  unchanged: number;
  removed: number;
}

interface StoredRow {
  document_id: string;
  locale: string;
  content_hash: string;
}

/**
 * Brings the embeddings of these ids in step with what the source publishes now: a document whose
 * text (or the model) changed is embedded again, an unchanged one never reaches the model (only
 * its filters are refreshed), and ids or locales the source no longer has lose theirs.
 */
export async function syncEmbeddings(
  em: EntityManager,
  embedder: { llm: LlmProvider; model: string },
  source: SearchSource,
  workspaceId: string,
  ids: string[],
  signal?: AbortSignal,
): Promise<EmbeddingSync> {
  if (ids.length === 0) return { embedded: 0, unchanged: 0, removed: 0 };
  const documents = await source.documentsFor(em, workspaceId, ids);
  const wanted = new Map(
    documents.map((doc) => {
      const { title, text } = documentText(source, doc);
      const input = `${title}\n${text}`;
      const locale = doc.locale ?? '';
      const row = {
        id: doc.id,
        locale,
        input,
        hash: hashOf(embedder.model, input),
        filters: doc.filters ?? {},
      };
      return [keyOf(doc.id, locale), row] as const;
    }),
  );
  const stored = await em.execute<StoredRow[]>(
    `select document_id, locale, content_hash from assistant_embedding
     where workspace_id = ? and collection = ? and document_id in (select jsonb_array_elements_text(?::jsonb))`,
    [workspaceId, source.collection, JSON.stringify(ids)],
  );
  const storedHash = new Map(stored.map((r) => [keyOf(r.document_id, r.locale), r.content_hash]));
  const rows = [...wanted.values()];
  const changed = rows.filter((r) => storedHash.get(keyOf(r.id, r.locale)) !== r.hash);
  const unchanged = rows.filter((r) => storedHash.get(keyOf(r.id, r.locale)) === r.hash);

  for (let i = 0; i < changed.length; i += EMBED_BATCH) {
    const batch = changed.slice(i, i + EMBED_BATCH);
    const vectors = await embed(
      embedder,
      batch.map((r) => r.input),
      signal,
    );
    await em.execute(
      `insert into assistant_embedding (id, workspace_id, collection, document_id, locale, model, content_hash, filters, vector, updated_at)
       select d.id, ?, ?, d.document_id, d.locale, ?, d.content_hash, d.filters, d.vector, now()
       from jsonb_to_recordset(?::jsonb) as d(id uuid, document_id text, locale text, content_hash text, filters jsonb, vector real[])
       on conflict (workspace_id, collection, document_id, locale) do update set
         model = excluded.model, content_hash = excluded.content_hash, filters = excluded.filters,
         vector = excluded.vector, updated_at = excluded.updated_at`,
      [
        workspaceId,
        source.collection,
        embedder.model,
        JSON.stringify(
          batch.map((r, j) => ({
            id: crypto.randomUUID(),
            document_id: r.id,
            locale: r.locale,
            content_hash: r.hash,
            filters: r.filters,
            vector: vectors[j],
          })),
        ),
      ],
    );
  }
  if (unchanged.length) {
    // Visibility can change without the text changing: the model is not asked, the filter follows.
    await em.execute(
      `update assistant_embedding e set filters = d.filters, updated_at = now()
       from jsonb_to_recordset(?::jsonb) as d(document_id text, locale text, filters jsonb)
       where e.workspace_id = ? and e.collection = ? and e.document_id = d.document_id and e.locale = d.locale
         and e.filters is distinct from d.filters`,
      [
        JSON.stringify(unchanged.map((r) => ({ document_id: r.id, locale: r.locale, filters: r.filters }))),
        workspaceId,
        source.collection,
      ],
    );
  }
  const gone = stored.filter((r) => !wanted.has(keyOf(r.document_id, r.locale)));
  if (gone.length) {
    await em.execute(
      `delete from assistant_embedding e using jsonb_to_recordset(?::jsonb) as g(document_id text, locale text)
       where e.workspace_id = ? and e.collection = ? and e.document_id = g.document_id and e.locale = g.locale`,
      [
        JSON.stringify(gone.map((r) => ({ document_id: r.document_id, locale: r.locale }))),
        workspaceId,
        source.collection,
      ],
    );
  }
  return { embedded: changed.length, unchanged: unchanged.length, removed: gone.length };
}

/**
 * Makes the workspace's embeddings match its sources: every id a source lists is synced (so only
 * new or changed documents are embedded), rows of ids no longer listed go, and so do rows of
 * collections outside `collections` (those the policy does not let retrieval use).
 */
export async function refreshEmbeddings(
  em: EntityManager,
  embedder: { llm: LlmProvider; model: string },
  sources: readonly SearchSource[],
  workspaceId: string,
  collections: string[],
  signal?: AbortSignal,
): Promise<EmbeddingSync> {
  const used = sources.filter((s) => collections.includes(s.collection));
  const total: EmbeddingSync = { embedded: 0, unchanged: 0, removed: 0 };
  const dropped = await em.execute<unknown[]>(
    `delete from assistant_embedding where workspace_id = ?
       and collection not in (select jsonb_array_elements_text(?::jsonb)) returning id`,
    [workspaceId, JSON.stringify(used.map((s) => s.collection))],
  );
  total.removed += dropped.length;
  for (const source of used) {
    // Rows written after this moment belong to documents published since: `ids` does not know them.
    const [listed] = await em.execute<{ at: string }[]>('select now()::text as at');
    const ids = await source.allIds(em, workspaceId);
    const stale = await em.execute<unknown[]>(
      `delete from assistant_embedding where workspace_id = ? and collection = ? and updated_at < ?::timestamptz
         and document_id not in (select jsonb_array_elements_text(?::jsonb)) returning id`,
      [workspaceId, source.collection, listed?.at, JSON.stringify(ids)],
    );
    total.removed += stale.length;
    for (let i = 0; i < ids.length; i += 200) {
      const done = await syncEmbeddings(em, embedder, source, workspaceId, ids.slice(i, i + 200), signal);
      total.embedded += done.embedded;
      total.unchanged += done.unchanged;
      total.removed += done.removed;
    }
  }
  return total;
}

export interface NearestDocument {
  collection: string;
  documentId: string;
  /** null for a language-neutral document. */
  locale: string | null;
  /** Cosine similarity with the question (−1 … 1). */
  similarity: number;
}

/**
 * The workspace's documents nearest to `vector` under `model`, best first: only in `collections`,
 * only in the given locales (and language-neutral ones), only public ones when `publicOnly`.
 * Cosine in SQL over `real[]` (no pgvector): a scan of the workspace's rows, fine for thousands.
 */
export async function nearestDocuments(
  em: EntityManager,
  query: {
    workspaceId: string;
    model: string;
    vector: number[];
    collections: string[];
    locales: string[] | null;
    publicOnly: boolean;
    limit: number;
  },
): Promise<NearestDocument[]> {
  if (query.collections.length === 0) return [];
  const rows = await em.execute<
    { collection: string; document_id: string; locale: string; similarity: number }[]
  >(
    `select e.collection, e.document_id, e.locale, s.similarity
     from assistant_embedding e
     cross join lateral (select sum(a * b) as similarity from unnest(e.vector, ?::real[]) as t(a, b)) s
     where e.workspace_id = ? and e.model = ? and cardinality(e.vector) = ?
       and e.collection in (select jsonb_array_elements_text(?::jsonb))
       ${query.locales ? `and e.locale in (select jsonb_array_elements_text(?::jsonb))` : ''}
       ${query.publicOnly ? `and e.filters ->> 'visibility' = 'public'` : ''}
     order by s.similarity desc, e.document_id
     limit ?`,
    [
      `{${query.vector.join(',')}}`,
      query.workspaceId,
      query.model,
      query.vector.length,
      JSON.stringify(query.collections),
      ...(query.locales ? [JSON.stringify(query.locales)] : []),
      query.limit,
    ],
  );
  return rows.map((r) => ({
    collection: r.collection,
    documentId: r.document_id,
    locale: r.locale || null,
    similarity: Number(r.similarity),
  }));
}

/** Unit-length embeddings of the inputs, in order; a malformed answer is an `LLM_ERROR`. */
export async function embed(
  embedder: { llm: LlmProvider; model: string },
  input: string[],
  signal?: AbortSignal,
): Promise<number[][]> {
  const vectors = await embedder.llm.embed({ input, model: embedder.model, ...(signal ? { signal } : {}) });
  if (vectors.length !== input.length)
    throw new LlmError(
      'LLM_ERROR',
      `the embedding model returned ${vectors.length} vectors for ${input.length} inputs`,
    );
  return vectors.map(unit);
}

/** GDPR erasure: embeddings of documents about the person (the `profileId` filter) go. */
export async function eraseEmbeddingsOf(
  em: EntityManager,
  workspaceId: string,
  profileIds: string[],
): Promise<number> {
  const gone = await em.execute<unknown[]>(
    `delete from assistant_embedding where workspace_id = ?
       and jsonb_exists_any(filters -> '${PROFILE_FILTER}', array(select jsonb_array_elements_text(?::jsonb))) returning id`,
    [workspaceId, JSON.stringify(profileIds)],
  );
  return gone.length;
}

// Stored vectors have unit length, so the dot product in SQL is the cosine (not every model normalises).
function unit(vector: number[]): number[] {
  const norm = Math.hypot(...vector);
  if (!(norm > 0) || !Number.isFinite(norm))
    throw new LlmError('LLM_ERROR', 'the embedding model returned a vector without a direction');
  return vector.map((x) => x / norm);
}

function hashOf(model: string, input: string): string {
  return createHash('sha256').update(model).update('\u0000').update(input).digest('hex');
}

function keyOf(documentId: string, locale: string): string {
  return `${documentId}\u0000${locale}`;
}
