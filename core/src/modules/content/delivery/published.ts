import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import type { ContentVariant, FieldDefinition, SchemaOrgType } from '../entities.ts';
import { liveEntry } from '../service/live.ts';
import { isValidAt, resolveBlocks, resolveLocalized } from './resolve.ts';

/** One published entry with its type, as the machine-readable outputs and the knowledge base read it. */
export interface PublishedEntry {
  id: string;
  key: string;
  visibility: 'public' | 'internal';
  tags: string[];
  version: number;
  publishedAt: Date;
  type: {
    key: string;
    name: string;
    description: string | null;
    schemaOrgType: SchemaOrgType;
    fields: FieldDefinition[];
    updatedAt: Date;
  };
  /** The published version's values, `values[locale][key]`. */
  values: Record<string, Record<string, unknown>>;
  variants: ContentVariant[];
}

export interface PublishedQuery {
  /** Internal entries too (agents); public only by default. */
  includeInternal?: boolean;
  typeKey?: string;
  key?: string;
  now?: Date;
}

/**
 * Published entries of a workspace in one statement: not archived, not past their unpublish time,
 * public unless asked otherwise, entry types only (never block types). Validity dates are checked
 * by `deliverable`, which needs the values resolved.
 */
export async function publishedEntries(
  em: EntityManager,
  workspaceId: string,
  query: PublishedQuery = {},
): Promise<PublishedEntry[]> {
  const params: unknown[] = [workspaceId, query.now ?? new Date()];
  const where = ['e.workspace_id = $1', liveEntry('$2')];
  if (!query.includeInternal) where.push(`e.visibility = 'public'`);
  if (query.typeKey) where.push(`t.key = $${params.push(query.typeKey)}`);
  if (query.key) where.push(`e.key = $${params.push(query.key)}`);
  const rows = await sql<Record<string, unknown>>(
    em,
    `select e.id::text as id, e.key, e.visibility, e.tags, e.published_version, e.published_at,
       t.key as type_key, t.name as type_name, t.description as type_description,
       t.schema_org_type, t.fields as type_fields, t.updated_at as type_updated_at,
       v.fields, v.variants
     from content_entry e
     join content_type t on t.id = e.type_id and t.workspace_id = e.workspace_id
     join content_version v on v.entry_id = e.id and v.version = e.published_version
     where ${where.join(' and ')}
     order by t.name, e.key`,
    params,
  );
  return rows.map((r) => ({
    id: r.id as string,
    key: r.key as string,
    visibility: r.visibility as 'public' | 'internal',
    tags: (r.tags as string[]) ?? [],
    version: r.published_version as number,
    publishedAt: new Date((r.published_at as Date | null) ?? (r.type_updated_at as Date)),
    type: {
      key: r.type_key as string,
      name: r.type_name as string,
      description: (r.type_description as string | null) ?? null,
      schemaOrgType: r.schema_org_type as SchemaOrgType,
      fields: (r.type_fields as FieldDefinition[]) ?? [],
      updatedAt: new Date(r.type_updated_at as Date),
    },
    values: (r.fields as Record<string, Record<string, unknown>>) ?? {},
    variants: (r.variants as ContentVariant[]) ?? [],
  }));
}

/**
 * The default content (no variant) of an entry in a locale chain, blocks' variants removed,
 * or null when its validity dates exclude `now`.
 */
export async function defaultContent(
  entry: PublishedEntry,
  chain: readonly string[],
  now: Date,
): Promise<{ fields: Record<string, unknown>; fieldLocales: Record<string, string> } | null> {
  const { fields, fieldLocales } = resolveLocalized(entry.values, chain);
  if (!isValidAt(fields, now)) return null;
  return { fields: await resolveBlocks(fields, null, []), fieldLocales };
}

/** Whether an entry has any value in one of the chain's locales (shared values alone do not count). */
export function hasLocale(entry: PublishedEntry, chain: readonly string[]): boolean {
  return chain.some((locale) => Object.keys(entry.values[locale] ?? {}).length > 0);
}
