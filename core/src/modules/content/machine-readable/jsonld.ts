import type { PublishedEntry } from '../delivery/published.ts';
import { isRichText, textOf } from '../delivery/rich-text.ts';
import type { SchemaOrgType } from '../entities.ts';
import { bodyOf, summaryOf, titleOf, urlOf } from './entry-text.ts';

type JsonLd = Record<string, unknown>;

export interface JsonLdTarget {
  locale: string;
  /** The entry's readable page (`.md`) and its own address (`.jsonld`). */
  pageUrl: string;
  documentUrl: string;
}

/**
 * An entry as schema.org JSON-LD, typed by its content type's `schemaOrgType`. Values come from
 * conventional field names (title/name, description, body, image, steps, price, …); rich text
 * becomes plain text. Only what the entry has is emitted: no empty properties.
 */
export function entryJsonLd(
  entry: PublishedEntry,
  fields: Record<string, unknown>,
  target: JsonLdTarget,
): JsonLd {
  const type = entry.type.schemaOrgType;
  const title = titleOf(fields, entry.key);
  const description = summaryOf(fields, 500);
  const common: JsonLd = {
    '@context': 'https://schema.org',
    '@type': type,
    '@id': target.documentUrl,
    url: target.pageUrl,
    inLanguage: target.locale,
    datePublished: entry.publishedAt.toISOString(),
    dateModified: entry.publishedAt.toISOString(),
  };
  if (entry.tags.length) common.keywords = entry.tags.join(', ');
  const image = urlOf(fields.image) ?? urlOf(fields.heroImage);
  const specific = builders[type](fields, { title, description, image });
  return compact({ ...common, ...specific });
}

interface Basics {
  title: string;
  description: string;
  image: string | null;
}

const builders: Record<SchemaOrgType, (fields: Record<string, unknown>, basics: Basics) => JsonLd> = {
  FAQPage: (fields, { title }) => ({
    name: title,
    mainEntity: questionsOf(fields).map(({ question, answer }) => ({
      '@type': 'Question',
      name: question,
      acceptedAnswer: { '@type': 'Answer', text: answer },
    })),
  }),
  Article: (fields, { title, description, image }) => ({
    headline: title.slice(0, 110),
    description,
    articleBody: bodyOf(fields),
    image,
    author: textOf(fields.author) ? { '@type': 'Person', name: textOf(fields.author) } : null,
  }),
  Product: (fields, { title, description, image }) => {
    const price = typeof fields.price === 'number' ? fields.price : Number.parseFloat(textOf(fields.price));
    const currency = textOf(fields.currency) || textOf(fields.priceCurrency);
    return {
      name: title,
      description,
      image,
      sku: textOf(fields.sku) || null,
      brand: textOf(fields.brand) ? { '@type': 'Brand', name: textOf(fields.brand) } : null,
      offers:
        Number.isFinite(price) && currency
          ? { '@type': 'Offer', price: price.toFixed(2), priceCurrency: currency.toUpperCase() }
          : null,
    };
  },
  HowTo: (fields, { title, description, image }) => ({
    name: title,
    description,
    image,
    totalTime: textOf(fields.totalTime) || null,
    step: stepsOf(fields.steps).map((step, i) => ({
      '@type': 'HowToStep',
      position: i + 1,
      name: step.name,
      text: step.text,
    })),
  }),
  Organization: (fields, { title, description }) => ({
    name: title,
    description,
    logo: urlOf(fields.logo),
    email: textOf(fields.email) || null,
    telephone: textOf(fields.telephone) || textOf(fields.phone) || null,
    sameAs: Array.isArray(fields.sameAs) ? fields.sameAs.filter((u) => urlOf(u)) : null,
  }),
  WebPage: (fields, { title, description }) => ({
    name: title,
    description,
    text: bodyOf(fields),
  }),
};

/** Questions and answers: the entry's own (a knowledge-base article), or blocks that carry them. */
function questionsOf(fields: Record<string, unknown>): { question: string; answer: string }[] {
  const own = { question: textOf(fields.question), answer: textOf(fields.answer) };
  if (own.question && own.answer) return [own];
  const found: { question: string; answer: string }[] = [];
  for (const value of Object.values(fields)) {
    if (!Array.isArray(value)) continue;
    for (const item of value) {
      const inner =
        (item as { fields?: Record<string, unknown> })?.fields ?? (item as Record<string, unknown>);
      if (typeof inner !== 'object' || inner === null) continue;
      const question = textOf(inner.question);
      const answer = textOf(inner.answer);
      if (question && answer) found.push({ question, answer });
    }
  }
  return found;
}

/** Steps from blocks (`{ fields: { title, text } }`), plain strings, or a rich-text list. */
function stepsOf(value: unknown): { name: string; text: string }[] {
  if (isRichText(value))
    return textOf(value)
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .map((line) => ({ name: line.slice(0, 110), text: line }));
  if (!Array.isArray(value)) return [];
  return value.flatMap((item) => {
    if (typeof item === 'string') return item.trim() ? [{ name: item.slice(0, 110), text: item }] : [];
    const fields =
      (item as { fields?: Record<string, unknown> })?.fields ?? (item as Record<string, unknown>);
    if (typeof fields !== 'object' || fields === null) return [];
    const text = bodyOf(fields) || summaryOf(fields, 2000);
    const name = titleOf(fields, '') || text.slice(0, 110);
    return name || text ? [{ name, text: text || name }] : [];
  });
}

/** Drops null, undefined, empty strings and empty lists, recursively. */
function compact(value: JsonLd): JsonLd {
  const out: JsonLd = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === null || v === undefined || v === '' || (Array.isArray(v) && v.length === 0)) continue;
    out[key] = Array.isArray(v)
      ? v.map((item) => (typeof item === 'object' && item !== null ? compact(item as JsonLd) : item))
      : typeof v === 'object'
        ? compact(v as JsonLd)
        : v;
  }
  return out;
}

/** JSON with `<` escaped, so the document is safe inside a `<script type="application/ld+json">`. */
export function serializeJsonLd(doc: JsonLd): string {
  return JSON.stringify(doc, null, 2).replace(/</g, '\\u003c');
}
