import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import type { SearchDocument } from '../../../search/engine.ts';
import type { SearchSource } from '../../../search/indexing.ts';
import { textOf } from '../delivery/rich-text.ts';
import type { FieldDefinition } from '../entities.ts';
import { SHARED_LOCALE } from '../service/fields.ts';
import { liveEntry } from '../service/live.ts';

export const CONTENT_COLLECTION = 'content';

interface PublishedRow {
  id: string;
  key: string;
  visibility: string;
  tags: string[];
  type_key: string;
  type_fields: FieldDefinition[];
  fields: Record<string, Record<string, unknown>>;
}

/**
 * Published entries as search documents, one per locale they have text in: the first text
 * field is the title, every other text and rich-text field the body. Internal entries are
 * indexed too (agents search them); `visibility` lets the Public graph leave them out.
 */
export const contentSearchSource: SearchSource = {
  collection: CONTENT_COLLECTION,
  settings: {
    searchable: ['title', 'body', 'tags'],
    filterable: ['type', 'visibility', 'tags'],
    localized: ['de', 'en', 'fr', 'it'],
  },
  indexOn: [{ event: 'content.published' }, { event: 'content.unpublished' }],
  async documentsFor(em: EntityManager, workspaceId: string, ids: string[]): Promise<SearchDocument[]> {
    const rows = await sql<PublishedRow>(
      em,
      `select e.id::text as id, e.key, e.visibility, e.tags, t.key as type_key, t.fields as type_fields, v.fields
       from content_entry e
       join content_type t on t.id = e.type_id
       join content_version v on v.entry_id = e.id and v.version = e.published_version
       where e.workspace_id = $1 and e.id = any($2::uuid[]) and ${liveEntry()}`,
      [workspaceId, ids],
    );
    return rows.flatMap(documentsOf);
  },
  async allIds(em: EntityManager, workspaceId: string): Promise<string[]> {
    const rows = await sql<{ id: string }>(
      em,
      `select e.id::text as id from content_entry e join content_type t on t.id = e.type_id
       where e.workspace_id = $1 and ${liveEntry()}`,
      [workspaceId],
    );
    return rows.map((r) => r.id);
  },
};

function documentsOf(row: PublishedRow): SearchDocument[] {
  const textFields = row.type_fields.filter((f) => f.kind === 'text' || f.kind === 'rich_text');
  const shared = row.fields[SHARED_LOCALE] ?? {};
  const filters = { type: row.type_key, visibility: row.visibility, tags: row.tags ?? [] };
  return Object.keys(row.fields)
    .filter((locale) => locale !== SHARED_LOCALE)
    .map((locale) => {
      const values = { ...shared, ...row.fields[locale] };
      const texts = textFields.map((f) => textOf(values[f.key])).filter(Boolean);
      return {
        id: row.id,
        locale,
        fields: { title: texts[0] ?? row.key, body: texts.slice(1), tags: row.tags ?? [] },
        filters,
      };
    });
}
