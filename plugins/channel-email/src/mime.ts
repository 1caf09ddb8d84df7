import { createHash } from 'node:crypto';
import {
  type AttachmentMeta,
  type DeliveryStatusUpdate,
  type InboundMessage,
  type MessagePart,
  ValidationError,
  type WebhookPayload,
} from '@atrium/core';
import { type ParsedMail, simpleParser } from 'mailparser';

/** `<left@right>` as RFC 5322 writes a msg-id; the angle brackets are part of what we store. */
const MSG_ID = /<[^<>\s@]+@[^<>\s@]+>/g;
const LANGUAGE_TAG = /^[a-z]{2,3}(?:-[a-z0-9]{1,8})*$/i;
/** Where a provider id the mail did not carry comes from: a hash, so a re-post of the same bytes is the same id. */
export const GENERATED_ID_DOMAIN = 'generated.atrium.invalid';

/**
 * One raw RFC 5322 message as a mail server received it → what the conversations module stores.
 * A delivery status notification (a bounce) is not a customer's message: it becomes a status
 * update of the message it reports on. Anything without a sender address is refused.
 */
export async function parseInboundMail(raw: Buffer): Promise<WebhookPayload> {
  if (!raw.length) throw new ValidationError('the body must be a raw RFC 5322 message', 'body');
  let mail: ParsedMail;
  try {
    // No HTML sanitising or link extraction: only text, headers and attachment sizes are kept.
    mail = await simpleParser(raw, {
      skipImageLinks: true,
      skipTextLinks: true,
      maxHtmlLengthToParse: 2_000_000,
    });
  } catch (error) {
    throw new ValidationError(`the body is not a readable MIME message: ${(error as Error).message}`, 'body');
  }
  const bounce = deliveryStatusOf(mail);
  if (bounce) return { messages: [], statuses: bounce.status ? [bounce.status] : [] };
  return { messages: [await inboundMessageOf(mail, raw)], statuses: [] };
}

async function inboundMessageOf(mail: ParsedMail, raw: Buffer): Promise<InboundMessage> {
  const sender = mail.from?.value.find((a) => a.address);
  if (!sender?.address) {
    throw new ValidationError(
      'the mail has no From address (is the body raw MIME with its headers?)',
      'from',
    );
  }
  const body = mail.text?.trim()
    ? mail.text
    : typeof mail.html === 'string'
      ? await htmlAsText(mail.html)
      : null;
  const text = body?.trim() ? withoutQuotedHistory(body) : null;
  const attachments: AttachmentMeta[] = mail.attachments.map((a) => ({
    name: a.filename ?? 'attachment',
    contentType: a.contentType,
    size: a.size,
  }));
  const language = firstLanguage(mail.headers.get('content-language'));
  return {
    providerMessageId: idsIn(mail.messageId)[0] ?? generatedId(raw),
    from: {
      identities: [{ type: 'email', value: sender.address }],
      ...(sender.name ? { name: sender.name } : {}),
    },
    text,
    parts: [emailPartOf(mail)],
    attachments,
    inReplyTo: threadIdsOf(mail),
    ...(language ? { language } : {}),
  };
}

/**
 * What the conversation has no column for. The subject lets an agent's reply offer
 * "Re: <subject>". `autoSubmitted` (RFC 3834: out-of-office, vacation replies) tells automated
 * answerers such as the assistant not to answer, which would start a mail loop.
 */
function emailPartOf(mail: ParsedMail): MessagePart {
  const auto = mail.headers.get('auto-submitted');
  const autoSubmitted = typeof auto === 'string' ? auto.split(';')[0]?.trim().toLowerCase() : undefined;
  return {
    type: 'email',
    subject: mail.subject?.slice(0, 998) ?? null,
    ...(autoSubmitted && autoSubmitted !== 'no' ? { autoSubmitted } : {}),
  };
}

/**
 * mailparser turns HTML into text only when the HTML is the whole message; an HTML part inside
 * multipart/mixed (phones send those) stays HTML. Parsing it again as a message of its own uses
 * the same converter, without a second HTML library.
 */
async function htmlAsText(html: string): Promise<string | null> {
  const alone = await simpleParser(Buffer.from(`Content-Type: text/html; charset=utf-8\r\n\r\n${html}`), {
    maxHtmlLengthToParse: 2_000_000,
  });
  return alone.text ?? null;
}

/** In-Reply-To first, then References newest first: the ids this mail answers. */
function threadIdsOf(mail: ParsedMail): string[] {
  const references = Array.isArray(mail.references)
    ? mail.references
    : mail.references
      ? [mail.references]
      : [];
  const ids = [...idsIn(mail.inReplyTo), ...references.flatMap(idsIn).reverse()];
  return [...new Set(ids)].slice(0, 50);
}

function idsIn(value: string | undefined): string[] {
  return value?.match(MSG_ID) ?? [];
}

function generatedId(raw: Buffer): string {
  return `<${createHash('sha256').update(raw).digest('hex').slice(0, 40)}@${GENERATED_ID_DOMAIN}>`;
}

function firstLanguage(header: unknown): string | null {
  if (typeof header !== 'string') return null;
  const tag = header.split(',')[0]?.trim() ?? '';
  return LANGUAGE_TAG.test(tag) && tag.length <= 35 ? tag : null;
}

/**
 * A DSN (RFC 3464, `multipart/report; report-type=delivery-status`) reports on a message we sent,
 * named by the Message-ID in its returned headers: `failed` marks that message failed,
 * `delivered` delivered; `delayed` and `relayed` change nothing.
 */
function deliveryStatusOf(mail: ParsedMail): { status: DeliveryStatusUpdate | null } | null {
  const contentType = mail.headers.get('content-type') as { value?: string; params?: Record<string, string> };
  if (
    contentType?.value?.toLowerCase() !== 'multipart/report' ||
    contentType.params?.['report-type']?.toLowerCase() !== 'delivery-status'
  ) {
    return null;
  }
  // mailparser folds the message/delivery-status part into the text; the returned message or its headers are attachments.
  const report = mail.text ?? '';
  const action = /^Action:\s*(\w+)/im.exec(report)?.[1]?.toLowerCase();
  const returned = mail.attachments.find((a) =>
    /^(message\/rfc822|text\/rfc822-headers)$/i.test(a.contentType),
  );
  const original = returned && /^Message-ID:\s*(<[^<>\s]+>)/im.exec(returned.content.toString('utf8'))?.[1];
  if (!original || (action !== 'failed' && action !== 'delivered')) return { status: null };
  if (action === 'delivered') return { status: { providerMessageId: original, status: 'delivered' } };
  const status = /^Status:\s*([245]\.\d{1,3}\.\d{1,3})/im.exec(report)?.[1];
  const diagnostic = /^Diagnostic-Code:\s*(?:smtp;\s*)?(.+)$/im.exec(report)?.[1]?.trim();
  return {
    status: {
      providerMessageId: original,
      status: 'failed',
      error: `bounced${status ? ` (${status})` : ''}${diagnostic ? `: ${diagnostic}` : ''}`,
    },
  };
}

/** "On Tue, 3 Jun 2025 at 10:02, Ann <ann@example.com> wrote:" and its siblings in other clients and languages. */
const ATTRIBUTION = /^(?:On\s.+\swrote|Am\s.+\sschrieb\s.+|Le\s.+\sa\sécrit\s?|El\s.+\sescribió)\s?:\s*$/i;
const SEPARATOR =
  /^-{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Message d'origine|Mensaje original)\s*-{2,}\s*$/i;

/**
 * The new part of a reply: cut at a client's separator ("-----Original Message-----"), or at an
 * attribution line when only quoted lines follow it, and drop a trailing block of `>` lines.
 * Conservative: when nothing would remain, the text is kept whole.
 */
export function withoutQuotedHistory(text: string): string {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  let end = lines.length;
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (SEPARATOR.test(line)) {
      end = i;
      break;
    }
    // Clients wrap a long attribution over two lines ("On …, Ann <ann@example.com>\nwrote:").
    const joined = i + 1 < lines.length ? `${line} ${(lines[i + 1] as string).trim()}` : line;
    const attribution = ATTRIBUTION.test(line) ? 1 : ATTRIBUTION.test(joined) ? 2 : 0;
    if (attribution && lines.slice(i + attribution).every((l) => l.trim() === '' || l.startsWith('>'))) {
      end = i;
      break;
    }
  }
  while (end > 0 && ((lines[end - 1] as string).trim() === '' || (lines[end - 1] as string).startsWith('>')))
    end--;
  const kept = lines.slice(0, end).join('\n').trim();
  return kept || text.trim();
}
