import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import {
  type AttachmentMeta,
  type DeliveryStatusUpdate,
  type InboundMessage,
  type InboxView,
  type MessagePart,
  ValidationError,
  type WebhookPayload,
  type WebhookRequest,
  WebhookSignatureError,
} from '@atrium/core';
import { credentialsOf, parseInboxSettings, type WhatsAppConfig } from './config.ts';
import { describeMetaError, metaErrorOfWebhook } from './meta-errors.ts';

export const SIGNATURE_HEADER = 'x-hub-signature-256';

/** `sha256=<hex HMAC-SHA256 of the raw body with the app secret>`, as Meta signs its webhooks. */
export function signatureOf(appSecret: string, rawBody: string | Uint8Array): string {
  return `sha256=${createHmac('sha256', appSecret).update(rawBody).digest('hex')}`;
}

/** Throws WebhookSignatureError unless Meta's signature over the exact bytes matches the inbox's app secret. */
export function verifySignature(config: WhatsAppConfig, request: WebhookRequest, inbox: InboxView): void {
  const header = request.headers[SIGNATURE_HEADER]?.trim();
  if (!header) throw new WebhookSignatureError(`the ${SIGNATURE_HEADER} header is missing`);
  const match = /^sha256=([0-9a-f]{64})$/i.exec(header);
  if (!match?.[1]) throw new WebhookSignatureError(`the ${SIGNATURE_HEADER} header is not sha256=<hex>`);
  let appSecret: string;
  try {
    appSecret = credentialsOf(config, parseInboxSettings(config, inbox.settings).account).appSecret;
  } catch (error) {
    // Without the app secret nothing can be proven authentic; refusing is the only safe answer.
    throw new WebhookSignatureError(`the inbox has no usable app secret: ${(error as Error).message}`);
  }
  const expected = createHmac('sha256', appSecret).update(request.rawBody).digest();
  if (!timingSafeEqual(expected, Buffer.from(match[1], 'hex'))) {
    throw new WebhookSignatureError('the signature does not match the body and the app secret');
  }
}

/** Meta's subscription check: answer the challenge when the verify token is the inbox's. */
export function answerHandshake(
  config: WhatsAppConfig,
  request: WebhookRequest,
  inbox: InboxView,
): string | null {
  const { query } = request;
  const challenge = query['hub.challenge'];
  if (query['hub.mode'] !== 'subscribe' || !challenge || challenge.length > 200) return null;
  let verifyToken: string;
  try {
    verifyToken = parseInboxSettings(config, inbox.settings).verifyToken;
  } catch {
    return null;
  }
  return sameSecret(query['hub.verify_token'] ?? '', verifyToken) ? challenge : null;
}

/** Constant-time equality of strings of any length: compares their digests. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

type Json = Record<string, unknown>;

/**
 * Turns a signed Cloud API notification into messages and statuses. Only `messages` changes for
 * this inbox's phone number id count: one Meta app may post every number it serves to each URL.
 */
export function parseNotification(
  config: WhatsAppConfig,
  request: WebhookRequest,
  inbox: InboxView,
): WebhookPayload {
  let body: unknown;
  try {
    body = JSON.parse(request.rawBody.toString('utf8'));
  } catch {
    throw new ValidationError('the webhook body is not JSON', 'body');
  }
  const entries = objectOf(body)?.entry;
  if (!Array.isArray(entries)) throw new ValidationError('the webhook body has no entry list', 'entry');
  const { phoneNumberId } = parseInboxSettings(config, inbox.settings);

  const payload: WebhookPayload = { messages: [], statuses: [] };
  for (const entry of entries) {
    const changes = objectOf(entry)?.changes;
    if (!Array.isArray(changes)) continue;
    for (const change of changes.map(objectOf)) {
      const value = objectOf(change?.value);
      if (!value || (change?.field !== undefined && change.field !== 'messages')) continue;
      if (String(objectOf(value.metadata)?.phone_number_id ?? '') !== phoneNumberId) continue;
      const names = contactNames(value.contacts);
      for (const raw of arrayOf(value.messages)) payload.messages.push(inboundOf(raw, names));
      for (const raw of arrayOf(value.statuses)) {
        const status = statusOf(raw);
        if (status) payload.statuses.push(status);
      }
    }
  }
  return payload;
}

function contactNames(contacts: unknown): Map<string, string> {
  const names = new Map<string, string>();
  for (const contact of arrayOf(contacts)) {
    const name = stringOf(objectOf(contact.profile)?.name);
    const waId = stringOf(contact.wa_id);
    if (waId && name) names.set(waId, name);
  }
  return names;
}

function inboundOf(raw: Json, names: Map<string, string>): InboundMessage {
  const id = stringOf(raw.id);
  if (!id) throw new ValidationError('a message has no id', 'messages.id');
  const from = stringOf(raw.from);
  if (!from || !/^\d{6,15}$/.test(from)) {
    throw new ValidationError(
      'a message has no sender (from must be a WhatsApp id of digits)',
      'messages.from',
    );
  }
  const content = contentOf(raw);
  const replyTo = stringOf(objectOf(raw.context)?.id) ?? content.replyTo;
  const name = names.get(from);
  const receivedAt = timeOf(raw.timestamp);
  return {
    providerMessageId: id,
    from: { identities: [{ type: 'phone', value: `+${from}` }], ...(name ? { name } : {}) },
    text: content.text,
    ...(content.parts.length ? { parts: content.parts } : {}),
    ...(content.attachments.length ? { attachments: content.attachments } : {}),
    ...(replyTo ? { inReplyTo: [replyTo] } : {}),
    ...(receivedAt ? { receivedAt } : {}),
  };
}

interface Content {
  text: string | null;
  parts: MessagePart[];
  attachments: AttachmentMeta[];
  replyTo?: string;
}

const MEDIA_TYPES = new Set(['image', 'video', 'audio', 'document', 'sticker']);

/**
 * What a message of each type carries. Media stay with Meta: we keep their id and type (the
 * bytes can be fetched with the media id and the access token while Meta keeps them).
 */
function contentOf(raw: Json): Content {
  const type = stringOf(raw.type) ?? 'unknown';
  const body = objectOf(raw[type]) ?? {};
  if (type === 'text') return { text: stringOf(body.body), parts: [], attachments: [] };
  if (MEDIA_TYPES.has(type)) {
    const mediaId = stringOf(body.id);
    const mimeType = stringOf(body.mime_type) ?? 'application/octet-stream';
    const filename = stringOf(body.filename);
    const caption = stringOf(body.caption);
    return {
      text: caption,
      parts: [
        {
          type: 'whatsapp_media',
          mediaType: type,
          mediaId,
          mimeType,
          ...(filename ? { filename } : {}),
          ...(caption ? { caption } : {}),
          ...(stringOf(body.sha256) ? { sha256: stringOf(body.sha256) } : {}),
          ...(body.voice === true ? { voice: true } : {}),
        },
      ],
      // The webhook gives no size; 0 means unknown.
      attachments: [{ name: filename ?? `${type}-${mediaId ?? 'unknown'}`, contentType: mimeType, size: 0 }],
    };
  }
  if (type === 'interactive') {
    const kind = stringOf(body.type) ?? 'unknown';
    const reply = objectOf(body[kind]) ?? {};
    const title = stringOf(reply.title);
    return {
      text: title,
      parts: [
        { type: 'reply', kind, id: stringOf(reply.id), title, description: stringOf(reply.description) },
      ],
      attachments: [],
    };
  }
  if (type === 'button') {
    // A tap on a quick-reply button of a template we sent.
    const text = stringOf(body.text);
    return {
      text,
      parts: [{ type: 'reply', kind: 'button', payload: stringOf(body.payload), title: text }],
      attachments: [],
    };
  }
  if (type === 'reaction') {
    const emoji = stringOf(body.emoji);
    const messageId = stringOf(body.message_id);
    return {
      text: emoji,
      parts: [{ type: 'reaction', emoji, messageId }],
      attachments: [],
      ...(messageId ? { replyTo: messageId } : {}),
    };
  }
  if (type === 'location') {
    const place = [stringOf(body.name), stringOf(body.address)].filter(Boolean).join(', ');
    const { latitude, longitude } = body;
    return {
      text: place || `${latitude}, ${longitude}`,
      parts: [
        {
          type: 'location',
          latitude: typeof latitude === 'number' ? latitude : null,
          longitude: typeof longitude === 'number' ? longitude : null,
          name: stringOf(body.name),
          address: stringOf(body.address),
        },
      ],
      attachments: [],
    };
  }
  // Contacts, orders, system notices, types Meta adds later: kept as a marker, not dropped.
  return { text: null, parts: [{ type: 'unsupported', whatsappType: type }], attachments: [] };
}

const STATUSES = new Set<DeliveryStatusUpdate['status']>(['sent', 'delivered', 'read', 'failed']);

function statusOf(raw: Json): DeliveryStatusUpdate | null {
  const id = stringOf(raw.id);
  const status = stringOf(raw.status) as DeliveryStatusUpdate['status'] | null;
  // Other statuses (e.g. `deleted`, `warning`) say nothing about delivery.
  if (!id || !status || !STATUSES.has(status)) return null;
  const at = timeOf(raw.timestamp);
  const ours = stringOf(raw.biz_opaque_callback_data);
  const update: DeliveryStatusUpdate = {
    providerMessageId: id,
    status,
    ...(at ? { at } : {}),
    // What we sent as biz_opaque_callback_data (the message id): finds the message even before `sent`.
    ...(ours ? { messageId: ours } : {}),
  };
  if (status === 'failed')
    update.error = describeMetaError(metaErrorOfWebhook(arrayOf(raw.errors)[0] ?? null));
  return update;
}

/** Meta's timestamps are Unix seconds, as strings. */
function timeOf(value: unknown): Date | undefined {
  const seconds = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  return Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000) : undefined;
}

function objectOf(value: unknown): Json | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : null;
}

function arrayOf(value: unknown): Json[] {
  return Array.isArray(value) ? value.map(objectOf).filter((item): item is Json => item !== null) : [];
}

function stringOf(value: unknown): string | null {
  return typeof value === 'string' && value.trim() ? value : null;
}
