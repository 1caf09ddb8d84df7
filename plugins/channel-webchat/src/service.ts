import {
  Agent,
  AtriumError,
  ChannelInbox,
  type ChannelInboxEntity,
  Conversation,
  type ConversationEntity,
  type CustomerSessionEntity,
  ForbiddenError,
  getCustomerSession,
  type IdentifiedCustomer,
  identifyCustomerSession,
  Message,
  type MessageAuthor,
  type MessageEntity,
  receiveInbound,
  ValidationError,
} from '@atrium/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { verifyUserHash } from './identity.ts';
import { parseInboxSettings, type WebchatInboxSettings } from './settings.ts';

/** The channel's code, stored on inboxes and messages. */
export const WEBCHAT = 'webchat';
/** The plugin's name: what its customer sessions say opened them. */
export const PLUGIN_NAME = 'channel-webchat';

export const webchatAuthors = [
  'customer',
  'agent',
  'assistant',
  'system',
] as const satisfies readonly MessageAuthor[];

/** The customer behind a request: their session, profile and workspace. */
export interface Visitor {
  workspaceId: string;
  profileId: string;
  sessionId: string;
}

/** A message as the visitor sees it: no internal notes, no delivery internals, the author's display name. */
export interface WebchatMessageView {
  id: string;
  conversationId: string;
  author: MessageAuthor;
  /** The agent's display name; null for the customer, the assistant and agents without a profile. */
  authorName: string | null;
  text: string | null;
  createdAt: Date;
}

export class IdentityNotVerifiedError extends AtriumError {
  constructor(message: string) {
    super('IDENTITY_NOT_VERIFIED', message);
  }
}

/** An enabled web chat inbox by id, looked up across workspaces: the widget names only the inbox. */
export async function webchatInboxOf(em: EntityManager, inboxId: string): Promise<ChannelInboxEntity | null> {
  const inbox = await em.findOne(ChannelInbox, { id: inboxId }, { filters: false });
  return inbox?.enabled && inbox.channel === WEBCHAT ? inbox : null;
}

export function settingsOf(inbox: ChannelInboxEntity): WebchatInboxSettings {
  return parseInboxSettings(inbox.settings);
}

/** The web chat session behind a customer principal, or Forbidden when another flow opened it. */
export async function webchatSessionOf(
  em: EntityManager,
  sessionId: string,
): Promise<{ session: CustomerSessionEntity; inbox: ChannelInboxEntity }> {
  const session = await getCustomerSession(em, sessionId);
  const inbox = session.inbox ? await em.findOne(ChannelInbox, { id: session.inbox }) : null;
  if (session.issuedBy !== PLUGIN_NAME || !inbox) {
    throw new ForbiddenError('this customer session was not opened by the web chat');
  }
  if (!inbox.enabled) throw new ForbiddenError('this web chat is closed');
  return { session, inbox };
}

/**
 * The visitor proves who they are with the hash the site's backend made of their user id (the
 * inbox secret is the key). Checked before anything is written: a wrong hash merges nothing.
 * Then the user id joins the session's anonymous id and identity resolution merges the
 * anonymous profile into the user's; the conversation follows (`profile.merged`).
 */
export async function identifyVisitor(
  em: EntityManager,
  session: CustomerSessionEntity,
  inbox: ChannelInboxEntity,
  input: { userId: unknown; userHash: unknown },
): Promise<IdentifiedCustomer> {
  if (typeof input.userId !== 'string' || !input.userId.trim() || input.userId.length > 320) {
    throw new ValidationError('userId must be a text of 1 to 320 characters', 'userId');
  }
  const userId = input.userId.trim();
  const hash = typeof input.userHash === 'string' ? input.userHash.trim() : '';
  if (hash || settingsOf(inbox).requireIdentityVerification) {
    if (!hash) throw new IdentityNotVerifiedError('userHash is required: this inbox verifies identities');
    if (!verifyUserHash(userId, hash, inbox.secret)) {
      throw new IdentityNotVerifiedError('userHash does not match userId');
    }
  }
  return identifyCustomerSession(em, session.id, { type: 'user_id', value: userId });
}

const LIVE = ['open', 'pending', 'snoozed'] as const;

/** The visitor's live conversation (the one their messages join), or null before the first message. */
export function visitorConversation(em: EntityManager, visitor: Visitor): Promise<ConversationEntity | null> {
  return em.findOne(
    Conversation,
    {
      workspace: visitor.workspaceId,
      profileId: visitor.profileId,
      status: { $in: [...LIVE] },
      mergedInto: null,
    },
    { orderBy: { lastMessageAt: 'desc nulls last', createdAt: 'desc' } },
  );
}

/**
 * What a visitor sees of a conversation: no internal notes, and what was sent to the customer
 * only once a channel took it (queued and failed sends are the agents' business).
 */
const VISIBLE = {
  internal: false,
  $or: [{ direction: 'inbound' as const }, { status: { $nin: ['queued' as const, 'failed' as const] } }],
};

/** A page of the conversation's messages, newest first, internal notes left out. */
export async function visitorMessages(
  em: EntityManager,
  conversationId: string,
  page: { limit: number; offset: number },
): Promise<WebchatMessageView[]> {
  const messages = await em.find(
    Message,
    { conversation: conversationId, ...VISIBLE },
    { orderBy: { createdAt: 'desc', id: 'desc' }, limit: page.limit, offset: page.offset },
  );
  return views(em, messages);
}

/** The visitor's view of one message; null for an internal note or another profile's message. */
export async function visitorMessage(
  em: EntityManager,
  visitor: Visitor,
  messageId: string,
): Promise<WebchatMessageView | null> {
  const message = await em.findOne(Message, { id: messageId, ...VISIBLE });
  if (!message) return null;
  const conversation = await em.findOne(Conversation, { id: message.conversation });
  if (conversation?.profileId !== visitor.profileId) return null;
  return (await views(em, [message]))[0] ?? null;
}

async function views(em: EntityManager, messages: MessageEntity[]): Promise<WebchatMessageView[]> {
  const subjects = [
    ...new Set(messages.flatMap((m) => (m.author === 'agent' && m.authorId ? [m.authorId] : []))),
  ];
  const agents = subjects.length ? await em.find(Agent, { subject: { $in: subjects } }) : [];
  const names = new Map(agents.map((a) => [a.subject, a.displayName]));
  return messages.map((m) => ({
    id: m.id,
    conversationId: m.conversation,
    author: m.author,
    authorName: m.author === 'agent' && m.authorId ? (names.get(m.authorId) ?? null) : null,
    text: m.text ?? null,
    createdAt: m.createdAt,
  }));
}

const MAX_TEXT = 5000;

/**
 * The visitor writes, in the caller's transaction: an inbound message through the session's
 * inbox, from the session's identities. The provider id is the session and the client's
 * idempotency key, so a retry of the same send adds nothing.
 */
export async function sendVisitorMessage(
  em: EntityManager,
  session: CustomerSessionEntity,
  inbox: ChannelInboxEntity,
  input: { text: string; idempotencyKey: string; language?: string | null },
  levels: Parameters<typeof receiveInbound>[3],
): Promise<{ message: MessageEntity; conversation: ConversationEntity; created: boolean }> {
  const text = input.text.trim();
  if (!text) throw new ValidationError('text must not be empty', 'text');
  if (text.length > MAX_TEXT)
    throw new ValidationError(`text must be at most ${MAX_TEXT} characters`, 'text');
  const key = input.idempotencyKey.trim();
  if (!/^[A-Za-z0-9._:-]{8,100}$/.test(key)) {
    throw new ValidationError(
      'idempotencyKey must be 8 to 100 letters, digits, ".", "_", ":" or "-" (a UUID fits)',
      'idempotencyKey',
    );
  }
  const language = input.language?.trim() || undefined;
  return receiveInbound(
    em,
    inbox,
    {
      providerMessageId: `${session.id}:${key}`,
      from: { identities: session.identities },
      text,
      ...(language ? { language } : {}),
    },
    levels,
  );
}
