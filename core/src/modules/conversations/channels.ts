import { AtriumError } from '../../kernel/errors.ts';
import type { LiveBus } from '../../kernel/live.ts';
import type { ConsentPurpose, IdentityType } from '../profiles/entities.ts';
import type { ArgDefs, ArgValues } from '../profiles/segments/conditions.ts';
import type { AttachmentMeta, MessagePart, MessageStatus } from './entities.ts';

/** What a channel can carry, so that senders (agents, journeys, the assistant) pick what fits. */
export interface ChannelCapabilities {
  richText: boolean;
  attachments: boolean;
  /** Pre-approved templates (WhatsApp) or content-entry templates (e-mail). */
  templates: boolean;
  /** Typing indicators, live. */
  typing: boolean;
}

/** The inbox a send or a webhook concerns, as a channel sees it. */
export interface InboxView {
  id: string;
  workspaceId: string;
  address: string | null;
  settings: Record<string, unknown>;
  /** The inbox's own secret (webhook HMAC, identity hashes). */
  secret: string;
}

/** One outbound message, ready for the provider. */
export interface OutboundMessage<Args = Record<string, unknown>> {
  id: string;
  /** Stable across retries of this message: pass it to the provider where it takes one. */
  idempotencyKey: string;
  conversationId: string;
  profileId: string;
  /** The profile's address of the channel's `addressType`; null for session channels (web chat). */
  to: string | null;
  text: string | null;
  parts: MessagePart[];
  attachments: AttachmentMeta[];
  args: Args;
  /** Provider ids of earlier messages in the thread, oldest first (e-mail References). */
  thread: string[];
  inbox: InboxView;
}

export interface SendResult {
  /** The provider's id for the message; status callbacks and replies refer to it. */
  providerMessageId: string;
}

/** What a channel's send receives besides the message. */
export interface ChannelSendContext {
  signal: AbortSignal;
  /** Live notices: how session channels (web chat) reach a visitor's open stream. */
  live: LiveBus;
  /** Renders a content entry for templates; the conversations module passes the content module's. */
  renderTemplate: (
    entryKey: string,
    locale: string | null,
    variables: Record<string, unknown>,
  ) => Promise<RenderedTemplate>;
}

export interface RenderedTemplate {
  subject: string | null;
  text: string;
  html: string | null;
}

/** An HTTP request to a channel webhook, with the exact bytes signatures are computed over. */
export interface WebhookRequest {
  method: string;
  headers: Record<string, string | undefined>;
  query: Record<string, string | undefined>;
  rawBody: Buffer;
}

/** Who an inbound message is from, as the channel knows them. */
export interface InboundSender {
  identities: { type: IdentityType; value: string }[];
  name?: string;
}

export interface InboundMessage {
  providerMessageId: string;
  from: InboundSender;
  text: string | null;
  parts?: MessagePart[];
  attachments?: AttachmentMeta[];
  /** Provider ids this message answers; the conversation of the first one known is the thread. */
  inReplyTo?: string[];
  receivedAt?: Date;
  language?: string;
}

export interface DeliveryStatusUpdate {
  providerMessageId: string;
  /**
   * Our message id, from providers that echo what we sent with it (WhatsApp's
   * `biz_opaque_callback_data`): a status that overtakes the worker's `sent` still finds its message.
   */
  messageId?: string;
  status: Extract<MessageStatus, 'sent' | 'delivered' | 'read' | 'failed'>;
  error?: string;
  at?: Date;
}

/** What one webhook request carried. */
export interface WebhookPayload {
  messages: InboundMessage[];
  statuses: DeliveryStatusUpdate[];
}

/** Thrown by `verify` when the signature is wrong or missing: the route answers 401 and stores nothing. */
export class WebhookSignatureError extends AtriumError {
  constructor(message: string) {
    super('WEBHOOK_SIGNATURE_INVALID', message);
  }
}

/**
 * A channel adapter, in the `{ code, args, fn }` shape of every user-configured operation:
 * `args` declares what a send may carry (an admin UI draws the form, sends are validated
 * against it), `fn` delivers one message. The core owns the message row, its idempotency key,
 * retries and dead letters; an adapter only talks to its provider.
 */
export interface ChannelDefinition<D extends ArgDefs = ArgDefs> {
  /** Unique across plugins, e.g. `email`. */
  code: string;
  label: string;
  args: D;
  capabilities: ChannelCapabilities;
  /** Which of the profile's identities a send goes to; null when the channel has its own session. */
  addressType: IdentityType | null;
  /** The consent purpose a marketing send on this channel needs; a channel without one refuses marketing. */
  marketingConsent?: ConsentPurpose;
  /** Validates an inbox's settings when it is created or changed; throw a ValidationError naming the field. */
  inboxSettings?: (settings: Record<string, unknown>) => Record<string, unknown>;
  fn: (message: OutboundMessage<ArgValues<D>>, ctx: ChannelSendContext) => Promise<SendResult>;
  webhook?: {
    /** Throws WebhookSignatureError unless the request is authentic. Runs before anything is parsed. */
    verify: (request: WebhookRequest, inbox: InboxView) => void;
    /** Turns an authentic request into messages and status updates; throw a ValidationError on bad input. */
    parse: (request: WebhookRequest, inbox: InboxView) => Promise<WebhookPayload> | WebhookPayload;
    /** A GET handshake (WhatsApp's verify token): the body to answer with, or null to refuse. */
    handshake?: (request: WebhookRequest, inbox: InboxView) => string | null;
  };
}

/** Declares a channel with its argument types inferred from `args`. */
export function defineChannel<const D extends ArgDefs>(channel: ChannelDefinition<D>): ChannelDefinition<D> {
  return channel;
}

// biome-ignore lint/suspicious/noExplicitAny: channels of every argument shape live in one registry.
export type AnyChannel = ChannelDefinition<any>;
