import type { ModuleRuntime } from '@atrium/core';
import type { EntityManager } from '@mikro-orm/postgresql';
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
}

const MAX_PASSAGE = 1500;

/**
 * Finds passages through the search port (any word of the question may match, the best first),
 * reads their text from the collection's own search source, and keeps those that really share the
 * question's words. Collections outside `collections` are never queried.
 */
export async function retrievePassages(
  runtime: Pick<ModuleRuntime, 'search' | 'searchSources'>,
  em: EntityManager,
  input: RetrievalInput,
): Promise<Passage[]> {
  const keywords = keywordsOf(input.question).slice(0, 12);
  if (keywords.length === 0) return [];
  const sources = new Map(
    runtime.searchSources
      .filter((s) => input.collections.includes(s.collection))
      .map((s) => [s.collection, s]),
  );
  if (sources.size === 0) return [];
  // Words only (our own quoting), OR-ed: websearch syntax from the customer is never passed through.
  const query = keywords.map((w) => `"${w}"`).join(' or ');
  const passages: Passage[] = [];
  for (const [collection, source] of sources) {
    const visibility = source.settings.filterable?.includes('visibility');
    // A collection that cannot tell public from internal documents is only for agents.
    if (!visibility && !input.includeInternal) continue;
    const result = await runtime.search.search({
      workspaceId: input.workspaceId,
      collections: [collection],
      query,
      ...(visibility && !input.includeInternal ? { filters: { visibility: 'public' } } : {}),
      ...(input.locale ? { locale: input.locale } : {}),
      limit: input.limit * 3,
    });
    if (result.hits.length === 0) continue;
    const ids = [...new Set(result.hits.map((h) => h.id))];
    const documents = await source.documentsFor(em, input.workspaceId, ids);
    const [titleField, ...bodyFields] = source.settings.searchable;
    for (const hit of result.hits) {
      const doc =
        documents.find((d) => d.id === hit.id && (d.locale ?? null) === hit.locale) ??
        documents.find((d) => d.id === hit.id);
      if (!doc) continue; // unpublished since it was indexed
      if (!input.includeInternal && visibility && doc.filters?.visibility !== 'public') continue;
      const title = textOf(titleField ? doc.fields[titleField] : null) || hit.id;
      const text = bodyFields
        .map((f) => textOf(doc.fields[f]))
        .filter(Boolean)
        .join('\n')
        .slice(0, MAX_PASSAGE);
      const coverage = coverageOf(keywords, `${title}\n${text}`);
      if (coverage < input.minCoverage) continue;
      passages.push({ collection, documentId: hit.id, locale: hit.locale, title, text, coverage });
    }
  }
  passages.sort((a, b) => b.coverage - a.coverage);
  const seen = new Set<string>();
  return passages
    .filter((p) => {
      const key = `${p.collection}:${p.documentId}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .slice(0, input.limit);
}

function textOf(value: string | string[] | null | undefined): string {
  if (value == null) return '';
  return (Array.isArray(value) ? value.join('\n') : value).trim();
}
