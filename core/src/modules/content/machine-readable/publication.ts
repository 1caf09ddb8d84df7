import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import { type LocaleRow, readChain, workspaceLocales } from '../delivery/locales.ts';
import { defaultContent, type PublishedEntry, publishedEntries } from '../delivery/published.ts';
import { SHARED_LOCALE } from '../service/fields.ts';

/** What a workspace publishes to the open web: public, published entries and its locales. */
export interface Publication {
  workspace: { id: string; slug: string; name: string };
  locales: LocaleRow[];
  defaultLocale: string | null;
  entries: PublishedEntry[];
  now: Date;
}

/** Null when no workspace has the slug. Internal entries are never loaded here. */
export async function loadPublication(
  em: EntityManager,
  slug: string,
  options: { key?: string; now?: Date } = {},
): Promise<Publication | null> {
  const [workspace] = await sql<{ id: string; slug: string; name: string }>(
    em,
    `select id::text as id, slug, name from workspace where slug = $1`,
    [slug],
  );
  if (!workspace) return null;
  const now = options.now ?? new Date();
  const [locales, entries] = await Promise.all([
    workspaceLocales(em, workspace.id),
    publishedEntries(em, workspace.id, { key: options.key, now }),
  ]);
  const defaultLocale = locales.find((l) => l.isDefault)?.code ?? locales[0]?.code ?? null;
  return { workspace, locales, defaultLocale, entries, now };
}

/**
 * The locales an entry is published in: those it has values of its own in (fallbacks fill gaps
 * but do not make a page of their own), or the default locale for an entry of shared values only.
 */
export function localesOf(entry: PublishedEntry, publication: Publication): string[] {
  const has = (code: string) => Object.keys(entry.values[code] ?? {}).length > 0;
  const codes = publication.locales.length
    ? publication.locales.map((l) => l.code).filter(has)
    : Object.keys(entry.values).filter((code) => code !== SHARED_LOCALE && has(code));
  if (codes.length === 0 && has(SHARED_LOCALE) && publication.defaultLocale)
    return [publication.defaultLocale];
  return codes;
}

/** An entry's default content in one locale, or null when its validity dates exclude now. */
export function contentIn(entry: PublishedEntry, publication: Publication, locale: string) {
  const chain = readChain(publication.locales, locale) ?? [locale];
  return defaultContent(entry, chain, publication.now);
}

/**
 * A strong validator from what the output is made of: the published versions and their times,
 * the types' changes, the locales, the workspace's name, and `parts` (format, locale, base URL).
 * Validity dates are covered because an entry leaving its window changes the list of `ids`.
 */
export function etagOf(publication: Publication, ids: readonly string[], parts: readonly string[]): string {
  const byId = new Map(publication.entries.map((e) => [e.id, e]));
  const hash = createHash('sha256');
  hash.update(JSON.stringify([parts, publication.workspace.name, publication.locales]));
  for (const id of ids) {
    const e = byId.get(id);
    if (e)
      hash.update(`|${e.id}:${e.version}:${e.publishedAt.toISOString()}:${e.type.updatedAt.toISOString()}`);
  }
  return `"${hash.digest('base64url').slice(0, 32)}"`;
}
