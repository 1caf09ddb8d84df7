import { LockMode } from '@mikro-orm/postgresql';
import { WORKSPACE_FILTER } from '../../../db/orm.ts';
import { AtriumError } from '../../../kernel/errors.ts';
import { recordEvent } from '../../../kernel/events.ts';
import type { JobContext } from '../../../kernel/plugin.ts';
import type { AnyChannel, OutboundMessage } from '../channels.ts';
import { ChannelInbox, Conversation, Message, type MessageEntity } from '../entities.ts';
import { inboxView } from './inboxes.ts';
import { addressOf, type DeliverJob, messageNotices, publishNotices } from './messages.ts';
import { renderTemplate } from './templates.ts';

/**
 * Hands one queued message to its channel, outside any transaction:
 * 1. claim it (queued or a crashed attempt's `sending` → `sending`, attempts + 1) and commit;
 * 2. call the channel with the message's idempotency key;
 * 3. record `sent` with the provider's id.
 * A crash between 2 and 3 makes pg-boss run the job again, and the channel is called again with
 * the same key (the e-mail Message-ID, …), which is how the receiving side recognises the repeat.
 * A message that is already past `sending` is never sent twice.
 */
export async function deliverMessage(data: DeliverJob, ctx: JobContext): Promise<void> {
  const em = ctx.em.fork();
  em.setFilterParams(WORKSPACE_FILTER, { id: data.workspaceId });
  const claimed = await em.transactional(async (tx) => {
    const message = await tx.findOne(
      Message,
      { id: data.messageId },
      { lockMode: LockMode.PESSIMISTIC_WRITE },
    );
    if (!message || (message.status !== 'queued' && message.status !== 'sending')) return null;
    message.status = 'sending';
    message.attempts += 1;
    return message;
  });
  if (!claimed) return;

  const channel = ctx.channels.get(claimed.channel);
  if (!channel) {
    await fail(
      ctx,
      claimed,
      `no channel "${claimed.channel}" is installed: add its plugin to atrium.config.ts`,
    );
    return;
  }
  let outbound: OutboundMessage;
  try {
    outbound = await outboundOf(em, claimed, channel);
  } catch (error) {
    // The address went away (erasure) or the inbox was deleted: retrying cannot help.
    await fail(ctx, claimed, (error as Error).message);
    return;
  }
  let providerMessageId: string;
  try {
    ({ providerMessageId } = await channel.fn(outbound, {
      signal: ctx.signal,
      live: ctx.live,
      renderTemplate: (entryKey, locale, variables) =>
        renderTemplate(em, data.workspaceId, ctx.segmentOperators, {
          entryKey,
          locale,
          profileId: outbound.profileId,
          variables,
        }),
    }));
  } catch (error) {
    // Our own errors (a template that does not exist, arguments the provider refuses) are final.
    if (error instanceof AtriumError) {
      await fail(ctx, claimed, error.message);
      return;
    }
    await em
      .fork()
      .nativeUpdate(Message, { id: claimed.id }, { error: String((error as Error).message).slice(0, 1000) });
    throw error;
  }

  const sent = await em.fork().transactional(async (tx) => {
    const message = await tx.findOneOrFail(
      Message,
      { id: claimed.id },
      { lockMode: LockMode.PESSIMISTIC_WRITE },
    );
    // A status callback may have overtaken this (delivered, read, failed): never move it back.
    if (message.status === 'sending') {
      message.status = 'sent';
      message.error = null;
    }
    message.providerMessageId = providerMessageId;
    message.sentAt ??= new Date();
    recordEvent(tx, {
      type: 'conversation.message-sent',
      workspaceId: message.workspace,
      subject: message.conversation,
      payload: { conversationId: message.conversation, messageId: message.id, channel: message.channel },
    });
    return message;
  });
  await publish(ctx, sent);
}

/** After the last retry: the message is failed, visibly, and the failure is an event. */
export async function deadLetterMessage(data: DeliverJob, ctx: JobContext): Promise<void> {
  const em = ctx.em.fork();
  em.setFilterParams(WORKSPACE_FILTER, { id: data.workspaceId });
  const message = await em.findOne(Message, { id: data.messageId });
  if (message && (message.status === 'queued' || message.status === 'sending')) {
    await fail(ctx, message, message.error ?? 'the channel failed on every attempt');
  }
}

async function fail(ctx: JobContext, message: MessageEntity, reason: string): Promise<void> {
  const em = ctx.em.fork();
  em.setFilterParams(WORKSPACE_FILTER, { id: message.workspace });
  const failed = await em.transactional(async (tx) => {
    const row = await tx.findOneOrFail(Message, { id: message.id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    row.status = 'failed';
    row.error = reason.slice(0, 1000);
    recordEvent(tx, {
      type: 'conversation.message-failed',
      workspaceId: row.workspace,
      subject: row.conversation,
      payload: {
        conversationId: row.conversation,
        messageId: row.id,
        channel: row.channel,
        error: row.error,
      },
    });
    return row;
  });
  ctx.logger.warn({ messageId: message.id, channel: message.channel, reason }, 'outbound message failed');
  await publish(ctx, failed);
}

function publish(ctx: JobContext, message: MessageEntity): Promise<void> {
  return publishNotices(ctx.live, messageNotices(message, 'status'), ctx.logger);
}

/** The message as its channel gets it: the profile's address on that channel, the inbox, the thread. */
async function outboundOf(
  em: JobContext['em'],
  message: MessageEntity,
  channel: AnyChannel,
): Promise<OutboundMessage> {
  const conversation = await em.findOneOrFail(Conversation, { id: message.conversation });
  const to = await addressOf(em, conversation.profileId, channel);
  const inbox = await em.findOne(ChannelInbox, { id: message.inbox as string });
  if (!inbox) throw new Error('the inbox this message was sent through was deleted');
  const earlier = await em.find(
    Message,
    {
      conversation: conversation.id,
      providerMessageId: { $ne: null },
      createdAt: { $lt: message.createdAt },
    },
    { orderBy: { createdAt: 'asc' }, fields: ['providerMessageId'] },
  );
  return {
    id: message.id,
    idempotencyKey: message.id,
    conversationId: conversation.id,
    profileId: conversation.profileId,
    to,
    text: message.text ?? null,
    parts: message.parts,
    attachments: message.attachments,
    args: message.args,
    thread: earlier.map((m) => m.providerMessageId as string),
    inbox: inboxView(inbox),
  };
}
