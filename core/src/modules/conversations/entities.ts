import { defineEntity, p } from '@mikro-orm/postgresql';
import { createdAtColumn, idColumn, updatedAtColumn } from '../../db/columns.ts';
import { belongsToWorkspace } from '../workspaces/entities.ts';

/**
 * One way into a workspace through a channel: a support mailbox, a WhatsApp number, a web chat
 * widget. Its webhook URL carries its id, which is how an inbound request finds its workspace.
 */
export const ChannelInbox = defineEntity({
  name: 'ChannelInbox',
  tableName: 'channel_inbox',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    /** The channel adapter's code, e.g. `email`, `whatsapp`, `webchat`. */
    channel: p.string().length(50),
    name: p.string().length(200),
    /** What the channel sends from: a mailbox, a phone number id, a site's origin. */
    address: p.string().length(320).nullable(),
    /** Validated against the channel's `inboxSettings`. */
    settings: p.json<Record<string, unknown>>().default('{}'),
    /** Verifies what this inbox receives (webhook HMAC, web chat identity hashes); never shown again. */
    secret: p.string().length(100).hidden(),
    enabled: p.boolean().default(true),
    createdAt: createdAtColumn(),
    updatedAt: updatedAtColumn(),
  },
  indexes: [{ properties: ['workspace', 'channel'] }],
});
export type ChannelInboxEntity = InstanceType<typeof ChannelInbox.class>;

export const conversationStatuses = ['open', 'pending', 'snoozed', 'resolved'] as const;
export type ConversationStatus = (typeof conversationStatuses)[number];
export const conversationPriorities = ['low', 'normal', 'high', 'urgent'] as const;
export type ConversationPriority = (typeof conversationPriorities)[number];

/** One customer's thread across every channel, until it is resolved; then the next one starts. */
export const Conversation = defineEntity({
  name: 'Conversation',
  tableName: 'conversation',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    /**
     * No foreign key, as for plugins' rows: a profile merge deletes the merged profile, and the
     * `profile.merged` handler moves (and merges) its conversations after that commit.
     */
    profileId: p.uuid(),
    status: p.enum(conversationStatuses).default('open'),
    /** Every channel the thread has used, in order of first use. */
    channels: p.array().default([]),
    /** Where the customer wrote last: replies go there unless the agent picks another channel. */
    lastInbox: () => p.manyToOne(ChannelInbox).mapToPk().nullable().deleteRule('set null'),
    /** The agent's subject (token `sub` or API key id); null while unassigned. */
    assignee: p.string().length(200).nullable(),
    team: p.string().length(100).nullable(),
    priority: p.enum(conversationPriorities).default('normal'),
    tags: p.array().default([]),
    language: p.string().length(35).nullable(),
    /** The intent tag of the latest classified inbound message; routing reads it. */
    intent: p.string().length(100).nullable(),
    snoozedUntil: p.datetime().nullable(),
    firstResponseDueAt: p.datetime().nullable(),
    firstResponseAt: p.datetime().nullable(),
    resolutionDueAt: p.datetime().nullable(),
    resolvedAt: p.datetime().nullable(),
    lastMessageAt: p.datetime().nullable(),
    /** Set when this conversation was merged into another; its messages moved there. */
    mergedInto: p.uuid().nullable(),
    createdAt: createdAtColumn(),
    updatedAt: updatedAtColumn(),
  },
  indexes: [
    { properties: ['workspace', 'profileId', 'status'] },
    { properties: ['workspace', 'status', 'lastMessageAt'] },
  ],
});
export type ConversationEntity = InstanceType<typeof Conversation.class>;

export const messageDirections = ['inbound', 'outbound'] as const;
export type MessageDirection = (typeof messageDirections)[number];
export const messageAuthors = ['customer', 'agent', 'assistant', 'system'] as const;
export type MessageAuthor = (typeof messageAuthors)[number];
/** `received` for inbound; outbound goes queued → sending → sent → delivered → read, or failed. */
export const messageStatuses = [
  'received',
  'queued',
  'sending',
  'sent',
  'delivered',
  'read',
  'failed',
] as const;
export type MessageStatus = (typeof messageStatuses)[number];
export const messagePurposes = ['conversational', 'transactional', 'marketing'] as const;
export type MessagePurpose = (typeof messagePurposes)[number];

/** Structured content beside the text: a template, buttons, a card. The channel decides what it can show. */
export interface MessagePart {
  type: string;
  [key: string]: unknown;
}
/** What we keep about a file: never its bytes, which stay with the channel or the customer's store. */
export interface AttachmentMeta {
  name: string;
  contentType: string;
  size: number;
  url?: string;
}

/** One message in a conversation, inbound or outbound, with its delivery state. */
export const Message = defineEntity({
  name: 'Message',
  tableName: 'message',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    conversation: () => p.manyToOne(Conversation).mapToPk().deleteRule('cascade'),
    direction: p.enum(messageDirections),
    author: p.enum(messageAuthors),
    /** The agent's subject or the plugin's name; null for the customer. */
    authorId: p.string().length(200).nullable(),
    channel: p.string().length(50),
    inbox: () => p.manyToOne(ChannelInbox).mapToPk().nullable().deleteRule('set null'),
    /** Internal notes are seen by agents only and never sent. */
    internal: p.boolean().default(false),
    purpose: p.enum(messagePurposes).default('conversational'),
    text: p.text().nullable(),
    parts: p.json<MessagePart[]>().default('[]'),
    attachments: p.json<AttachmentMeta[]>().default('[]'),
    /** The channel's arguments for this send, validated against the channel's `args`. */
    args: p.json<Record<string, unknown>>().default('{}'),
    status: p.enum(messageStatuses),
    error: p.string().length(1000).nullable(),
    attempts: p.integer().default(0),
    /** The provider's id (e-mail Message-ID, WhatsApp wamid): threads replies and matches status callbacks. */
    providerMessageId: p.string().length(500).nullable(),
    /** Provider ids this message answers (e-mail In-Reply-To and References). */
    inReplyTo: p.array().default([]),
    /** Unique per workspace: the same key twice is the same message, never a second one. */
    idempotencyKey: p.string().length(200),
    /** Set by classification (agent assist, the assistant); routing reads them. */
    intent: p.string().length(100).nullable(),
    sentiment: p.float().nullable(),
    sentAt: p.datetime().nullable(),
    deliveredAt: p.datetime().nullable(),
    readAt: p.datetime().nullable(),
    createdAt: createdAtColumn(),
    updatedAt: updatedAtColumn(),
  },
  uniques: [{ properties: ['workspace', 'idempotencyKey'] }],
  indexes: [
    { properties: ['conversation', 'createdAt'] },
    { properties: ['workspace', 'providerMessageId'] },
  ],
});
export type MessageEntity = InstanceType<typeof Message.class>;

/** An agent as routing sees them: skills, teams, how many open conversations they take. */
export const Agent = defineEntity({
  name: 'Agent',
  tableName: 'conversation_agent',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    /** The token subject or API key id the agent signs in with. */
    subject: p.string().length(200),
    displayName: p.string().length(200),
    skills: p.array().default([]),
    teams: p.array().default([]),
    /** Languages the agent answers in (BCP 47 primary tags, e.g. `de`). */
    languages: p.array().default([]),
    maxOpen: p.integer().default(10),
    available: p.boolean().default(true),
    createdAt: createdAtColumn(),
    updatedAt: updatedAtColumn(),
  },
  uniques: [{ properties: ['workspace', 'subject'] }],
});
export type AgentEntity = InstanceType<typeof Agent.class>;

/** What a routing rule matches; an absent list matches everything. */
export interface RoutingMatch {
  channels?: string[];
  languages?: string[];
  /** Segment keys; the profile must be in one of them. */
  segments?: string[];
  intents?: string[];
}

/** Sends matching conversations to a team and asks for skills; the first matching rule by position wins. */
export const RoutingRule = defineEntity({
  name: 'RoutingRule',
  tableName: 'routing_rule',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    name: p.string().length(200),
    position: p.integer(),
    match: p.json<RoutingMatch>().default('{}'),
    team: p.string().length(100).nullable(),
    requiredSkills: p.array().default([]),
    priority: p.enum(conversationPriorities).nullable(),
    enabled: p.boolean().default(true),
    createdAt: createdAtColumn(),
    updatedAt: updatedAtColumn(),
  },
  indexes: [{ properties: ['workspace', 'position'] }],
});
export type RoutingRuleEntity = InstanceType<typeof RoutingRule.class>;

export const assignmentReasons = ['rule', 'manual', 'handoff', 'merge'] as const;
export type AssignmentReason = (typeof assignmentReasons)[number];

/** Every change of who holds a conversation, and why: the audit trail behind `assignee`. */
export const Assignment = defineEntity({
  name: 'Assignment',
  tableName: 'conversation_assignment',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    conversation: () => p.manyToOne(Conversation).mapToPk().deleteRule('cascade'),
    assignee: p.string().length(200).nullable(),
    team: p.string().length(100).nullable(),
    reason: p.enum(assignmentReasons),
    /** The rule's name, the acting agent, or the plugin that handed off. */
    detail: p.string().length(500).nullable(),
    assignedBy: p.string().length(200).nullable(),
    createdAt: createdAtColumn(),
  },
  indexes: [{ properties: ['conversation', 'createdAt'] }],
});
export type AssignmentEntity = InstanceType<typeof Assignment.class>;

/** A bot or flow passing the conversation to a human, with what the human needs to know. */
export const Handoff = defineEntity({
  name: 'Handoff',
  tableName: 'conversation_handoff',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    conversation: () => p.manyToOne(Conversation).mapToPk().deleteRule('cascade'),
    /** Who handed off: a plugin's name, e.g. `assistant`. */
    source: p.string().length(100),
    /** Why: `low-confidence`, `negative-sentiment`, `asked-for-human`, `topic`, … */
    reason: p.string().length(100),
    summary: p.text(),
    /** Facts the human should see at once (order number, what was tried). */
    context: p.json<Record<string, unknown>>().default('{}'),
    createdAt: createdAtColumn(),
  },
  indexes: [{ properties: ['conversation', 'createdAt'] }],
});
export type HandoffEntity = InstanceType<typeof Handoff.class>;
