import type { EntityManager } from '@mikro-orm/postgresql';
import { workspaceLocales } from '../../content/delivery/locales.ts';
import { resolveContent } from '../../content/delivery/resolve.ts';
import { textOf } from '../../content/delivery/rich-text.ts';
import type { AnySegmentOperator } from '../../profiles/segments/operators.ts';
import type { RenderedTemplate } from '../channels.ts';

const PLACEHOLDER = /\{\{\s*([a-zA-Z0-9_.]+)\s*\}\}/g;

/**
 * A message template is a content entry (fields `subject` and `body`), published and reviewed
 * like any content, with its variants resolved for the recipient. `{{ name }}` placeholders are
 * filled from `variables`; an unknown placeholder stays visible rather than vanishing silently.
 */
export async function renderTemplate(
  em: EntityManager,
  workspaceId: string,
  operators: readonly AnySegmentOperator[],
  request: { entryKey: string; locale: string | null; profileId: string; variables: Record<string, unknown> },
): Promise<RenderedTemplate> {
  const resolved = await resolveContent(em, workspaceId, request.entryKey, {
    locale: request.locale ?? (await defaultLocale(em, workspaceId)),
    profileId: request.profileId,
    operators,
    includeInternal: true,
  });
  const fill = (text: string, encode: (value: string) => string) =>
    text.replace(PLACEHOLDER, (whole, path: string) => {
      const value = path
        .split('.')
        .reduce<unknown>((at, key) => (at as Record<string, unknown>)?.[key], request.variables);
      return value === undefined || value === null ? whole : encode(String(value));
    });
  const subject = textOf(resolved.fields.subject);
  const body = textOf(resolved.fields.body);
  return {
    subject: subject ? fill(subject, (v) => v) : null,
    text: fill(body, (v) => v),
    html: body
      ? `<p>${fill(escapeHtml(body), escapeHtml)
          .replace(/\n{2,}/g, '</p><p>')
          .replace(/\n/g, '<br>')}</p>`
      : null,
  };
}

async function defaultLocale(em: EntityManager, workspaceId: string): Promise<string> {
  const locales = await workspaceLocales(em, workspaceId);
  // Default first; a workspace without locales reads whatever the entry was written in.
  return locales[0]?.code ?? 'en';
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
