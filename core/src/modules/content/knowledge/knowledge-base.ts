import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import { ValidationError } from '../../../kernel/errors.ts';
import { readChain, workspaceLocales } from '../delivery/locales.ts';
import { defaultContent, hasLocale, publishedEntries } from '../delivery/published.ts';
import { richTextToMarkdown, textOf } from '../delivery/rich-text.ts';
import type { FieldDefinition } from '../entities.ts';

/** The built-in article type of the knowledge base; entries of it are ordinary content entries. */
export const KB_ARTICLE_TYPE = 'kb_article';

export const kbArticleFields: FieldDefinition[] = [
  { key: 'question', kind: 'text', label: 'Question', required: true, localized: true, maxLength: 500 },
  { key: 'answer', kind: 'rich_text', label: 'Answer', required: true, localized: true },
  { key: 'relatedProducts', kind: 'json', label: 'Related products (SKUs or entry keys)' },
  { key: 'relatedCategories', kind: 'json', label: 'Related categories' },
  { key: 'validFrom', kind: 'date', label: 'Valid from' },
  { key: 'validUntil', kind: 'date', label: 'Valid until (inclusive)' },
];

/**
 * Creates the `kb_article` type in a workspace when it is missing; an existing one is left as it
 * is (editors may have added fields). Safe to call concurrently.
 */
export async function ensureKnowledgeBaseType(
  em: EntityManager,
  workspaceId: string,
): Promise<{ id: string; created: boolean }> {
  const inserted = await sql<{ id: string }>(
    em,
    `insert into content_type (id, workspace_id, key, name, description, is_block, fields, schema_org_type, created_at, updated_at)
     values ($1, $2, $3, 'Knowledge-base article', 'A question and its answer, for customers (public) or agents (internal)',
       false, $4::jsonb, 'FAQPage', now(), now())
     on conflict (workspace_id, key) do nothing returning id::text as id`,
    [crypto.randomUUID(), workspaceId, KB_ARTICLE_TYPE, JSON.stringify(kbArticleFields)],
  );
  if (inserted[0]) return { id: inserted[0].id, created: true };
  const [existing] = await sql<{ id: string }>(
    em,
    `select id::text as id from content_type where workspace_id = $1 and key = $2`,
    [workspaceId, KB_ARTICLE_TYPE],
  );
  return { id: (existing as { id: string }).id, created: false };
}

export interface KnowledgeArticle {
  id: string;
  key: string;
  visibility: 'public' | 'internal';
  question: string;
  /** The rich-text tree as stored. */
  answer: unknown;
  answerText: string;
  answerMarkdown: string;
  relatedProducts: string[];
  relatedCategories: string[];
  validFrom: string | null;
  validUntil: string | null;
  /** The locale the question came from (the asked one or a fallback). */
  locale: string;
  tags: string[];
  publishedAt: Date;
  /** How well it matched the query; 0 without one. */
  score: number;
}

export interface KnowledgeQuery {
  query?: string | null;
  locale: string;
  /** Agents see internal articles too; customers, frontends and self-service never do. */
  includeInternal: boolean;
  limit?: number;
  now?: Date;
}

const MAX_LIMIT = 100;

/**
 * Published, currently valid articles in a locale (with fallback), best match first. Matching is
 * a plain word overlap — enough for the assistant's short list; full-text search is the search
 * port's job.
 */
export async function knowledgeArticles(
  em: EntityManager,
  workspaceId: string,
  options: KnowledgeQuery,
): Promise<KnowledgeArticle[]> {
  const now = options.now ?? new Date();
  const limit = options.limit ?? 20;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
    throw new ValidationError(`limit must be between 1 and ${MAX_LIMIT}`, 'limit');
  const chain = readChain(await workspaceLocales(em, workspaceId), options.locale);
  if (!chain)
    throw new ValidationError(`locale "${options.locale}" is not a locale of this workspace`, 'locale');
  const entries = await publishedEntries(em, workspaceId, {
    typeKey: KB_ARTICLE_TYPE,
    includeInternal: options.includeInternal,
    now,
  });
  const words = wordsOf(options.query ?? '');
  const articles: KnowledgeArticle[] = [];
  for (const entry of entries) {
    if (!hasLocale(entry, chain)) continue;
    const content = await defaultContent(entry, chain, now);
    if (!content) continue;
    const { fields, fieldLocales } = content;
    const article: KnowledgeArticle = {
      id: entry.id,
      key: entry.key,
      visibility: entry.visibility,
      question: textOf(fields.question),
      answer: fields.answer ?? null,
      answerText: textOf(fields.answer),
      answerMarkdown: richTextToMarkdown(fields.answer),
      relatedProducts: stringsOf(fields.relatedProducts),
      relatedCategories: stringsOf(fields.relatedCategories),
      validFrom: typeof fields.validFrom === 'string' ? fields.validFrom : null,
      validUntil: typeof fields.validUntil === 'string' ? fields.validUntil : null,
      locale: fieldLocales.question ?? options.locale,
      tags: entry.tags,
      publishedAt: entry.publishedAt,
      score: 0,
    };
    if (words.length > 0) {
      article.score = scoreOf(article, words);
      if (article.score === 0) continue;
    }
    articles.push(article);
  }
  articles.sort((a, b) => b.score - a.score || b.publishedAt.getTime() - a.publishedAt.getTime());
  return articles.slice(0, limit);
}

function wordsOf(text: string): string[] {
  return [...new Set(text.toLocaleLowerCase().match(/[\p{L}\p{N}]{2,}/gu) ?? [])];
}

function scoreOf(article: KnowledgeArticle, words: string[]): number {
  const question = new Set(wordsOf(article.question));
  const rest = new Set(
    wordsOf(
      [article.answerText, ...article.tags, ...article.relatedProducts, ...article.relatedCategories].join(
        ' ',
      ),
    ),
  );
  return words.reduce((sum, word) => sum + (question.has(word) ? 2 : 0) + (rest.has(word) ? 1 : 0), 0);
}

function stringsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
