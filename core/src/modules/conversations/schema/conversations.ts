import { resolveOffsetConnection } from '@pothos/plugin-relay';
import type { AtriumBuilder } from '../../../graphql/builder.ts';
import type { GraphQLContext } from '../../../graphql/context.ts';
import { workspaceIdOf } from '../../../graphql/helpers.ts';
import type { CoreRefs } from '../../../graphql/refs.ts';
import { NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import type { ModuleRuntime } from '../../../kernel/plugin.ts';
import { ConsentRequiredError } from '../../profiles/privacy/consent.ts';
import { type AttachmentMeta, Conversation, type MessagePart } from '../entities.ts';
import { conversationDependencies } from '../levels.ts';
import {
  conversationsOfProfile,
  getConversation,
  listConversations,
  mergeConversations,
  setConversationStatus,
  tagConversation,
} from '../service/conversations.ts';
import {
  conversationNotices,
  type LiveNotice,
  messageNotices,
  publishNotices,
  sendMessage,
} from '../service/messages.ts';
import { assignConversation } from '../service/routing.ts';
import type { ConversationTypes } from './types.ts';

/** The subject of the caller, for fields behind a scope (a scoped caller always has one). */
export function subjectOf(ctx: GraphQLContext): string {
  if (!ctx.principal) throw new Error('an authorized field always has a principal');
  return ctx.principal.subject;
}

function partsOf(value: unknown): MessagePart[] | null {
  if (value == null) return null;
  if (!Array.isArray(value) || value.some((p) => typeof p !== 'object' || !p || typeof p.type !== 'string')) {
    throw new ValidationError('parts must be a list of objects, each with a "type"', 'parts');
  }
  return value as MessagePart[];
}

function argsOf(value: unknown): Record<string, unknown> | null {
  if (value == null) return null;
  if (typeof value !== 'object' || Array.isArray(value))
    throw new ValidationError('args must be an object', 'args');
  return value as Record<string, unknown>;
}

/** Agents read the inbox and work conversations: reply, note, assign, snooze, resolve, merge, tag. */
export function conversationsSchema(
  builder: AtriumBuilder,
  refs: CoreRefs,
  runtime: ModuleRuntime,
  types: ConversationTypes,
): void {
  const { ConversationRef, MessageRef, InboxRef, StatusEnum, PriorityEnum, PurposeEnum } = types;
  const deps = () => conversationDependencies(runtime);
  const publish = (notices: LiveNotice[]) => publishNotices(runtime.live, notices, runtime.logger);

  const ConversationFilter = builder.inputType('ConversationFilter', {
    description: 'Every condition given must hold',
    fields: (t) => ({
      statuses: t.field({ type: [StatusEnum], description: 'Default: every status' }),
      assignee: t.string({ description: '"me", "unassigned", or an agent\'s subject' }),
      team: t.string(),
      channel: t.string({ description: 'A channel code the conversation used' }),
      tag: t.string(),
      priority: t.field({ type: PriorityEnum }),
      search: t.string({ description: 'Words in any message (case-insensitive)' }),
    }),
  });

  builder.queryField('inbox', (t) =>
    t.connection({
      type: ConversationRef,
      description: 'Conversations, most recent message first; merged-away ones never',
      authScopes: { agent: true },
      args: { filter: t.arg({ type: ConversationFilter }) },
      resolve: (_root, args, ctx) => {
        const { assignee, ...filter } = args.filter ?? {};
        return resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, (page) =>
          listConversations(
            ctx.em,
            workspaceIdOf(ctx),
            {
              ...filter,
              unassigned: assignee === 'unassigned',
              assignee: assignee === 'me' ? subjectOf(ctx) : assignee,
            },
            page,
          ),
        );
      },
    }),
  );

  builder.queryField('conversation', (t) =>
    t.field({
      type: ConversationRef,
      nullable: true,
      authScopes: { agent: true },
      args: { id: t.arg.globalID({ required: true, for: ConversationRef }) },
      resolve: (_root, { id }, ctx) => ctx.em.findOne(Conversation, { id: id.id }),
    }),
  );

  builder.objectField(refs.Profile, 'conversations', (t) =>
    t.connection({
      type: ConversationRef,
      description: 'Every conversation of this customer, newest first',
      authScopes: { agent: true },
      resolve: (p, args, ctx) =>
        resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, (page) =>
          conversationsOfProfile(ctx.em, p.id, page),
        ),
    }),
  );

  const AttachmentInput = builder.inputType('MessageAttachmentInput', {
    description: 'A file the channel carries; Atrium stores only this description',
    fields: (t) => ({
      name: t.string({ required: true }),
      contentType: t.string({ required: true }),
      size: t.int({ required: true, description: 'Bytes' }),
      url: t.string(),
    }),
  });

  builder.relayMutationField(
    'replyToConversation',
    {
      inputFields: (t) => ({
        conversationId: t.globalID({ required: true, for: ConversationRef }),
        text: t.string(),
        parts: t.field({ type: 'JSON', description: 'Structured parts: [{ "type": "template", … }]' }),
        attachments: t.field({ type: [AttachmentInput] }),
        inboxId: t.globalID({ for: InboxRef, description: "Default: the conversation's last inbox" }),
        args: t.field({ type: 'JSON', description: "The channel's arguments (see `channels`)" }),
        purpose: t.field({ type: PurposeEnum, description: 'Default CONVERSATIONAL' }),
        idempotencyKey: t.string({
          description:
            'Send the same key again (a retry) and get the first message back; nothing is sent twice',
        }),
      }),
    },
    {
      description: 'Sends a message in the conversation: queued now, delivered by a job (see message status)',
      authScopes: { agent: true },
      errors: { types: [ValidationError, NotFoundError, ConsentRequiredError] },
      resolve: async (_root, { input }, ctx) => {
        const { message, created } = await sendMessage(ctx.em, deps(), {
          workspaceId: workspaceIdOf(ctx),
          conversationId: input.conversationId.id,
          inboxId: input.inboxId?.id ?? null,
          text: input.text,
          parts: partsOf(input.parts),
          attachments: (input.attachments as AttachmentMeta[] | null | undefined) ?? null,
          args: argsOf(input.args),
          purpose: input.purpose,
          author: 'agent',
          authorId: subjectOf(ctx),
          idempotencyKey: input.idempotencyKey,
        });
        if (created) await publish(messageNotices(message, 'message'));
        return { message, conversation: await getConversation(ctx.em, message.conversation) };
      },
    },
    {
      outputFields: (t) => ({
        // Not `message`: that would clash with Error.message in a selection over the result union.
        reply: t.field({ type: MessageRef, resolve: (p) => p.message }),
        conversation: t.field({ type: ConversationRef, resolve: (p) => p.conversation }),
      }),
    },
  );

  builder.relayMutationField(
    'addConversationNote',
    {
      inputFields: (t) => ({
        conversationId: t.globalID({ required: true, for: ConversationRef }),
        text: t.string({ required: true }),
        idempotencyKey: t.string(),
      }),
    },
    {
      description: 'An internal note: other agents see it, the customer never does',
      authScopes: { agent: true },
      errors: { types: [ValidationError, NotFoundError] },
      resolve: async (_root, { input }, ctx) => {
        const { message, created } = await sendMessage(ctx.em, deps(), {
          workspaceId: workspaceIdOf(ctx),
          conversationId: input.conversationId.id,
          text: input.text,
          internal: true,
          author: 'agent',
          authorId: subjectOf(ctx),
          idempotencyKey: input.idempotencyKey,
        });
        if (created) await publish(messageNotices(message, 'message'));
        return { message, conversation: await getConversation(ctx.em, message.conversation) };
      },
    },
    {
      outputFields: (t) => ({
        note: t.field({ type: MessageRef, resolve: (p) => p.message }),
        conversation: t.field({ type: ConversationRef, resolve: (p) => p.conversation }),
      }),
    },
  );

  builder.relayMutationField(
    'assignConversation',
    {
      inputFields: (t) => ({
        conversationId: t.globalID({ required: true, for: ConversationRef }),
        assignee: t.string({
          description: 'An agent\'s subject, or "me"; null or left out unassigns',
        }),
        team: t.string({ description: 'Left out keeps the team; an empty string clears it' }),
      }),
    },
    {
      authScopes: { agent: true },
      errors: { types: [ValidationError, NotFoundError] },
      resolve: async (_root, { input }, ctx) => {
        const me = subjectOf(ctx);
        const conversation = await assignConversation(ctx.em, input.conversationId.id, {
          assignee: input.assignee === 'me' ? me : (input.assignee ?? null),
          ...(input.team === undefined || input.team === null ? {} : { team: input.team }),
          actor: me,
        });
        await publish(conversationNotices(conversation));
        return { conversation };
      },
    },
    {
      outputFields: (t) => ({
        conversation: t.field({ type: ConversationRef, resolve: (p) => p.conversation }),
      }),
    },
  );

  const statusMutation = (
    name: 'snoozeConversation' | 'resolveConversation' | 'reopenConversation',
    status: 'snoozed' | 'resolved' | 'open',
    description: string,
  ) =>
    builder.relayMutationField(
      name,
      {
        inputFields: (t) => ({
          conversationId: t.globalID({ required: true, for: ConversationRef }),
          ...(status === 'snoozed'
            ? { until: t.field({ type: 'DateTime', required: true, description: 'When it reopens' }) }
            : {}),
        }),
      },
      {
        description,
        authScopes: { agent: true },
        errors: { types: [ValidationError, NotFoundError] },
        resolve: async (_root, { input }, ctx) => {
          const conversation = await setConversationStatus(ctx.em, input.conversationId.id, status, {
            snoozedUntil: (input as { until?: Date }).until ?? null,
            actor: subjectOf(ctx),
          });
          await publish(conversationNotices(conversation));
          return { conversation };
        },
      },
      {
        outputFields: (t) => ({
          conversation: t.field({ type: ConversationRef, resolve: (p) => p.conversation }),
        }),
      },
    );
  statusMutation(
    'snoozeConversation',
    'snoozed',
    'Puts the conversation aside until `until`, or until the customer writes',
  );
  statusMutation(
    'resolveConversation',
    'resolved',
    "Closes the thread: the customer's next message starts a new one",
  );
  statusMutation('reopenConversation', 'open', 'Opens a pending, snoozed or resolved conversation again');

  builder.relayMutationField(
    'mergeConversations',
    {
      inputFields: (t) => ({
        survivorId: t.globalID({ required: true, for: ConversationRef }),
        mergedId: t.globalID({
          required: true,
          for: ConversationRef,
          description: 'Moves into the survivor',
        }),
      }),
    },
    {
      description: 'Joins two conversations: messages, assignments and handoffs move to the survivor',
      authScopes: { agent: true },
      errors: { types: [ValidationError, NotFoundError] },
      resolve: async (_root, { input }, ctx) => {
        const conversation = await mergeConversations(
          ctx.em,
          input.survivorId.id,
          input.mergedId.id,
          subjectOf(ctx),
        );
        const merged = await getConversation(ctx.em, input.mergedId.id);
        await publish([...conversationNotices(conversation), ...conversationNotices(merged)]);
        return { conversation, merged };
      },
    },
    {
      outputFields: (t) => ({
        conversation: t.field({
          type: ConversationRef,
          description: 'The survivor',
          resolve: (p) => p.conversation,
        }),
        mergedConversation: t.field({ type: ConversationRef, resolve: (p) => p.merged }),
      }),
    },
  );

  builder.relayMutationField(
    'tagConversation',
    {
      inputFields: (t) => ({
        conversationId: t.globalID({ required: true, for: ConversationRef }),
        add: t.stringList(),
        remove: t.stringList(),
        priority: t.field({ type: PriorityEnum }),
      }),
    },
    {
      authScopes: { agent: true },
      errors: { types: [ValidationError, NotFoundError] },
      resolve: async (_root, { input }, ctx) => {
        const conversation = await tagConversation(ctx.em, input.conversationId.id, input);
        await publish(conversationNotices(conversation));
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
