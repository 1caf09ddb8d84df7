import { type EntityManager, UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import { NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import { recordEvent } from '../../../kernel/events.ts';
import { isUuid } from '../../../kernel/ids.ts';
import type { JobQueue } from '../../../kernel/jobs.ts';
import type { LiveBus } from '../../../kernel/live.ts';
import type { Logger } from '../../../kernel/logger.ts';
import { Identity } from '../../profiles/entities.ts';
import { assertConsent } from '../../profiles/privacy/consent.ts';
import { validateArgs } from '../../profiles/segments/conditions.ts';
import { normaliseIdentity } from '../../profiles/service/identities.ts';
import { identityRulesOf } from '../../profiles/service/identity-rules.ts';
import { resolveProfiles } from '../../profiles/service/resolution.ts';
import type { AnyChannel, DeliveryStatusUpdate, InboundMessage } from '../channels.ts';
import {
  type AttachmentMeta,
  ChannelInbox,
  type ChannelInboxEntity,
  Conversation,
  type ConversationEntity,
  Message,
  type MessageAuthor,
  type MessageEntity,
  type MessagePart,
  type MessagePurpose,
  type MessageStatus,
} from '../entities.ts';
import { getConversation, liveConversationOf, type ServiceLevels } from './conversations.ts';
import { channelOf } from './inboxes.ts';

/** The job that hands one outbound message to its channel. */
export const DELIVER_JOB = 'conversations.deliver';
export interface DeliverJob {
  workspaceId: string;
  messageId: string;
}

/** A live notice to publish after the transaction that caused it commits. */
export interface LiveNotice {
  topic: string;
  payload: Record<string, unknown>;
}

/**
 * What a notice says happened: a new message, a message's delivery status, a change of the
 * conversation itself (status, assignment), or someone typing.
 */
export const liveNoticeKinds = ['message', 'status', 'conversation', 'typing'] as const;
export type LiveNoticeKind = (typeof liveNoticeKinds)[number];

/** Every notice of a workspace's conversations: what an agent's inbox view listens to. */
export const workspaceTopic = (workspaceId: string) => `conversations:${workspaceId}`;
/** The notices of one conversation: what an open conversation view (or a web chat) listens to. */
export const conversationTopic = (conversationId: string) => `conversation:${conversationId}`;

/** The notices a new or changed message causes: its conversation's and the workspace inbox's. */
export function messageNotices(message: MessageEntity, kind: 'message' | 'status'): LiveNotice[] {
  const payload = {
    kind,
    conversationId: message.conversation,
    messageId: message.id,
    status: message.status,
  };
  return [
    { topic: conversationTopic(message.conversation), payload },
    { topic: workspaceTopic(message.workspace), payload },
  ];
}

/** The notices a change of the conversation itself causes (status, assignee, priority). */
export function conversationNotices(
  conversation: Pick<ConversationEntity, 'id' | 'workspace' | 'status'>,
): LiveNotice[] {
  const payload = { kind: 'conversation', conversationId: conversation.id, status: conversation.status };
  return [
    { topic: conversationTopic(conversation.id), payload },
    { topic: workspaceTopic(conversation.workspace), payload },
  ];
}

/**
 * Publishes notices after the commit that caused them. Best effort: a notice that cannot be
 * published is logged, never thrown, since what it announces is already stored.
 */
export async function publishNotices(live: LiveBus, notices: LiveNotice[], logger: Logger): Promise<void> {
  for (const notice of notices) {
    await live.publish(notice.topic, notice.payload).catch((error) => {
      logger.warn({ err: error, topic: notice.topic }, 'could not publish a live notice');
    });
  }
}

export interface ReceivedMessage {
  message: MessageEntity;
  conversation: ConversationEntity;
  /** False when the provider sent this message before (a webhook retry): nothing was added. */
  created: boolean;
}

/**
 * Stores what a channel received, in the caller's transaction: the sender's identities resolve
 * to a profile; the message joins the thread it answers, else the profile's live conversation,
 * else a new one. A provider id seen before is a webhook retry and adds nothing.
 */
export async function receiveInbound(
  em: EntityManager,
  inbox: ChannelInboxEntity,
  inbound: InboundMessage,
  levels: ServiceLevels,
): Promise<ReceivedMessage> {
  const workspaceId = inbox.workspace;
  const idempotencyKey = `inbound:${inbox.id}:${inbound.providerMessageId}`;
  const seen = await em.findOne(Message, { workspace: workspaceId, idempotencyKey });
  if (seen)
    return { message: seen, conversation: await getConversation(em, seen.conversation), created: false };

  const keys = inbound.from.identities.map((i, n) =>
    normaliseIdentity(i.type, i.value, `from.identities[${n}]`),
  );
  if (!keys.length) throw new ValidationError('an inbound message must name its sender', 'from');
  const at = inbound.receivedAt ?? new Date();
  const resolution = await resolveProfiles(
    em,
    workspaceId,
    [{ keys, at, source: `${inbox.channel} message via inbox ${inbox.id}` }],
    await identityRulesOf(em, workspaceId),
  );
  const profileId = resolution.profileIds[0] as string;
  if (inbound.from.name) await rememberName(em, workspaceId, profileId, inbound.from.name);

  const conversation =
    (await threadOf(em, workspaceId, profileId, inbound.inReplyTo ?? [])) ??
    (await liveConversationOf(em, workspaceId, profileId, levels, at)).conversation;
  if (conversation.status === 'snoozed' || conversation.status === 'pending') {
    const previous = conversation.status;
    conversation.status = 'open';
    conversation.snoozedUntil = null;
    recordEvent(em, {
      type: 'conversation.reopened',
      workspaceId,
      subject: conversation.id,
      payload: { conversationId: conversation.id, profileId, previous, actor: null },
    });
  }
  const message = em.create(Message, {
    workspace: workspaceId,
    conversation: conversation.id,
    direction: 'inbound',
    author: 'customer',
    channel: inbox.channel,
    inbox: inbox.id,
    text: inbound.text,
    parts: inbound.parts ?? [],
    attachments: inbound.attachments ?? [],
    status: 'received',
    providerMessageId: inbound.providerMessageId,
    inReplyTo: inbound.inReplyTo ?? [],
    idempotencyKey,
    createdAt: at,
  });
  touch(conversation, inbox, at);
  if (inbound.language && !conversation.language) conversation.language = inbound.language;
  await em.flush();
  recordEvent(em, {
    type: 'conversation.message-received',
    workspaceId,
    subject: conversation.id,
    payload: { conversationId: conversation.id, messageId: message.id, profileId, channel: inbox.channel },
  });
  return { message, conversation, created: true };
}

/**
 * The name a channel knows the sender by (an e-mail display name, a WhatsApp profile name) becomes
 * the profile's `name` trait when it has none: agents see who writes. A name already there stays.
 */
async function rememberName(
  em: EntityManager,
  workspaceId: string,
  profileId: string,
  raw: string,
): Promise<void> {
  const name = raw.trim().slice(0, 200);
  if (!name) return;
  const changed = await sql(
    em,
    `update profile set traits = traits || jsonb_build_object('name', $3::text), updated_at = now()
     where id = $1 and workspace_id = $2 and not traits ? 'name' returning id`,
    [profileId, workspaceId, name],
  );
  if (changed.length) {
    recordEvent(em, {
      type: 'profile.traits-changed',
      workspaceId,
      subject: profileId,
      payload: { profileId, changed: ['name'] },
    });
  }
}

/** The live conversation of the profile that an earlier message with one of these provider ids is in. */
async function threadOf(
  em: EntityManager,
  workspaceId: string,
  profileId: string,
  providerIds: string[],
): Promise<ConversationEntity | null> {
  if (!providerIds.length) return null;
  const [row] = await sql<{ id: string }>(
    em,
    `select c.id from message m join conversation c on c.id = m.conversation_id
     where m.workspace_id = $1 and m.provider_message_id = any($2::text[]) and c.profile_id = $3
       and c.status <> 'resolved' and c.merged_into is null
     order by m.created_at desc limit 1`,
    [workspaceId, providerIds, profileId],
  );
  return row ? em.findOne(Conversation, { id: row.id }) : null;
}

function touch(conversation: ConversationEntity, inbox: ChannelInboxEntity, at: Date): void {
  if (!conversation.channels.includes(inbox.channel))
    conversation.channels = [...conversation.channels, inbox.channel];
  conversation.lastInbox = inbox.id;
  if (!conversation.lastMessageAt || conversation.lastMessageAt < at) conversation.lastMessageAt = at;
}

const ORDER: Record<MessageStatus, number> = {
  received: 0,
  queued: 1,
  sending: 2,
  sent: 3,
  delivered: 4,
  read: 5,
  failed: 6,
};

/**
 * Applies a provider's status callback. Statuses only move forward (a late "sent" after
 * "read" changes nothing); "failed" counts unless the message was already delivered.
 */
export async function applyDeliveryStatus(
  em: EntityManager,
  inbox: ChannelInboxEntity,
  update: DeliveryStatusUpdate,
): Promise<MessageEntity | null> {
  const where = { workspace: inbox.workspace, inbox: inbox.id, direction: 'outbound' as const };
  let message = await em.findOne(Message, { ...where, providerMessageId: update.providerMessageId });
  if (!message && update.messageId && isUuid(update.messageId)) {
    // The status overtook the worker recording `sent`: find the message by our id and keep the provider's.
    message = await em.findOne(Message, { ...where, id: update.messageId, providerMessageId: null });
    if (message) message.providerMessageId = update.providerMessageId;
  }
  if (!message) return null;
  const at = update.at ?? new Date();
  if (update.status === 'failed') {
    if (ORDER[message.status] >= ORDER.delivered && message.status !== 'failed') return message;
    message.status = 'failed';
    message.error = (update.error ?? 'the provider reported a failure').slice(0, 1000);
  } else if (ORDER[update.status] > ORDER[message.status] && message.status !== 'failed') {
    message.status = update.status;
  }
  if (update.status === 'delivered') message.deliveredAt ??= at;
  if (update.status === 'read') message.readAt ??= at;
  await em.flush();
  recordEvent(em, {
    type: `conversation.message-${update.status}`,
    workspaceId: inbox.workspace,
    subject: message.conversation,
    payload: { conversationId: message.conversation, messageId: message.id, status: message.status },
  });
  return message;
}

export interface SendInput {
  workspaceId: string;
  /** Reply in this conversation; or give `profileId` to write to the profile's live conversation. */
  conversationId?: string | null;
  profileId?: string | null;
  /** The inbox to send through; defaults to the conversation's last inbox. */
  inboxId?: string | null;
  text?: string | null;
  parts?: MessagePart[] | null;
  attachments?: AttachmentMeta[] | null;
  args?: Record<string, unknown> | null;
  purpose?: MessagePurpose | null;
  author: MessageAuthor;
  authorId: string | null;
  /** Internal notes stay with the agents; nothing is sent. */
  internal?: boolean | null;
  /** The caller's key: a retry with the same key returns the first message and sends nothing. */
  idempotencyKey?: string | null;
}

export interface SendDependencies {
  channels: ReadonlyMap<string, AnyChannel>;
  jobs: JobQueue;
  levels: ServiceLevels;
  /** The retry policy of the delivery job (CONVERSATION_DELIVERY_RETRIES and _RETRY_DELAY_S). */
  delivery: { retryLimit: number; retryDelaySeconds: number };
}

const MAX_TEXT = 20_000;

/**
 * Queues an outbound message in the caller's transaction: the message row and its delivery
 * job commit together, so an acknowledged send is never lost. Checks before anything is
 * written: the inbox and channel exist, the arguments fit the channel, the channel can carry
 * what is sent, the profile has an address there, and a marketing send has the consent it needs.
 */
export async function sendMessage(
  em: EntityManager,
  deps: SendDependencies,
  input: SendInput,
): Promise<{ message: MessageEntity; created: boolean }> {
  try {
    // Its own transaction (a savepoint inside the caller's): the row, the job and the event commit together.
    return await em.transactional((tx) => queueMessage(tx, deps, input));
  } catch (error) {
    // The same key twice at the same moment: the second finds the first's message.
    const key = input.idempotencyKey?.trim();
    if (!(error instanceof UniqueConstraintViolationException) || !key) throw error;
    const first = await em.findOne(Message, { workspace: input.workspaceId, idempotencyKey: key });
    if (!first) throw error;
    return { message: first, created: false };
  }
}

async function queueMessage(
  em: EntityManager,
  deps: SendDependencies,
  input: SendInput,
): Promise<{ message: MessageEntity; created: boolean }> {
  const idempotencyKey = input.idempotencyKey?.trim() || `send:${crypto.randomUUID()}`;
  if (idempotencyKey.length > 200)
    throw new ValidationError('idempotencyKey must be at most 200 characters', 'idempotencyKey');
  const existing = await em.findOne(Message, { workspace: input.workspaceId, idempotencyKey });
  if (existing) return { message: existing, created: false };

  const text = input.text?.trim() || null;
  const parts = input.parts ?? [];
  const attachments = input.attachments ?? [];
  if (!text && !parts.length) throw new ValidationError('a message needs text or parts', 'text');
  if (text && text.length > MAX_TEXT)
    throw new ValidationError(`text must be at most ${MAX_TEXT} characters`, 'text');

  const conversation = await conversationFor(em, deps.levels, input);
  const profileId = conversation.profileId;
  const purpose = input.purpose ?? 'conversational';
  const now = new Date();

  if (input.internal) {
    const note = em.create(Message, {
      workspace: input.workspaceId,
      conversation: conversation.id,
      direction: 'outbound',
      author: input.author,
      authorId: input.authorId,
      channel: 'note',
      internal: true,
      text,
      parts,
      status: 'sent',
      sentAt: now,
      idempotencyKey,
    });
    await em.flush();
    return { message: note, created: true };
  }

  const inboxId = input.inboxId ?? conversation.lastInbox;
  if (!inboxId)
    throw new ValidationError('the conversation has no inbox yet: name one with inboxId', 'inboxId');
  const inbox = await em.findOne(ChannelInbox, { id: inboxId });
  if (!inbox) throw new NotFoundError('the inbox');
  if (!inbox.enabled) throw new ValidationError(`the inbox "${inbox.name}" is disabled`, 'inboxId');
  const channel = channelOf(deps.channels, inbox.channel, 'inboxId');
  const args = validateArgs(channel.args, input.args ?? {}, 'args');
  if (attachments.length && !channel.capabilities.attachments) {
    throw new ValidationError(`the ${channel.code} channel cannot carry attachments`, 'attachments');
  }
  if (parts.some((part) => part.type === 'template') && !channel.capabilities.templates) {
    throw new ValidationError(`the ${channel.code} channel has no templates`, 'parts');
  }
  if (purpose === 'marketing') {
    if (!channel.marketingConsent) {
      throw new ValidationError(`the ${channel.code} channel does not carry marketing messages`, 'purpose');
    }
    // Refuses with CONSENT_REQUIRED and the purpose; nothing is written.
    await assertConsent(em, profileId, channel.marketingConsent);
  }
  if (channel.addressType) await addressOf(em, profileId, channel);

  const message = em.create(Message, {
    workspace: input.workspaceId,
    conversation: conversation.id,
    direction: 'outbound',
    author: input.author,
    authorId: input.authorId,
    channel: channel.code,
    inbox: inbox.id,
    purpose,
    text,
    parts,
    attachments,
    args,
    status: 'queued',
    idempotencyKey,
  });
  touch(conversation, inbox, now);
  if (input.author === 'agent' && !conversation.firstResponseAt) conversation.firstResponseAt = now;
  await em.flush();
  await deps.jobs.send(
    DELIVER_JOB,
    { workspaceId: input.workspaceId, messageId: message.id } satisfies DeliverJob,
    { em, retryLimit: deps.delivery.retryLimit, retryDelaySeconds: deps.delivery.retryDelaySeconds },
  );
  recordEvent(em, {
    type: 'conversation.message-queued',
    workspaceId: input.workspaceId,
    subject: conversation.id,
    payload: {
      conversationId: conversation.id,
      messageId: message.id,
      profileId,
      channel: channel.code,
      purpose,
    },
  });
  return { message, created: true };
}

async function conversationFor(
  em: EntityManager,
  levels: ServiceLevels,
  input: SendInput,
): Promise<ConversationEntity> {
  if (input.conversationId) {
    const conversation = await getConversation(em, input.conversationId);
    if (conversation.mergedInto) return getConversation(em, conversation.mergedInto);
    return conversation;
  }
  if (!input.profileId) throw new ValidationError('name a conversationId or a profileId', 'conversationId');
  const profile = await sql(em, `select 1 from profile where id = $1 and workspace_id = $2`, [
    input.profileId,
    input.workspaceId,
  ]);
  if (!profile.length) throw new NotFoundError('the profile');
  return (await liveConversationOf(em, input.workspaceId, input.profileId, levels)).conversation;
}

/** The profile's newest identity of the channel's address type, or a ValidationError that says it is missing. */
export async function addressOf(
  em: EntityManager,
  profileId: string,
  channel: AnyChannel,
): Promise<string | null> {
  if (!channel.addressType) return null;
  const identity = await em.findOne(
    Identity,
    { profile: profileId, type: channel.addressType },
    { orderBy: { createdAt: 'desc' } },
  );
  if (!identity) {
    throw new ValidationError(
      `the profile has no ${channel.addressType} to send a ${channel.code} message to`,
      'profileId',
    );
  }
  return identity.value;
}
