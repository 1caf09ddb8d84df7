import { type EntityManager, LockMode } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import { NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import { recordEvent } from '../../../kernel/events.ts';
import {
  Assignment,
  type AssignmentEntity,
  Conversation,
  type ConversationEntity,
  type ConversationPriority,
  type ConversationStatus,
  Handoff,
  type HandoffEntity,
  Message,
  type MessageEntity,
} from '../entities.ts';

/** Service levels for new conversations, from the settings (CONVERSATION_*). */
export interface ServiceLevels {
  firstResponseMinutes: number;
  resolutionHours: number;
}

/** A conversation is "live" until resolved: new messages of the same person join it. */
export const LIVE_STATUSES: ConversationStatus[] = ['open', 'pending', 'snoozed'];
const LIVE = LIVE_STATUSES;

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

/** Another live conversation of the same customer, if there is one (taking the profile's lock). */
export async function liveSiblingOf(
  em: EntityManager,
  conversation: ConversationEntity,
): Promise<ConversationEntity | null> {
  await sql(em, `select pg_advisory_xact_lock(hashtextextended('conversation' || $1, 0))`, [
    conversation.profileId,
  ]);
  return em.findOne(Conversation, {
    workspace: conversation.workspace,
    profileId: conversation.profileId,
    status: { $in: LIVE },
    mergedInto: null,
    id: { $ne: conversation.id },
  });
}

export async function getConversation(em: EntityManager, id: string): Promise<ConversationEntity> {
  const conversation = await em.findOne(Conversation, { id });
  if (!conversation) throw new NotFoundError('the conversation');
  return conversation;
}

/**
 * The event type of a move to `status`: `conversation.reopened`, `.pending`, `.snoozed`,
 * `.resolved` (a new conversation is `conversation.opened`).
 */
export function statusEventType(status: ConversationStatus): string {
  return status === 'open' ? 'conversation.reopened' : `conversation.${status}`;
}

/** Moves a conversation through its states; each change is an event that webhooks and journeys see. */
export function setConversationStatus(
  em: EntityManager,
  id: string,
  status: ConversationStatus,
  options: { snoozedUntil?: Date | null; actor: string | null; now?: Date },
): Promise<ConversationEntity> {
  return em.transactional((tx) => moveConversation(tx, id, status, options));
}

async function moveConversation(
  em: EntityManager,
  id: string,
  status: ConversationStatus,
  options: { snoozedUntil?: Date | null; actor: string | null; now?: Date },
): Promise<ConversationEntity> {
  const conversation = await getConversation(em, id);
  if (conversation.mergedInto) {
    throw new ValidationError('this conversation was merged into another; change that one', 'id');
  }
  if (conversation.status === 'resolved' && status !== 'resolved') {
    // One live thread per customer: a second one would split what the customer writes next.
    const sibling = await liveSiblingOf(em, conversation);
    if (sibling) {
      throw new ValidationError(
        `the customer has another live conversation (${sibling.id}): merge this one into it instead`,
        'id',
      );
    }
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
      type: statusEventType(status),
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
    priority?: ConversationPriority | null;
  },
): Promise<ConversationEntity> {
  const conversation = await getConversation(em, id);
  if (conversation.mergedInto) {
    throw new ValidationError('this conversation was merged into another; change that one', 'id');
  }
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
export function mergeConversations(
  em: EntityManager,
  survivorId: string,
  mergedId: string,
  actor: string | null,
): Promise<ConversationEntity> {
  return em.transactional((tx) => joinConversations(tx, survivorId, mergedId, actor));
}

async function joinConversations(
  em: EntityManager,
  survivorId: string,
  mergedId: string,
  actor: string | null,
): Promise<ConversationEntity> {
  if (survivorId === mergedId)
    throw new ValidationError('a conversation cannot be merged into itself', 'mergedId');
  const [first, second] = [survivorId, mergedId].sort();
  // Lock in id order: two merges of the same pair cannot deadlock. (A plain write lock: the
  // "partial" one is SKIP LOCKED, which would let a concurrent merge through unlocked.)
  await em.findOne(Conversation, { id: first }, { lockMode: LockMode.PESSIMISTIC_WRITE });
  await em.findOne(Conversation, { id: second }, { lockMode: LockMode.PESSIMISTIC_WRITE });
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
  if (!survivor.assignee && merged.assignee) {
    survivor.assignee = merged.assignee;
    survivor.team ??= merged.team;
    // Taking over the merged conversation's agent is a change of hands like any other.
    em.create(Assignment, {
      workspace: survivor.workspace,
      conversation: survivor.id,
      assignee: survivor.assignee,
      team: survivor.team,
      reason: 'merge',
      detail: `from conversation ${mergedId}`,
      assignedBy: actor,
    });
  }
  survivor.team ??= merged.team;
  if (morePressing(merged.priority, survivor.priority)) survivor.priority = merged.priority;
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
  // The same lock as liveConversationOf: no new thread of the survivor appears while we join them.
  await sql(em, `select pg_advisory_xact_lock(hashtextextended('conversation' || $1, 0))`, [
    survivorProfileId,
  ]);
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

/** What an agent's inbox shows; every condition given must hold. */
export interface InboxFilter {
  /** Default: every status. */
  statuses?: ConversationStatus[] | null;
  /** An agent's subject; see `unassigned`. */
  assignee?: string | null;
  /** Only conversations nobody holds (a team may). */
  unassigned?: boolean | null;
  team?: string | null;
  /** Conversations that used this channel. */
  channel?: string | null;
  tag?: string | null;
  priority?: ConversationPriority | null;
  /** Words in any message of the conversation (case-insensitive substring). */
  search?: string | null;
}

/**
 * The inbox: conversations of the workspace, most recent message first (new ones without a
 * message last), merged-away ones never.
 */
export async function listConversations(
  em: EntityManager,
  workspaceId: string,
  filter: InboxFilter,
  page: { offset: number; limit: number },
): Promise<ConversationEntity[]> {
  const where = ['c.workspace_id = $1', 'c.merged_into is null'];
  const params: unknown[] = [workspaceId];
  const add = (condition: (n: string) => string, value: unknown) => {
    params.push(value);
    where.push(condition(`$${params.length}`));
  };
  if (filter.statuses?.length) add((n) => `c.status = any(${n}::text[])`, filter.statuses);
  if (filter.unassigned) where.push('c.assignee is null');
  else if (filter.assignee) add((n) => `c.assignee = ${n}`, filter.assignee);
  if (filter.team) add((n) => `c.team = ${n}`, filter.team);
  if (filter.channel) add((n) => `${n} = any(c.channels)`, filter.channel);
  if (filter.tag) add((n) => `${n} = any(c.tags)`, filter.tag.trim().toLowerCase());
  if (filter.priority) add((n) => `c.priority = ${n}`, filter.priority);
  const words = filter.search?.trim();
  if (words) {
    if (words.length > 200) throw new ValidationError('search must be at most 200 characters', 'search');
    add(
      (n) =>
        `exists (select 1 from message m where m.conversation_id = c.id and m.text ilike ${n} escape '\\')`,
      `%${words.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`,
    );
  }
  params.push(page.limit, page.offset);
  const rows = await sql<{ id: string }>(
    em,
    `select c.id from conversation c where ${where.join(' and ')}
     order by c.last_message_at desc nulls last, c.created_at desc, c.id
     limit $${params.length - 1} offset $${params.length}`,
    params,
  );
  const ids = rows.map((r) => r.id);
  const found = new Map((await em.find(Conversation, { id: { $in: ids } })).map((c) => [c.id, c]));
  return ids.flatMap((id) => found.get(id) ?? []);
}

/** A conversation's messages, newest first. */
export function listMessages(
  em: EntityManager,
  conversationId: string,
  options: { includeInternal: boolean },
  page: { offset: number; limit: number },
): Promise<MessageEntity[]> {
  return em.find(
    Message,
    { conversation: conversationId, ...(options.includeInternal ? {} : { internal: false }) },
    { orderBy: { createdAt: 'desc', id: 'asc' }, ...page },
  );
}

export function listAssignments(em: EntityManager, conversationId: string): Promise<AssignmentEntity[]> {
  return em.find(Assignment, { conversation: conversationId }, { orderBy: { createdAt: 'asc', id: 'asc' } });
}

export function listHandoffs(em: EntityManager, conversationId: string): Promise<HandoffEntity[]> {
  return em.find(Handoff, { conversation: conversationId }, { orderBy: { createdAt: 'asc', id: 'asc' } });
}

/** A profile's conversations, newest first (merged-away ones too: they point at the survivor). */
export function conversationsOfProfile(
  em: EntityManager,
  profileId: string,
  page: { offset: number; limit: number },
): Promise<ConversationEntity[]> {
  return em.find(Conversation, { profileId }, { orderBy: { createdAt: 'desc', id: 'asc' }, ...page });
}

const PRIORITY_RANK: Record<ConversationPriority, number> = { low: 0, normal: 1, high: 2, urgent: 3 };

/** True when `a` is more urgent than `b`. */
export function morePressing(a: ConversationPriority, b: ConversationPriority): boolean {
  return PRIORITY_RANK[a] > PRIORITY_RANK[b];
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
