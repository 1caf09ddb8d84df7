import { LlmError, type ModuleRuntime } from '@atrium/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { documentText, tellsVisibility } from './document-text.ts';
import { embed, type NearestDocument, nearestDocuments } from './embeddings.ts';
import { coverageOf, keywordsOf } from './text.ts';

/** A retrieved passage: what the model may answer from, and what the answer cites. */
export interface Passage {
  collection: string;
  documentId: string;
  locale: string | null;
  title: string;
  text: string;
  /** The share of the question's words it contains (0 … 1): the assistant's relevance measure. */
  coverage: number;
  /** Cosine similarity of its embedding with the question's; null when it was not among the nearest. */
  similarity: number | null;
}

export interface RetrievalInput {
  workspaceId: string;
  question: string;
  /** Only these collections are searched: the policy's allowed sources. */
  collections: string[];
  locale?: string | null;
  /** Customers never get internal documents; agents may. */
  includeInternal: boolean;
  limit: number;
  minCoverage: number;
  /** Least cosine similarity a passage found only by meaning needs (used with an embedding model). */
  minSimilarity: number;
  signal?: AbortSignal;
}

export interface Retrieval {
  /** Passages sharing the question's words first (by coverage), then those found only by meaning. */
  passages: Passage[];
  /** For the explanation: `retrieved-by-meaning`, `embeddings-failed:<code>`. */
  rules: string[];
}

/**
 * Finds passages through the search port (any word of the question may match, the best first) and,
 * when an embedding model is configured, by the cosine similarity of embeddings; reads their text
 * from the collection's own search source, and keeps those that share enough of the question's
 * words or its meaning. Collections outside `collections` are never queried; customers only ever
 * get public documents.
 */
export async function retrievePassages(
  runtime: Pick<ModuleRuntime, 'search' | 'searchSources' | 'llm'>,
  em: EntityManager,
  input: RetrievalInput,
): Promise<Retrieval> {
  const rules: string[] = [];
  const keywords = keywordsOf(input.question).slice(0, 12);
  if (keywords.length === 0) return { passages: [], rules };
  const sources = new Map(
    runtime.searchSources
      // A collection that cannot tell public from internal documents is only for agents.
      .filter(
        (s) => input.collections.includes(s.collection) && (input.includeInternal || tellsVisibility(s)),
      )
      .map((s) => [s.collection, s]),
  );
  if (sources.size === 0) return { passages: [], rules };

  let nearest: NearestDocument[] = [];
  const model = runtime.llm?.embedModel;
  if (runtime.llm && model) {
    try {
      const [vector] = await embed({ llm: runtime.llm, model }, [input.question], input.signal);
      nearest = await nearestDocuments(em, {
        workspaceId: input.workspaceId,
        model,
        vector: vector as number[],
        collections: [...sources.keys()],
        // The search engine's rule: the locale, its language, and language-neutral documents.
        locales: input.locale ? [...new Set([input.locale, input.locale.split('-')[0] as string, ''])] : null,
        publicOnly: !input.includeInternal,
        limit: input.limit,
      });
      nearest = nearest.filter((n) => n.similarity >= input.minSimilarity);
    } catch (error) {
      // Without embeddings the answer still has the words: degrade, and say so in the explanation.
      if (!(error instanceof LlmError) || error.code === 'LLM_CANCELLED') throw error;
      rules.push(`embeddings-failed:${error.code}`);
    }
  }

  const byWords: Passage[] = [];
  const byMeaning: Passage[] = [];
  for (const [collection, source] of sources) {
    const visibility = tellsVisibility(source);
    // Words only (our own quoting), OR-ed: websearch syntax from the customer is never passed through.
    const result = await runtime.search.search({
      workspaceId: input.workspaceId,
      collections: [collection],
      query: keywords.map((w) => `"${w}"`).join(' or '),
      ...(visibility && !input.includeInternal ? { filters: { visibility: 'public' } } : {}),
      ...(input.locale ? { locale: input.locale } : {}),
      limit: input.limit * 3,
    });
    const near = nearest.filter((n) => n.collection === collection);
    const ids = [...new Set([...result.hits.map((h) => h.id), ...near.map((n) => n.documentId)])];
    if (ids.length === 0) continue;
    const documents = await source.documentsFor(em, input.workspaceId, ids);
    const passageOf = (id: string, locale: string | null, similarity: number | null): Passage | null => {
      const doc =
        documents.find((d) => d.id === id && (d.locale ?? null) === locale) ??
        documents.find((d) => d.id === id);
      if (!doc) return null; // unpublished since it was indexed
      if (!input.includeInternal && visibility && doc.filters?.visibility !== 'public') return null;
      const { title, text } = documentText(source, doc);
      return {
        collection,
        documentId: id,
        locale,
        title,
        text,
        coverage: coverageOf(keywords, `${title}\n${text}`),
        similarity,
      };
    };
    for (const hit of result.hits) {
      const passage = passageOf(hit.id, hit.locale, similarityOf(near, hit.id));
      if (passage && passage.coverage >= input.minCoverage) byWords.push(passage);
    }
    for (const n of near) {
      const passage = passageOf(n.documentId, n.locale, n.similarity);
      if (passage) byMeaning.push(passage);
    }
  }
  // Shared words are evidence a reader can check (coverage), so they rank first; meaning fills
  // the remaining places, which is how a question in other words still finds its answer.
  byWords.sort((a, b) => b.coverage - a.coverage);
  byMeaning.sort((a, b) => (b.similarity ?? 0) - (a.similarity ?? 0));
  const seen = new Set<string>();
  const passages = [...byWords, ...byMeaning]
    .filter((p) => {
      const key = `${p.collection}:${p.documentId}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .slice(0, input.limit);
  const wordKeys = new Set(byWords.map((p) => `${p.collection}:${p.documentId}`));
  if (passages.some((p) => !wordKeys.has(`${p.collection}:${p.documentId}`)))
    rules.push('retrieved-by-meaning');
  return { passages, rules };
}

function similarityOf(near: NearestDocument[], documentId: string): number | null {
  return near.find((n) => n.documentId === documentId)?.similarity ?? null;
}
