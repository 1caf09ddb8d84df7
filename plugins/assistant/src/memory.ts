import { hasConsent, NotFoundError, ValidationError } from '@atrium/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { AssistantMemory, type AssistantMemoryEntity, type MemoryKind } from './entities.ts';

export const MEMORY_PURPOSE = 'ai_memory';
const MAX_ITEMS = 50;

/**
 * Facts and preferences a customer states about themself, read by fixed patterns (never by a
 * model, so nothing is invented): "I prefer …", "please always …", "my size is …", "I live in …".
 */
const PATTERNS: { kind: MemoryKind; re: RegExp }[] = [
  { kind: 'preference', re: /\bI (?:prefer|like|want) ([^.!?\n]{3,120})/iu },
  { kind: 'preference', re: /\bplease (?:always|never) ([^.!?\n]{3,120})/iu },
  { kind: 'preference', re: /\b(?:call me|my name is) ([\p{L}' -]{2,60})/iu },
  { kind: 'fact', re: /\bmy ((?:shoe |clothing )?size is [^.!?\n]{1,40})/iu },
  { kind: 'fact', re: /\bI (live in [^.!?\n]{2,80})/iu },
  { kind: 'fact', re: /\bI (?:am|'m) (allergic to [^.!?\n]{2,80})/iu },
];

export function statementsIn(text: string): { kind: MemoryKind; text: string }[] {
  const found: { kind: MemoryKind; text: string }[] = [];
  for (const { kind, re } of PATTERNS) {
    const match = re.exec(text);
    if (match) found.push({ kind, text: match[0].trim() });
  }
  return found;
}

/** Remembers what the customer stated, only with `ai_memory` consent; returns what was stored. */
export async function rememberFrom(
  em: EntityManager,
  workspaceId: string,
  profileId: string,
  text: string,
): Promise<AssistantMemoryEntity[]> {
  const statements = statementsIn(text);
  if (statements.length === 0 || !(await hasConsent(em, profileId, MEMORY_PURPOSE))) return [];
  const existing = await em.find(AssistantMemory, { workspace: workspaceId, profileId });
  const known = new Set(existing.map((m) => m.text.toLocaleLowerCase()));
  const stored: AssistantMemoryEntity[] = [];
  for (const s of statements) {
    if (known.has(s.text.toLocaleLowerCase()) || existing.length + stored.length >= MAX_ITEMS) continue;
    stored.push(
      em.create(AssistantMemory, {
        workspace: workspaceId,
        profileId,
        kind: s.kind,
        text: s.text,
        source: 'customer',
      }),
    );
  }
  await em.flush();
  return stored;
}

/** What the assistant may use about the person now: nothing without current `ai_memory` consent. */
export async function usableMemories(
  em: EntityManager,
  workspaceId: string,
  profileId: string | null,
): Promise<string[]> {
  if (!profileId || !(await hasConsent(em, profileId, MEMORY_PURPOSE))) return [];
  const rows = await em.find(
    AssistantMemory,
    { workspace: workspaceId, profileId },
    { orderBy: { createdAt: 'asc' } },
  );
  return rows.map((m) => `${m.kind}: ${m.text}`);
}

export async function listMemories(
  em: EntityManager,
  workspaceId: string,
  profileId: string,
): Promise<AssistantMemoryEntity[]> {
  return em.find(
    AssistantMemory,
    { workspace: workspaceId, profileId },
    { orderBy: { createdAt: 'asc', id: 'asc' } },
  );
}

/** Corrects one item; `profileId` confines a customer to their own items. */
export async function correctMemory(
  em: EntityManager,
  id: string,
  text: string,
  by: string,
  profileId: string | null,
): Promise<AssistantMemoryEntity> {
  const clean = text.trim();
  if (!clean || clean.length > 500) throw new ValidationError('text must have 1 to 500 characters', 'text');
  const row = await em.findOne(AssistantMemory, profileId ? { id, profileId } : { id });
  if (!row) throw new NotFoundError('the memory');
  row.text = clean;
  row.source = by;
  await em.flush();
  return row;
}

/** Deletes one item, or every item of the person when `id` is null; returns how many went. */
export async function forgetMemories(
  em: EntityManager,
  workspaceId: string,
  profileId: string,
  id: string | null,
): Promise<number> {
  const where = { workspace: workspaceId, profileId };
  return em.nativeDelete(AssistantMemory, id ? { ...where, id } : where);
}
