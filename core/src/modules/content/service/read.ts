import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import type { ContentEntryEntity, ContentTypeEntity } from '../entities.ts';
import { entriesInOrder, type Page, type VersionFields, versionOf } from './entries.ts';
import { SHARED_LOCALE } from './fields.ts';
import { liveEntry } from './live.ts';
import { chainFor } from './locales.ts';

/** Which locale served a field: the requested one, a fallback, or null for a field that is not localized. */
export interface FieldSource {
  field: string;
  locale: string | null;
}

/** An entry's values for one locale, each localized field taken from the first locale of the chain that has it. */
export interface LocalizedEntry {
  entry: ContentEntryEntity;
  version: number;
  locale: string;
  chain: string[];
  fields: Record<string, unknown>;
  sources: FieldSource[];
}

/** Resolves every field of a version through a fallback chain (`de-CH → de → en`). */
export function localizeFields(
  type: ContentTypeEntity,
  values: VersionFields,
  chain: readonly string[],
): { fields: Record<string, unknown>; sources: FieldSource[] } {
  const fields: Record<string, unknown> = {};
  const sources: FieldSource[] = [];
  for (const definition of type.fields) {
    if (!definition.localized) {
      const value = values[SHARED_LOCALE]?.[definition.key];
      if (value === undefined) continue;
      fields[definition.key] = value;
      sources.push({ field: definition.key, locale: null });
      continue;
    }
    const locale = chain.find((code) => values[code]?.[definition.key] !== undefined);
    if (!locale) continue;
    fields[definition.key] = values[locale]?.[definition.key];
    sources.push({ field: definition.key, locale });
  }
  return { fields, sources };
}

/** An entry at `version` (its working version by default) read in `locale` (the default when null). */
export async function localizeEntry(
  em: EntityManager,
  entry: ContentEntryEntity,
  locale: string | null | undefined,
  version: number = entry.workingVersion,
): Promise<LocalizedEntry> {
  const chain = await chainFor(em, locale);
  const stored = await versionOf(em, entry, version);
  return {
    entry,
    version,
    locale: chain[0] as string,
    chain,
    ...localizeFields(entry.type, stored.fields, chain),
  };
}

const PUBLIC = `${liveEntry()} and e.visibility = 'public'`;

/** A published, public entry by key, read in `locale`; null when there is none. */
export async function publishedEntry(
  em: EntityManager,
  workspaceId: string,
  key: string,
  locale: string | null | undefined,
): Promise<LocalizedEntry | null> {
  const chain = await chainFor(em, locale);
  const [row] = await sql<{ id: string }>(
    em,
    `select e.id from content_entry e join content_type t on t.id = e.type_id
     where e.workspace_id = $1 and e.key = $2 and ${PUBLIC}`,
    [workspaceId, key],
  );
  if (!row) return null;
  const [entry] = await entriesInOrder(em, [row.id]);
  if (!entry) return null;
  return localizeEntry(em, entry, chain[0], entry.publishedVersion as number);
}

/** Published, public entries, most recently published first, read in `locale`. */
export async function publishedEntries(
  em: EntityManager,
  workspaceId: string,
  filter: { type?: string | null; tag?: string | null; locale?: string | null },
  page: Page,
): Promise<LocalizedEntry[]> {
  const chain = await chainFor(em, filter.locale);
  const rows = await sql<{ id: string }>(
    em,
    `select e.id from content_entry e join content_type t on t.id = e.type_id
     where e.workspace_id = $1 and ${PUBLIC} and ($2::text is null or t.key = $2) and ($3::text is null or e.tags ? $3)
     order by e.published_at desc, e.id limit $4 offset $5`,
    [workspaceId, filter.type ?? null, filter.tag ?? null, page.limit, page.offset],
  );
  const entries = await entriesInOrder(
    em,
    rows.map((r) => r.id),
  );
  return Promise.all(entries.map((e) => localizeEntry(em, e, chain[0], e.publishedVersion as number)));
}
