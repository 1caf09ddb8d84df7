import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import { NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import { recordEvent } from '../../../kernel/events.ts';
import { Conversation, type ConversationEntity, type ConversationStatus } from '../entities.ts';

/** Service levels for new conversations, from the settings (CONVERSATION_*). */
export interface ServiceLevels {
  firstResponseMinutes: number;
  resolutionHours: number;
}

/** A conversation is "live" until resolved: new messages of the same person join it. */
const LIVE: ConversationStatus[] = ['open', 'pending', 'snoozed'];

/**
 * The profile's live conversation, or a new one. Locks the profile's conversations (an advisory
 * lock on the profile id), so that two channels writing at once cannot open two threads.
 */
export async function liveConversationOf(
  em: EntityManager,
  workspaceId: string,
  profileId: string,
  levels: ServiceLevels,
  now = new Date(),
): Promise<{ conversation: ConversationEntity; opened: boolean }> {
  await sql(em, `select pg_advisory_xact_lock(hashtextextended('conversation' || $1, 0))`, [profileId]);
  const live = await em.findOne(
    Conversation,
    { workspace: workspaceId, profileId, status: { $in: LIVE }, mergedInto: null },
    { orderBy: { lastMessageAt: 'desc nulls last' } },
  );
  if (live) return { conversation: live, opened: false };
  const conversation = em.create(Conversation, {
    workspace: workspaceId,
    profileId,
    status: 'open',
    firstResponseDueAt: new Date(now.getTime() + levels.firstResponseMinutes * 60_000),
    resolutionDueAt: new Date(now.getTime() + levels.resolutionHours * 3_600_000),
  });
  await em.flush();
  recordEvent(em, {
    type: 'conversation.opened',
    workspaceId,
    subject: conversation.id,
    payload: { conversationId: conversation.id, profileId },
  });
  return { conversation, opened: true };
}

export async function getConversation(em: EntityManager, id: string): Promise<ConversationEntity> {
  const conversation = await em.findOne(Conversation, { id });
  if (!conversation) throw new NotFoundError('the conversation');
  return conversation;
}

/** Moves a conversation through its states; each change is an event that webhooks and journeys see. */
export async function setConversationStatus(
  em: EntityManager,
  id: string,
  status: ConversationStatus,
  options: { snoozedUntil?: Date | null; actor: string | null; now?: Date },
): Promise<ConversationEntity> {
  const conversation = await getConversation(em, id);
  if (conversation.mergedInto) {
    throw new ValidationError('this conversation was merged into another; change that one', 'id');
  }
  const now = options.now ?? new Date();
  if (status === 'snoozed') {
    if (!options.snoozedUntil || options.snoozedUntil <= now) {
      throw new ValidationError('snoozedUntil must be in the future', 'snoozedUntil');
    }
    conversation.snoozedUntil = options.snoozedUntil;
  } else {
    conversation.snoozedUntil = null;
  }
  const previous = conversation.status;
  conversation.status = status;
  conversation.resolvedAt = status === 'resolved' ? now : null;
  await em.flush();
  if (previous !== status) {
    recordEvent(em, {
      type: `conversation.${status}`,
      workspaceId: conversation.workspace,
      subject: conversation.id,
      payload: {
        conversationId: conversation.id,
        profileId: conversation.profileId,
        previous,
        actor: options.actor,
      },
    });
  }
  return conversation;
}

export async function tagConversation(
  em: EntityManager,
  id: string,
  change: {
    add?: string[] | null;
    remove?: string[] | null;
    priority?: ConversationEntity['priority'] | null;
  },
): Promise<ConversationEntity> {
  const conversation = await getConversation(em, id);
  const tags = new Set(conversation.tags);
  for (const tag of change.add ?? []) {
    const clean = tag.trim().toLowerCase();
    if (!/^[a-z0-9][a-z0-9:_-]{0,49}$/.test(clean)) {
      throw new ValidationError(`tag "${tag}" must be 1 to 50 letters, digits, ":", "_" or "-"`, 'add');
    }
    tags.add(clean);
  }
  for (const tag of change.remove ?? []) tags.delete(tag.trim().toLowerCase());
  conversation.tags = [...tags];
  if (change.priority) conversation.priority = change.priority;
  await em.flush();
  return conversation;
}

/**
 * Merges `mergedId` into `survivorId` (same workspace): messages, assignments and handoffs move,
 * channels and tags join, the earlier SLA clocks stand; the merged conversation stays as a
 * resolved pointer (`mergedInto`) so that links to it still lead somewhere.
 */
export async function mergeConversations(
  em: EntityManager,
  survivorId: string,
  mergedId: string,
  actor: string | null,
): Promise<ConversationEntity> {
  if (survivorId === mergedId)
    throw new ValidationError('a conversation cannot be merged into itself', 'mergedId');
  const [first, second] = [survivorId, mergedId].sort();
  // Lock in id order: two merges of the same pair cannot deadlock.
  await em.findOne(Conversation, { id: first }, { lockMode: 4 });
  await em.findOne(Conversation, { id: second }, { lockMode: 4 });
  const survivor = await getConversation(em, survivorId);
  const merged = await getConversation(em, mergedId);
  if (survivor.mergedInto)
    throw new ValidationError('the surviving conversation was itself merged away', 'survivorId');
  if (merged.mergedInto) throw new ValidationError('that conversation was already merged', 'mergedId');

  for (const table of ['message', 'conversation_assignment', 'conversation_handoff']) {
    await sql(em, `update ${table} set conversation_id = $1 where conversation_id = $2`, [
      survivorId,
      mergedId,
    ]);
  }
  survivor.channels = [...new Set([...survivor.channels, ...merged.channels])];
  survivor.tags = [...new Set([...survivor.tags, ...merged.tags])];
  survivor.firstResponseDueAt = earliest(survivor.firstResponseDueAt, merged.firstResponseDueAt);
  survivor.firstResponseAt = earliest(survivor.firstResponseAt, merged.firstResponseAt);
  survivor.resolutionDueAt = earliest(survivor.resolutionDueAt, merged.resolutionDueAt);
  survivor.lastMessageAt = latest(survivor.lastMessageAt, merged.lastMessageAt);
  survivor.assignee ??= merged.assignee;
  survivor.team ??= merged.team;
  if (survivor.status === 'resolved' && merged.status !== 'resolved') {
    survivor.status = merged.status;
    survivor.resolvedAt = null;
  }
  merged.status = 'resolved';
  merged.resolvedAt = new Date();
  merged.mergedInto = survivorId;
  await em.flush();
  recordEvent(em, {
    type: 'conversation.merged',
    workspaceId: survivor.workspace,
    subject: survivorId,
    payload: {
      conversationId: survivorId,
      mergedConversationId: mergedId,
      profileId: survivor.profileId,
      actor,
    },
  });
  return survivor;
}

/**
 * After a profile merge: the merged profile's conversations belong to the survivor now, and
 * when both had a live thread they become one, so the agent sees the whole story.
 */
export async function adoptMergedProfile(
  em: EntityManager,
  workspaceId: string,
  survivorProfileId: string,
  mergedProfileId: string,
): Promise<void> {
  await sql(em, `update conversation set profile_id = $1 where workspace_id = $2 and profile_id = $3`, [
    survivorProfileId,
    workspaceId,
    mergedProfileId,
  ]);
  const live = await em.find(
    Conversation,
    { workspace: workspaceId, profileId: survivorProfileId, status: { $in: LIVE }, mergedInto: null },
    { orderBy: { createdAt: 'asc' } },
  );
  const [survivor, ...others] = live;
  for (const other of others)
    if (survivor) await mergeConversations(em, survivor.id, other.id, 'profile-merge');
}

function earliest(a: Date | null | undefined, b: Date | null | undefined): Date | null {
  if (!a) return b ?? null;
  if (!b) return a;
  return a < b ? a : b;
}

function latest(a: Date | null | undefined, b: Date | null | undefined): Date | null {
  if (!a) return b ?? null;
  if (!b) return a;
  return a > b ? a : b;
}
