import {
  Agent,
  type AtriumBuilder,
  type CoreRefs,
  conversationTopic,
  enumValues,
  type GraphQLContext,
  type ModuleRuntime,
  messageNotices,
  publishNotices,
  RateLimiter,
  serviceLevels,
  UnauthenticatedError,
  ValidationError,
} from '@atrium/core';
import { resolveOffsetConnection } from '@pothos/plugin-relay';
import type { WebchatConfig } from './config.ts';
import { type TypingNotice, visitorEvents, visitorTopic, type WebchatEvent } from './live.ts';
import {
  sendVisitorMessage,
  type Visitor,
  visitorConversation,
  visitorMessage,
  visitorMessages,
  type WebchatMessageView,
  webchatAuthors,
  webchatSessionOf,
} from './service.ts';

const PUBLIC = ['public'] as const;

/**
 * The visitor's side of the chat, on the Public graph, for `customer` sessions only: their live
 * conversation, sending, typing, and a subscription of what happens in it.
 */
export function webchatSchema(
  builder: AtriumBuilder,
  _refs: CoreRefs,
  runtime: ModuleRuntime<WebchatConfig>,
): void {
  const limiter = new RateLimiter(runtime.config.messagesPerSecondPerSession);

  const Author = builder.enumType('WebchatAuthor', {
    subGraphs: [...PUBLIC],
    description: 'Who wrote: the CUSTOMER (the visitor), an AGENT, the AI ASSISTANT, or the SYSTEM',
    values: enumValues(webchatAuthors),
  });

  const MessageRef = builder.objectRef<WebchatMessageView>('WebchatMessage').implement({
    subGraphs: [...PUBLIC],
    description: 'A message of the visitor’s conversation (internal notes are never shown)',
    fields: (t) => ({
      id: t.globalID({ resolve: (m) => ({ type: 'WebchatMessage', id: m.id }) }),
      author: t.field({ type: Author, resolve: (m) => m.author }),
      authorName: t.exposeString('authorName', {
        nullable: true,
        description: 'The agent’s display name, when the agent has one',
      }),
      text: t.exposeString('text', { nullable: true }),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
    }),
  });

  const ConversationRef = builder.objectRef<{ id: string }>('WebchatConversation').implement({
    subGraphs: [...PUBLIC],
    description: 'The visitor’s live conversation',
    fields: (t) => ({
      id: t.globalID({ resolve: (c) => ({ type: 'WebchatConversation', id: c.id }) }),
      messages: t.connection(
        {
          type: MessageRef,
          description: 'Newest first',
          resolve: (c, args, ctx) =>
            resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, (page) =>
              visitorMessages(ctx.em, c.id, page),
            ),
        },
        { subGraphs: [...PUBLIC] },
        { subGraphs: [...PUBLIC] },
      ),
    }),
  });

  builder.queryField('webchatConversation', (t) =>
    t.field({
      type: ConversationRef,
      nullable: true,
      subGraphs: [...PUBLIC],
      description: 'The visitor’s live conversation; null before their first message',
      authScopes: { customer: true },
      resolve: (_root, _args, ctx) => visitorConversation(ctx.em, visitorOf(ctx)),
    }),
  );

  builder.relayMutationField(
    'sendWebchatMessage',
    {
      subGraphs: [...PUBLIC],
      inputFields: (t) => ({
        text: t.string({ required: true }),
        idempotencyKey: t.string({
          required: true,
          description: 'Made once per message by the client (a UUID); a retry with the same key adds nothing',
        }),
        language: t.string({ description: 'The visitor’s language (BCP 47, e.g. de), for routing' }),
      }),
    },
    {
      subGraphs: [...PUBLIC],
      authScopes: { customer: true },
      errors: { types: [ValidationError], union: { subGraphs: [...PUBLIC] } },
      resolve: async (_root, { input }, ctx) => {
        const visitor = visitorOf(ctx);
        throttle(limiter, visitor);
        const { session, inbox } = await webchatSessionOf(ctx.em, visitor.sessionId);
        const received = await ctx.em.transactional((em) =>
          sendVisitorMessage(em, session, inbox, input, serviceLevels(runtime.settings)),
        );
        if (received.created) {
          await publishNotices(
            runtime.live,
            [
              ...messageNotices(received.message, 'message'),
              {
                topic: visitorTopic(received.conversation.profileId),
                payload: {
                  kind: 'message',
                  conversationId: received.conversation.id,
                  messageId: received.message.id,
                },
              },
            ],
            runtime.logger,
          );
        }
        const message = await visitorMessage(ctx.em.fork(), visitor, received.message.id);
        if (!message) throw new Error('the visitor cannot see the message they just sent');
        return { message };
      },
    },
    {
      subGraphs: [...PUBLIC],
      // Not `message`: that would clash with Error.message in a selection over the result union.
      outputFields: (t) => ({ sentMessage: t.field({ type: MessageRef, resolve: (p) => p.message }) }),
    },
  );

  builder.relayMutationField(
    'sendWebchatTyping',
    {
      subGraphs: [...PUBLIC],
      inputFields: (t) => ({ typing: t.boolean({ required: true }) }),
    },
    {
      subGraphs: [...PUBLIC],
      authScopes: { customer: true },
      description: 'Tells the agents the visitor is (or stopped) typing; send at most every few seconds',
      resolve: async (_root, { input }, ctx) => {
        const visitor = visitorOf(ctx);
        throttle(limiter, visitor);
        const conversation = await visitorConversation(ctx.em, visitor);
        if (!conversation) return { delivered: false };
        const notice: TypingNotice = {
          kind: 'typing',
          conversationId: conversation.id,
          author: 'customer',
          authorId: null,
          typing: input.typing,
        };
        await publishNotices(
          runtime.live,
          [{ topic: conversationTopic(conversation.id), payload: { ...notice } }],
          runtime.logger,
        );
        return { delivered: true };
      },
    },
    {
      subGraphs: [...PUBLIC],
      outputFields: (t) => ({
        delivered: t.exposeBoolean('delivered', {
          description: 'False before the first message: there is no conversation to type in yet',
        }),
      }),
    },
  );

  const EventKind = builder.enumType('WebchatEventKind', {
    subGraphs: [...PUBLIC],
    description: 'READY once the stream listens (read the conversation then), MESSAGE, or TYPING',
    values: enumValues(['ready', 'message', 'typing'] as const),
  });

  const EventRef = builder.objectRef<WebchatEvent>('WebchatEvent').implement({
    subGraphs: [...PUBLIC],
    description: 'Something that happened in the visitor’s conversation',
    fields: (t) => ({
      kind: t.field({ type: EventKind, resolve: (e) => e.kind }),
      message: t.field({
        type: MessageRef,
        nullable: true,
        description: 'MESSAGE: the new message',
        resolve: (e) => (e.kind === 'message' ? e.message : null),
      }),
      typing: t.boolean({
        nullable: true,
        description: 'TYPING: true while someone types, false when they stopped',
        resolve: (e) => (e.kind === 'typing' ? e.typing : null),
      }),
      author: t.field({
        type: Author,
        nullable: true,
        description: 'TYPING: who types',
        resolve: (e) => (e.kind === 'typing' ? e.author : null),
      }),
      authorName: t.string({
        nullable: true,
        description: 'TYPING: the agent’s display name, when the agent has one',
        resolve: (e) => (e.kind === 'typing' ? e.authorName : null),
      }),
    }),
  });

  builder.subscriptionField('webchatEvents', (t) =>
    t.field({
      type: EventRef,
      subGraphs: [...PUBLIC],
      description:
        'New messages and others’ typing in the visitor’s conversation, over server-sent events. The stream ends after a few minutes; reconnect.',
      authScopes: { customer: true },
      subscribe: async (_root, _args, ctx) => {
        const visitor = visitorOf(ctx);
        const conversation = await visitorConversation(ctx.em, visitor);
        return visitorEvents(runtime.live, visitor.profileId, {
          conversationId: conversation?.id ?? null,
          lifetimeMs: runtime.config.streamLifetimeSeconds * 1000,
          loadMessage: (messageId) => visitorMessage(ctx.em.fork(), visitor, messageId),
          agentName: (subject) => agentNameOf(ctx, subject),
        });
      },
      resolve: (event) => event,
    }),
  );
}

function visitorOf(ctx: GraphQLContext): Visitor {
  const { principal, workspace } = ctx;
  if (principal?.kind !== 'customer' || !principal.profileId || !principal.sessionId || !workspace) {
    throw new UnauthenticatedError('a customer session is needed');
  }
  return { workspaceId: workspace.id, profileId: principal.profileId, sessionId: principal.sessionId };
}

function throttle(limiter: RateLimiter, visitor: Visitor): void {
  if (limiter.take(`session:${visitor.sessionId}`) > 0) {
    throw new ValidationError('too many messages at once: wait a moment and send again');
  }
}

async function agentNameOf(ctx: GraphQLContext, subject: string): Promise<string | null> {
  const agent = await ctx.em.fork().findOne(Agent, { subject });
  return agent?.displayName ?? null;
}
