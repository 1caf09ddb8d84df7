import { resolveOffsetConnection } from '@pothos/plugin-relay';
import type { AtriumBuilder } from '../../../graphql/builder.ts';
import { enumValues } from '../../../graphql/helpers.ts';
import type { CoreRefs } from '../../../graphql/refs.ts';
import { Profile } from '../../profiles/entities.ts';
import {
  type AssignmentEntity,
  type AttachmentMeta,
  assignmentReasons,
  ChannelInbox,
  type ChannelInboxEntity,
  Conversation,
  type ConversationEntity,
  conversationPriorities,
  conversationStatuses,
  type HandoffEntity,
  Message,
  type MessageEntity,
  messageAuthors,
  messageDirections,
  messagePurposes,
  messageStatuses,
} from '../entities.ts';
import { listAssignments, listHandoffs, listMessages } from '../service/conversations.ts';

/** The object types and enums the conversation fields share. */
export function conversationTypes(builder: AtriumBuilder, refs: CoreRefs) {
  const StatusEnum = builder.enumType('ConversationStatus', {
    description: 'OPEN needs an agent, PENDING waits for the customer, SNOOZED wakes at snoozedUntil',
    values: enumValues(conversationStatuses),
  });
  const PriorityEnum = builder.enumType('ConversationPriority', {
    values: enumValues(conversationPriorities),
  });
  const DirectionEnum = builder.enumType('MessageDirection', { values: enumValues(messageDirections) });
  const AuthorEnum = builder.enumType('MessageAuthor', { values: enumValues(messageAuthors) });
  const MessageStatusEnum = builder.enumType('MessageStatus', {
    description: 'RECEIVED for inbound; outbound moves QUEUED → SENDING → SENT → DELIVERED → READ, or FAILED',
    values: enumValues(messageStatuses),
  });
  const PurposeEnum = builder.enumType('MessagePurpose', {
    description: 'MARKETING needs the channel consent of the profile; the others do not',
    values: enumValues(messagePurposes),
  });
  const AssignmentReasonEnum = builder.enumType('AssignmentReason', {
    values: enumValues(assignmentReasons),
  });

  const InboxRef = builder.objectRef<ChannelInboxEntity>('ChannelInbox');
  builder.node(InboxRef, {
    description: 'One way into the workspace through a channel: a mailbox, a phone number, a chat widget',
    authScopes: { agent: true },
    id: { resolve: (i) => i.id },
    loadOne: (id, ctx) => ctx.em.findOne(ChannelInbox, { id }),
    fields: (t) => ({
      channel: t.exposeString('channel', { description: 'The channel code, e.g. email' }),
      name: t.exposeString('name'),
      address: t.exposeString('address', { nullable: true }),
      settings: t.field({
        type: 'JSON',
        authScopes: { admin: true },
        description: "Validated against the channel's inbox settings",
        resolve: (i) => i.settings,
      }),
      enabled: t.exposeBoolean('enabled'),
      webhookPath: t.string({
        description: 'Where the provider posts (append to the public base URL)',
        resolve: (i) => `/channels/${i.id}/webhook`,
      }),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
      updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    }),
  });

  const AttachmentRef = builder.objectRef<AttachmentMeta>('MessageAttachment').implement({
    description: 'What we keep about a file: never its bytes',
    fields: (t) => ({
      name: t.exposeString('name'),
      contentType: t.exposeString('contentType'),
      size: t.exposeInt('size', { description: 'Bytes' }),
      url: t.string({ nullable: true, resolve: (a) => a.url ?? null }),
    }),
  });

  const ConversationRef = builder.objectRef<ConversationEntity>('Conversation');

  const MessageRef = builder.objectRef<MessageEntity>('Message');
  builder.node(MessageRef, {
    description: 'One message of a conversation, inbound or outbound, with its delivery state',
    authScopes: { agent: true },
    id: { resolve: (m) => m.id },
    loadOne: (id, ctx) => ctx.em.findOne(Message, { id }),
    fields: (t) => ({
      conversation: t.field({
        type: ConversationRef,
        resolve: (m, _args, ctx) => ctx.em.findOneOrFail(Conversation, { id: m.conversation }),
      }),
      direction: t.field({ type: DirectionEnum, resolve: (m) => m.direction }),
      author: t.field({ type: AuthorEnum, resolve: (m) => m.author }),
      authorId: t.exposeString('authorId', {
        nullable: true,
        description: "The agent's subject or the plugin's name; null for the customer",
      }),
      channel: t.exposeString('channel', { description: 'The channel code; `note` for internal notes' }),
      inbox: t.field({
        type: InboxRef,
        nullable: true,
        resolve: (m, _args, ctx) => (m.inbox ? ctx.em.findOne(ChannelInbox, { id: m.inbox }) : null),
      }),
      internal: t.exposeBoolean('internal', { description: 'An internal note: agents only, never sent' }),
      purpose: t.field({ type: PurposeEnum, resolve: (m) => m.purpose }),
      text: t.exposeString('text', { nullable: true }),
      parts: t.field({
        type: 'JSON',
        description: 'Structured content: templates, buttons, cards',
        resolve: (m) => m.parts,
      }),
      attachments: t.field({ type: [AttachmentRef], resolve: (m) => m.attachments }),
      args: t.field({
        type: 'JSON',
        description: "The channel's arguments for this send",
        resolve: (m) => m.args,
      }),
      status: t.field({ type: MessageStatusEnum, resolve: (m) => m.status }),
      error: t.exposeString('error', { nullable: true, description: 'Why the last attempt failed' }),
      attempts: t.exposeInt('attempts', { description: 'Delivery attempts so far' }),
      providerMessageId: t.exposeString('providerMessageId', { nullable: true }),
      inReplyTo: t.exposeStringList('inReplyTo'),
      intent: t.exposeString('intent', { nullable: true }),
      sentiment: t.exposeFloat('sentiment', {
        nullable: true,
        description: 'From -1 (negative) to 1 (positive)',
      }),
      sentAt: t.expose('sentAt', { type: 'DateTime', nullable: true }),
      deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true }),
      readAt: t.expose('readAt', { type: 'DateTime', nullable: true }),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
    }),
  });

  const AssignmentRef = builder.objectRef<AssignmentEntity>('ConversationAssignment').implement({
    description: 'A change of who holds a conversation, and why',
    fields: (t) => ({
      assignee: t.exposeString('assignee', {
        nullable: true,
        description: "The agent's subject; null: unassigned",
      }),
      team: t.exposeString('team', { nullable: true }),
      reason: t.field({ type: AssignmentReasonEnum, resolve: (a) => a.reason }),
      detail: t.exposeString('detail', {
        nullable: true,
        description: 'The rule, or who handed off and why',
      }),
      assignedBy: t.exposeString('assignedBy', { nullable: true }),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
    }),
  });

  const HandoffRef = builder.objectRef<HandoffEntity>('ConversationHandoff').implement({
    description: 'A bot or flow passing the conversation to a human, with what the human needs to know',
    fields: (t) => ({
      source: t.exposeString('source', { description: 'Who handed off, e.g. assistant' }),
      reason: t.exposeString('reason'),
      summary: t.exposeString('summary'),
      context: t.field({ type: 'JSON', resolve: (h) => h.context }),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
    }),
  });

  const breached = (due: Date | null | undefined, done: Date | null | undefined) =>
    !!due && (done ? done > due : Date.now() > due.getTime());

  builder.node(ConversationRef, {
    description: "One customer's thread across every channel, until it is resolved",
    authScopes: { agent: true },
    id: { resolve: (c) => c.id },
    loadOne: (id, ctx) => ctx.em.findOne(Conversation, { id }),
    fields: (t) => ({
      profile: t.field({
        type: refs.Profile,
        nullable: true,
        description: 'Null for a moment after a profile merge, until the conversation moves to the survivor',
        resolve: (c, _args, ctx) => ctx.em.findOne(Profile, { id: c.profileId }),
      }),
      status: t.field({ type: StatusEnum, resolve: (c) => c.status }),
      priority: t.field({ type: PriorityEnum, resolve: (c) => c.priority }),
      channels: t.exposeStringList('channels', {
        description: 'Every channel the thread used, in order of first use',
      }),
      lastInbox: t.field({
        type: InboxRef,
        nullable: true,
        description: 'Where the customer wrote last: replies go there unless another inbox is named',
        resolve: (c, _args, ctx) => (c.lastInbox ? ctx.em.findOne(ChannelInbox, { id: c.lastInbox }) : null),
      }),
      assignee: t.exposeString('assignee', { nullable: true, description: "The agent's subject" }),
      team: t.exposeString('team', { nullable: true }),
      tags: t.exposeStringList('tags'),
      language: t.exposeString('language', { nullable: true }),
      intent: t.exposeString('intent', { nullable: true }),
      snoozedUntil: t.expose('snoozedUntil', { type: 'DateTime', nullable: true }),
      firstResponseDueAt: t.expose('firstResponseDueAt', { type: 'DateTime', nullable: true }),
      firstResponseAt: t.expose('firstResponseAt', { type: 'DateTime', nullable: true }),
      firstResponseBreached: t.boolean({
        description: 'The first agent reply came (or is still missing) after firstResponseDueAt',
        resolve: (c) => breached(c.firstResponseDueAt, c.firstResponseAt),
      }),
      resolutionDueAt: t.expose('resolutionDueAt', { type: 'DateTime', nullable: true }),
      resolvedAt: t.expose('resolvedAt', { type: 'DateTime', nullable: true }),
      resolutionBreached: t.boolean({
        description: 'Resolved (or still not resolved) after resolutionDueAt',
        resolve: (c) => breached(c.resolutionDueAt, c.resolvedAt),
      }),
      lastMessageAt: t.expose('lastMessageAt', { type: 'DateTime', nullable: true }),
      mergedInto: t.field({
        type: ConversationRef,
        nullable: true,
        description: 'Set when this conversation was merged into another; read that one',
        resolve: (c, _args, ctx) =>
          c.mergedInto ? ctx.em.findOne(Conversation, { id: c.mergedInto }) : null,
      }),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
      updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
      messages: t.connection({
        type: MessageRef,
        description: 'Newest first',
        args: { includeInternal: t.arg.boolean({ description: 'Internal notes too (default true)' }) },
        resolve: (c, args, ctx) =>
          resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, (page) =>
            listMessages(ctx.em, c.id, { includeInternal: args.includeInternal ?? true }, page),
          ),
      }),
      assignments: t.field({
        type: [AssignmentRef],
        description: 'Oldest first',
        resolve: (c, _args, ctx) => listAssignments(ctx.em, c.id),
      }),
      handoffs: t.field({
        type: [HandoffRef],
        description: 'Oldest first',
        resolve: (c, _args, ctx) => listHandoffs(ctx.em, c.id),
      }),
    }),
  });

  return {
    StatusEnum,
    PriorityEnum,
    PurposeEnum,
    InboxRef,
    MessageRef,
    ConversationRef,
  };
}

export type ConversationTypes = ReturnType<typeof conversationTypes>;
