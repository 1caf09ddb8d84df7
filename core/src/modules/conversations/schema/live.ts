import type { AtriumBuilder } from '../../../graphql/builder.ts';
import type { GraphQLContext } from '../../../graphql/context.ts';
import { enumValues, workspaceIdOf } from '../../../graphql/helpers.ts';
import { NotFoundError } from '../../../kernel/errors.ts';
import type { LiveBus } from '../../../kernel/live.ts';
import type { ModuleRuntime } from '../../../kernel/plugin.ts';
import { Conversation, Message } from '../entities.ts';
import {
  conversationTopic,
  type LiveNoticeKind,
  liveNoticeKinds,
  workspaceTopic,
} from '../service/messages.ts';
import { subjectOf } from './conversations.ts';
import type { ConversationTypes } from './types.ts';

/** A live notice as subscribers receive it. */
interface LiveEvent {
  kind: LiveNoticeKind;
  conversationId: string;
  messageId?: string | null;
  status?: string | null;
  author?: string | null;
}

/**
 * The notices of `topic` as the iterator a subscription returns. It listens from the moment the
 * subscription starts (not from the first pull), and stops when the client goes away: Yoga calls
 * `return()`, and the request's signal aborts when the connection closes.
 */
function liveEvents(live: LiveBus, topic: string, request?: AbortSignal): AsyncIterableIterator<LiveEvent> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  request?.addEventListener('abort', stop, { once: true });
  const inner = live.subscribe(topic, controller.signal)[Symbol.asyncIterator]();
  // Starting the first pull registers the listener now, so nothing published after `subscribe` is missed.
  let first: Promise<IteratorResult<Record<string, unknown>>> | null = inner.next();
  first.catch(() => {}); // handled where it is awaited; never an unhandled rejection if it is not
  return {
    next: async () => {
      const pending = first ?? inner.next();
      first = null;
      return (await pending) as IteratorResult<LiveEvent>;
    },
    return: async () => {
      stop();
      request?.removeEventListener('abort', stop);
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/** Yoga puts the Fetch request into every resolver's context. */
const requestSignal = (ctx: GraphQLContext) =>
  (ctx as GraphQLContext & { request?: Request }).request?.signal;

/**
 * Live conversation events over server-sent events (`accept: text/event-stream` on /graphql):
 * one conversation's, or the whole workspace inbox's. A notice names what changed; the Message
 * and Conversation fields are read fresh from the database for each event.
 */
export function liveSchema(builder: AtriumBuilder, runtime: ModuleRuntime, types: ConversationTypes): void {
  const { ConversationRef, MessageRef } = types;
  const KindEnum = builder.enumType('ConversationEventKind', {
    description:
      'MESSAGE: a new message; STATUS: a delivery status; CONVERSATION: status or assignment; TYPING',
    values: enumValues(liveNoticeKinds),
  });

  const EventRef = builder.objectRef<LiveEvent>('ConversationEvent').implement({
    description: 'Something happened in a conversation; re-read what it names',
    fields: (t) => ({
      kind: t.field({ type: KindEnum, resolve: (e) => e.kind }),
      conversationId: t.globalID({ resolve: (e) => ({ type: 'Conversation', id: e.conversationId }) }),
      messageId: t.globalID({
        nullable: true,
        resolve: (e) => (e.messageId ? { type: 'Message', id: e.messageId } : null),
      }),
      status: t.string({
        nullable: true,
        description: "The message's status (MESSAGE, STATUS) or the conversation's (CONVERSATION)",
        resolve: (e) => e.status?.toUpperCase() ?? null,
      }),
      author: t.string({
        nullable: true,
        description: 'Who is typing: agent or customer',
        resolve: (e) => e.author ?? null,
      }),
      message: t.field({
        type: MessageRef,
        nullable: true,
        resolve: (e, _args, ctx) => (e.messageId ? ctx.em.findOne(Message, { id: e.messageId }) : null),
      }),
      conversation: t.field({
        type: ConversationRef,
        nullable: true,
        resolve: (e, _args, ctx) => ctx.em.findOne(Conversation, { id: e.conversationId }),
      }),
    }),
  });

  // The subscription's context lives as long as the stream: forget what the last event loaded.
  const fresh = (event: LiveEvent, _args: unknown, ctx: GraphQLContext) => {
    ctx.em.clear();
    return event;
  };

  builder.subscriptionField('conversationEvents', (t) =>
    t.field({
      type: EventRef,
      description: 'Messages, delivery statuses, changes and typing of one conversation',
      authScopes: { agent: true },
      args: { conversationId: t.arg.globalID({ required: true, for: ConversationRef }) },
      subscribe: async (_root, { conversationId }, ctx) => {
        // The workspace filter makes another workspace's conversation "not found".
        const conversation = await ctx.em.findOne(Conversation, { id: conversationId.id });
        if (!conversation) throw new NotFoundError('the conversation');
        return liveEvents(runtime.live, conversationTopic(conversation.id), requestSignal(ctx));
      },
      resolve: fresh,
    }),
  );

  builder.subscriptionField('inboxEvents', (t) =>
    t.field({
      type: EventRef,
      description: "Messages, delivery statuses and changes of every conversation of the caller's workspace",
      authScopes: { agent: true },
      subscribe: (_root, _args, ctx) =>
        liveEvents(runtime.live, workspaceTopic(workspaceIdOf(ctx)), requestSignal(ctx)),
      resolve: fresh,
    }),
  );

  builder.relayMutationField(
    'sendTypingIndicator',
    { inputFields: (t) => ({ conversationId: t.globalID({ required: true, for: ConversationRef }) }) },
    {
      description: 'Tells whoever watches the conversation that an agent is typing; nothing is stored',
      authScopes: { agent: true },
      errors: { types: [NotFoundError] },
      resolve: async (_root, { input }, ctx) => {
        const conversation = await ctx.em.findOne(Conversation, { id: input.conversationId.id });
        if (!conversation) throw new NotFoundError('the conversation');
        await runtime.live.publish(conversationTopic(conversation.id), {
          kind: 'typing',
          conversationId: conversation.id,
          author: 'agent',
          authorId: subjectOf(ctx),
        });
        return { conversation };
      },
    },
    {
      outputFields: (t) => ({
        conversation: t.field({ type: ConversationRef, resolve: (p) => p.conversation }),
      }),
    },
  );
}
