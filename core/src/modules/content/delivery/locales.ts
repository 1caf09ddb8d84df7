import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import { fallbackChain } from '../service/locales.ts';

export interface LocaleRow {
  code: string;
  fallback: string | null;
  isDefault: boolean;
}

/** The workspace's locales, default first. */
export function workspaceLocales(em: EntityManager, workspaceId: string): Promise<LocaleRow[]> {
  return sql<LocaleRow>(
    em,
    `select code, fallback, is_default as "isDefault" from content_locale
     where workspace_id = $1 order by is_default desc, code`,
    [workspaceId],
  );
}

/**
 * The chain a read in `code` follows (see `fallbackChain`), or null when the workspace has
 * locales and `code` is not one of them; a workspace without locales reads `code` only.
 */
export function readChain(locales: readonly LocaleRow[], code: string): string[] | null {
  if (locales.length === 0) return [code];
  if (!locales.some((l) => l.code === code)) return null;
  return fallbackChain(locales, code);
}
