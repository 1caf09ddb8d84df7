import type { SearchDocument, SearchSource } from '@atrium/core';

/** Longest passage text the assistant reads from one document. */
const MAX_PASSAGE = 1500;

/**
 * What the assistant reads of a search document: the first searchable field is the title, the
 * others (to 1,500 characters) the text. Retrieval quotes it and embeddings are made of it, so
 * both see the same words.
 */
export function documentText(source: SearchSource, doc: SearchDocument): { title: string; text: string } {
  const [titleField, ...bodyFields] = source.settings.searchable;
  const title = textOf(titleField ? doc.fields[titleField] : null) || doc.id;
  const text = bodyFields
    .map((f) => textOf(doc.fields[f]))
    .filter(Boolean)
    .join('\n')
    .slice(0, MAX_PASSAGE);
  return { title, text };
}

/** Whether the source's documents carry `visibility`; one that cannot tell public from internal is for agents only. */
export function tellsVisibility(source: SearchSource): boolean {
  return source.settings.filterable?.includes('visibility') ?? false;
}

function textOf(value: string | string[] | null | undefined): string {
  if (value == null) return '';
  return (Array.isArray(value) ? value.join('\n') : value).trim();
}
