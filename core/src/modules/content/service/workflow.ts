import type { EntityManager } from '@mikro-orm/postgresql';
import { ForbiddenError, ValidationError } from '../../../kernel/errors.ts';
import type { ContentEntryEntity, EntryStatus } from '../entities.ts';
import { type Actor, findEntry, listTransitions, recordTransition, referencedBy } from './entries.ts';
import { recordPublication, recordWorkflowEvent } from './events.ts';

/*
 * draft ──submit──▶ in_review ──approve──▶ approved ──publish──▶ published
 *   ▲                  │ reject               │ reject               │ unpublish → approved
 *   └──────────────────┴──────────────────────┘                      │
 * edit (any live status) → draft, published version stays readable    ▼
 * archive: from any status; unpublishes first.
 */

const can = (actor: Actor, scope: string) => actor.scopes.includes(scope) || actor.scopes.includes('admin');

function requireScope(actor: Actor, scope: 'editor' | 'reviewer', action: string): void {
  if (!can(actor, scope)) throw new ForbiddenError(`${action} needs the ${scope} role`);
}

function requireStatus(entry: ContentEntryEntity, allowed: EntryStatus[], action: string): void {
  if (!allowed.includes(entry.status))
    throw new ValidationError(
      `cannot ${action} an entry that is ${entry.status} (needs ${allowed.join(' or ')})`,
      'id',
    );
}

/** The person who sent the working version to review: the latest `→ in_review` transition. */
async function submitterOf(em: EntityManager, entry: ContentEntryEntity): Promise<string | null> {
  const transitions = await listTransitions(em, entry);
  return transitions.findLast((t) => t.toStatus === 'in_review')?.actor ?? null;
}

type Step = (tem: EntityManager, entry: ContentEntryEntity) => Promise<void>;

async function act(em: EntityManager, id: string, step: Step): Promise<ContentEntryEntity> {
  return em.transactional(async (tem) => {
    const entry = await findEntry(tem, id);
    await step(tem, entry);
    await tem.flush();
    return entry;
  });
}

/** An editor sends a draft to review. */
export function submitEntry(em: EntityManager, actor: Actor, id: string, comment?: string | null) {
  return act(em, id, async (tem, entry) => {
    requireScope(actor, 'editor', 'submitting');
    requireStatus(entry, ['draft'], 'submit');
    recordTransition(tem, entry, 'in_review', actor, comment ?? null);
    recordWorkflowEvent(tem, entry, 'content.submitted', actor, comment);
  });
}

/**
 * A reviewer approves what is in review; not their own submission (four eyes), except an
 * admin, who may approve anything so that a one-person workspace can still publish.
 */
export function approveEntry(em: EntityManager, actor: Actor, id: string, comment?: string | null) {
  return act(em, id, async (tem, entry) => {
    requireScope(actor, 'reviewer', 'approving');
    requireStatus(entry, ['in_review'], 'approve');
    if (!actor.scopes.includes('admin') && (await submitterOf(tem, entry)) === actor.subject)
      throw new ForbiddenError(
        'a reviewer cannot approve their own submission; ask another reviewer or an admin',
      );
    recordTransition(tem, entry, 'approved', actor, comment ?? null);
    recordWorkflowEvent(tem, entry, 'content.approved', actor, comment);
  });
}

/** A reviewer sends an entry in review (or approved, not yet published) back to draft, saying why. */
export function rejectEntry(em: EntityManager, actor: Actor, id: string, comment: string) {
  return act(em, id, async (tem, entry) => {
    requireScope(actor, 'reviewer', 'rejecting');
    requireStatus(entry, ['in_review', 'approved'], 'reject');
    const reason = comment?.trim();
    if (!reason) throw new ValidationError('comment: say what needs to change', 'comment');
    recordTransition(tem, entry, 'draft', actor, reason);
    recordWorkflowEvent(tem, entry, 'content.rejected', actor, reason);
  });
}

/** Makes the approved working version the published one. */
export async function publishApproved(
  tem: EntityManager,
  entry: ContentEntryEntity,
  actor: Actor,
): Promise<void> {
  requireStatus(entry, ['approved'], 'publish');
  recordTransition(tem, entry, 'published', actor);
  entry.publishedVersion = entry.workingVersion;
  entry.publishedAt = new Date();
  entry.publishedBy = actor.subject;
  entry.publishAt = null;
  await recordPublication(tem, entry, 'content.published', entry.workingVersion);
}

export function publishEntry(em: EntityManager, actor: Actor, id: string) {
  return act(em, id, async (tem, entry) => {
    requireScope(actor, 'editor', 'publishing');
    await publishApproved(tem, entry, actor);
  });
}

/** Takes the published version off the Public graph; a published entry goes back to approved. */
export async function unpublishLive(
  tem: EntityManager,
  entry: ContentEntryEntity,
  actor: Actor,
  comment: string | null = null,
): Promise<void> {
  const live = entry.publishedVersion;
  if (live === null || live === undefined) throw new ValidationError('the entry is not published', 'id');
  if (entry.status === 'published') recordTransition(tem, entry, 'approved', actor, comment ?? 'unpublished');
  entry.publishedVersion = null;
  entry.unpublishAt = null;
  await recordPublication(tem, entry, 'content.unpublished', live);
}

export function unpublishEntry(em: EntityManager, actor: Actor, id: string) {
  return act(em, id, async (tem, entry) => {
    requireScope(actor, 'editor', 'unpublishing');
    await unpublishLive(tem, entry, actor);
  });
}

/** Retires an entry; refused while other entries reference it, and it says which. */
export function archiveEntry(em: EntityManager, workspaceId: string, actor: Actor, id: string) {
  return act(em, id, async (tem, entry) => {
    requireScope(actor, 'editor', 'archiving');
    if (entry.status === 'archived') throw new ValidationError('the entry is archived already', 'id');
    const users = await referencedBy(tem, workspaceId, entry.id);
    if (users.length)
      throw new ValidationError(
        `"${entry.key}" is referenced by ${users.join(', ')}: remove those references first`,
        'id',
      );
    if (entry.publishedVersion !== null && entry.publishedVersion !== undefined)
      await unpublishLive(tem, entry, actor, 'archived');
    recordTransition(tem, entry, 'archived', actor);
    entry.publishAt = null;
    entry.unpublishAt = null;
    recordWorkflowEvent(tem, entry, 'content.archived', actor);
  });
}

/**
 * Sets when the scheduler publishes (an approved entry, once the time has come) and
 * unpublishes it; `null` clears a time.
 */
export function scheduleEntry(
  em: EntityManager,
  actor: Actor,
  input: { id: string; publishAt?: Date | null; unpublishAt?: Date | null },
) {
  return act(em, input.id, async (_tem, entry) => {
    requireScope(actor, 'editor', 'scheduling');
    if (entry.status === 'archived') throw new ValidationError('an archived entry cannot be scheduled', 'id');
    if (input.publishAt !== undefined) entry.publishAt = input.publishAt;
    if (input.unpublishAt !== undefined) entry.unpublishAt = input.unpublishAt;
    if (entry.publishAt && entry.unpublishAt && entry.unpublishAt <= entry.publishAt)
      throw new ValidationError('unpublishAt must be after publishAt', 'unpublishAt');
    entry.updatedBy = actor.subject;
  });
}
