import type { EntityManager } from '@mikro-orm/postgresql';
import { recordEvent } from '../../../kernel/events.ts';
import type { ContentEntryEntity } from '../entities.ts';
import { type Actor, versionOf } from './entries.ts';
import { SHARED_LOCALE } from './fields.ts';

/** `content.published` / `content.unpublished`: what search indexing and caches follow. */
export interface ContentPublicationPayload {
  entryId: string;
  key: string;
  type: string;
  /** Locales the published version has values in (fields that are not localized apply to all). */
  locales: string[];
  version: number;
  visibility: string;
}

/** `content.submitted`, `content.approved`, `content.rejected`, `content.archived`. */
export interface ContentWorkflowPayload {
  entryId: string;
  key: string;
  type: string;
  version: number;
  actor: string;
  comment?: string;
}

export async function recordPublication(
  em: EntityManager,
  entry: ContentEntryEntity,
  type: 'content.published' | 'content.unpublished',
  version: number,
): Promise<void> {
  const { fields } = await versionOf(em, entry, version);
  const payload: ContentPublicationPayload = {
    entryId: entry.id,
    key: entry.key,
    type: entry.type.key,
    locales: Object.keys(fields)
      .filter((l) => l !== SHARED_LOCALE)
      .sort(),
    version,
    visibility: entry.visibility,
  };
  recordEvent(em, { type, workspaceId: entry.workspace, subject: entry.id, payload: { ...payload } });
}

export function recordWorkflowEvent(
  em: EntityManager,
  entry: ContentEntryEntity,
  type: 'content.submitted' | 'content.approved' | 'content.rejected' | 'content.archived',
  actor: Actor,
  comment?: string | null,
): void {
  const payload: ContentWorkflowPayload = {
    entryId: entry.id,
    key: entry.key,
    type: entry.type.key,
    version: entry.workingVersion,
    actor: actor.subject,
    ...(comment ? { comment } : {}),
  };
  recordEvent(em, { type, workspaceId: entry.workspace, subject: entry.id, payload: { ...payload } });
}
