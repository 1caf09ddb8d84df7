import type { PublishedEntry } from '../delivery/published.ts';
import { escapeMarkdownText } from '../delivery/rich-text.ts';
import { summaryOf, titleOf } from './entry-text.ts';
import type { Publication } from './publication.ts';
import type { ContentUrls } from './urls.ts';

/** One linked entry of an index: its title and summary in the locale it is listed in. */
export interface IndexItem {
  entry: PublishedEntry;
  locale: string;
  fields: Record<string, unknown>;
}

/**
 * The llms.txt index (https://llmstxt.org): `# name`, a `> summary`, then a section per content
 * type listing `- [title](url): summary` for every published public entry, linking its Markdown page.
 */
export function renderLlmsTxt(publication: Publication, items: IndexItem[], urls: ContentUrls): string {
  const name = oneLine(publication.workspace.name);
  const locales = publication.locales.map((l) => l.code);
  const lines = [
    `# ${name}`,
    '',
    `> Published content of ${name} for AI agents and assistants: ${items.length} ${items.length === 1 ? 'entry' : 'entries'}. Each link leads to a Markdown page; structured data (schema.org JSON-LD) sits beside it at the same address ending in .jsonld.`,
    '',
  ];
  if (locales.length)
    lines.push(
      `Locales: ${locales.join(', ')}${publication.defaultLocale ? ` (default ${publication.defaultLocale})` : ''}. Sitemap: ${urls.workspace('sitemap.xml')}`,
      '',
    );
  const groups = new Map<string, IndexItem[]>();
  for (const item of items) {
    const group = groups.get(item.entry.type.key) ?? [];
    group.push(item);
    groups.set(item.entry.type.key, group);
  }
  for (const group of groups.values()) {
    const type = (group[0] as IndexItem).entry.type;
    lines.push(`## ${oneLine(type.name)}`, '');
    if (type.description) lines.push(oneLine(type.description), '');
    for (const { entry, locale, fields } of group) {
      const title = oneLine(titleOf(fields, entry.key)).replace(/[[\]]/g, '');
      const summary = oneLine(summaryOf(fields));
      lines.push(`- [${title}](${urls.entry(locale, entry.key, 'md')})${summary ? `: ${summary}` : ''}`);
    }
    lines.push('');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

const oneLine = (text: string) => escapeMarkdownText(text.replace(/\s+/g, ' ').trim());
