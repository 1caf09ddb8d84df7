import type { EntityManager } from '@mikro-orm/postgresql';
import { ValidationError } from '../../../kernel/errors.ts';
import { recordEvent } from '../../../kernel/events.ts';
import {
  Agent,
  Conversation,
  type ConversationEntity,
  type ConversationPriority,
  conversationPriorities,
  Handoff,
  type HandoffEntity,
  type MessageEntity,
} from '../entities.ts';
import { getConversation, liveSiblingOf, morePressing, setConversationStatus } from './conversations.ts';
import {
  conversationNotices,
  type LiveNotice,
  messageNotices,
  type SendDependencies,
  sendMessage,
} from './messages.ts';
import { type RoutingOutcome, routeConversation } from './routing.ts';

/** Reasons that make a conversation more urgent than it was; any other reason keeps its priority. */
export const handoffPriorities: Readonly<Record<string, ConversationPriority>> = Object.freeze({
  'asked-for-human': 'high',
  'negative-sentiment': 'high',
  complaint: 'high',
  'safety-concern': 'urgent',
});

export interface HandoffRequest {
  conversationId: string;
  /** Who hands off: the plugin's name, e.g. `assistant`. */
  source: string;
  /** Why: `low-confidence`, `negative-sentiment`, `asked-for-human`, `topic`, … */
  reason: string;
  /** What the human should read first; it becomes an internal note. */
  summary: string;
  /** Facts the human should see at once (order number, what was tried). */
  context?: Record<string, unknown> | null;
  /** Overrides the priority the reason implies; a handoff never lowers a priority. */
  priority?: ConversationPriority | null;
}

export interface HandoffOutcome {
  handoff: HandoffEntity;
  conversation: ConversationEntity;
  note: MessageEntity;
  routing: RoutingOutcome | null;
  /** Publish these after your transaction commits (`publishNotices`). */
  notices: LiveNotice[];
}

/**
 * A bot or flow hands a conversation to a human, in the caller's transaction: the handoff is
 * recorded, its summary becomes an internal note (the newest thing in the thread, so the agent
 * reads it first), the conversation reopens, its priority rises when the reason calls for it,
 * and routing finds a human (reason `handoff`) unless an available agent already holds it.
 * Emits `conversation.handed-off`.
 */
export function requestHandoff(
  em: EntityManager,
  deps: SendDependencies,
  request: HandoffRequest,
): Promise<HandoffOutcome> {
  return em.transactional(async (tx) => {
    const source = clean(request.source, 'source', 100);
    const reason = clean(request.reason, 'reason', 100).toLowerCase();
    const summary = clean(request.summary, 'summary', 10_000);
    if (request.priority && !conversationPriorities.includes(request.priority)) {
      throw new ValidationError(`priority must be one of ${conversationPriorities.join(', ')}`, 'priority');
    }
    const context = request.context ?? {};
    if (JSON.stringify(context).length > 20_000) {
      throw new ValidationError('context must be at most 20,000 characters of JSON', 'context');
    }
    let conversation = await getConversation(tx, request.conversationId);
    if (conversation.mergedInto) conversation = await getConversation(tx, conversation.mergedInto);
    // A resolved thread whose customer has written since: the human takes over the live one.
    if (conversation.status === 'resolved')
      conversation = (await liveSiblingOf(tx, conversation)) ?? conversation;

    const handoff = tx.create(Handoff, {
      workspace: conversation.workspace,
      conversation: conversation.id,
      source,
      reason,
      summary,
      context,
    });
    await tx.flush();
    const { message: note } = await sendMessage(tx, deps, {
      workspaceId: conversation.workspace,
      conversationId: conversation.id,
      internal: true,
      author: 'system',
      authorId: source,
      text: `Handed off by ${source} (${reason}): ${summary}`,
      idempotencyKey: `handoff:${handoff.id}`,
    });
    if (conversation.status !== 'open') {
      await setConversationStatus(tx, conversation.id, 'open', { actor: source });
    }
    const wanted = request.priority ?? handoffPriorities[reason];
    if (wanted && morePressing(wanted, conversation.priority)) conversation.priority = wanted;
    conversation.lastMessageAt = note.createdAt;
    await tx.flush();

    const holder = conversation.assignee
      ? await tx.findOne(Agent, { subject: conversation.assignee, available: true })
      : null;
    const routing = holder
      ? null
      : await routeConversation(tx, conversation.id, {
          reason: 'handoff',
          actor: source,
          detail: `${source}: ${reason}`,
        });
    const routed = await tx.findOneOrFail(Conversation, { id: conversation.id });
    recordEvent(tx, {
      type: 'conversation.handed-off',
      workspaceId: routed.workspace,
      subject: routed.id,
      payload: {
        conversationId: routed.id,
        profileId: routed.profileId,
        handoffId: handoff.id,
        source,
        reason,
        priority: routed.priority,
        assignee: routed.assignee ?? null,
        team: routed.team ?? null,
      },
    });
    return {
      handoff,
      conversation: routed,
      note,
      routing,
      notices: [...messageNotices(note, 'message'), ...conversationNotices(routed)],
    };
  });
}

function clean(value: string | null | undefined, field: string, max: number): string {
  const text = value?.trim() ?? '';
  if (!text || text.length > max)
    throw new ValidationError(`${field} must have 1 to ${max} characters`, field);
  return text;
}
