import { isRichText, richTextToMarkdown, textOf } from '../delivery/rich-text.ts';

/** Field names an entry's title, summary and body are taken from, first present wins. */
const TITLE = ['title', 'name', 'headline', 'question'];
const SUMMARY = ['description', 'summary', 'excerpt', 'teaser', 'intro'];
const BODY = ['body', 'text', 'content', 'answer', 'articleBody'];

const firstText = (fields: Record<string, unknown>, names: string[]): string => {
  for (const name of names) {
    const text = textOf(fields[name]);
    if (text) return text;
  }
  return '';
};

export const titleOf = (fields: Record<string, unknown>, fallback: string): string =>
  firstText(fields, TITLE) || fallback;

export const bodyOf = (fields: Record<string, unknown>): string => firstText(fields, BODY);

/** A one-line summary: the description-like field, else the start of the body. */
export function summaryOf(fields: Record<string, unknown>, max = 200): string {
  const text = (firstText(fields, SUMMARY) || bodyOf(fields)).replace(/\s+/g, ' ').trim();
  return text.length > max ? `${text.slice(0, max - 1).trimEnd()}…` : text;
}

export function bodyMarkdownOf(fields: Record<string, unknown>): string {
  for (const name of BODY) {
    const value = fields[name];
    if (isRichText(value) || typeof value === 'string') return richTextToMarkdown(value);
  }
  return '';
}

/** The URL of an asset value (`{ url, … }`) or a plain http(s) string. */
export function urlOf(value: unknown): string | null {
  const url = typeof value === 'string' ? value : (value as { url?: unknown } | null)?.url;
  return typeof url === 'string' && /^https?:\/\//.test(url) ? url : null;
}
