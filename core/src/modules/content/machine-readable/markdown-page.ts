import type { PublishedEntry } from '../delivery/published.ts';
import { escapeMarkdownText, richTextToMarkdown, textOf } from '../delivery/rich-text.ts';
import { bodyMarkdownOf, summaryOf, titleOf } from './entry-text.ts';

/** An entry as a Markdown page (what llms.txt links to): title, summary, body, steps or questions. */
export function renderMarkdownPage(
  entry: PublishedEntry,
  fields: Record<string, unknown>,
  jsonLdUrl: string,
): string {
  const title = escapeMarkdownText(titleOf(fields, entry.key).replace(/\s+/g, ' '));
  const parts = [`# ${title}`];
  const summary = summaryOf(fields, 500);
  const body = bodyMarkdownOf(fields);
  if (summary && !body.startsWith(escapeMarkdownText(summary.slice(0, 40))))
    parts.push(`> ${escapeMarkdownText(summary)}`);
  if (body) parts.push(body);
  if (Array.isArray(fields.steps)) {
    const steps = fields.steps
      .map((step) => {
        const f = (step as { fields?: Record<string, unknown> })?.fields ?? {};
        const text =
          typeof step === 'string'
            ? step
            : [textOf(f.title ?? f.name), textOf(f.text ?? f.body)].filter(Boolean).join(': ');
        return text ? escapeMarkdownText(text.replace(/\s+/g, ' ')) : '';
      })
      .filter(Boolean);
    if (steps.length) parts.push(steps.map((s, i) => `${i + 1}. ${s}`).join('\n'));
  }
  if (entry.type.key !== 'kb_article' && fields.question && fields.answer)
    parts.push(`**${escapeMarkdownText(textOf(fields.question))}**\n\n${richTextToMarkdown(fields.answer)}`);
  parts.push(`Structured data: ${jsonLdUrl}`);
  return `${parts.join('\n\n')}\n`;
}
