import {
  defineChannel,
  type InboxView,
  type OutboundMessage,
  type RenderedTemplate,
  ValidationError,
} from '@atrium/core';
import { z } from 'zod';
import { parseInboundMail } from './mime.ts';
import { verifyInboundMail } from './signing.ts';
import type { Mailer } from './transport.ts';

const EMAIL = /^[^\s@<>()",;:]+@[^\s@<>()",;:]+\.[^\s@<>()",;:]+$/;
const MSG_ID = /^<[^<>\s@]+@[^<>\s@]+>$/;
/** The left side of a Message-ID may hold only RFC 5322 atext and dots. */
const ID_LEFT = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,200}$/;
/** Mail clients thread on the last few ids; an unbounded References header only grows. */
const MAX_REFERENCES = 20;

export const emailInboxSettings = z
  .object({
    /** Shown beside the inbox address: `"Shop Support" <support@shop.example>`. */
    displayName: z.string().trim().min(1).max(100).optional(),
    /** Where replies go when not to the inbox address itself. */
    replyTo: z.string().regex(EMAIL, 'must be an e-mail address').optional(),
    /** The subject of a message that names none (no `subject` argument, no template subject). */
    defaultSubject: z.string().trim().min(1).max(200).optional(),
  })
  .strict();
export type EmailInboxSettings = z.output<typeof emailInboxSettings>;

const args = {
  subject: { type: 'string', label: 'Subject', required: false },
  template: {
    type: 'string',
    label: 'Template',
    description: 'Key of a published content entry with `subject` and `body` fields; replaces the text',
    required: false,
    ui: 'content-entry',
  },
  locale: { type: 'string', label: 'Template locale', required: false, ui: 'locale' },
  variables: {
    type: 'json',
    label: 'Template variables',
    description: 'Values for the {{ placeholders }} of the template',
    required: false,
  },
} as const;
/** An outbound message with the e-mail channel's arguments. */
export type EmailMessage = OutboundMessage<{
  subject?: string;
  template?: string;
  locale?: string;
  variables?: unknown;
}>;

/** The e-mail channel: sends through the plugin's pooled SMTP transport, receives raw MIME on its webhook. */
export function emailChannel(mailer: Mailer) {
  return defineChannel({
    code: 'email',
    label: 'E-mail',
    args,
    // Text goes out as text/plain; HTML only from templates. Files: see docs/channels-email.md.
    capabilities: { richText: false, attachments: false, templates: true, typing: false },
    addressType: 'email',
    marketingConsent: 'marketing_email',
    inboxSettings: (settings) => {
      const parsed = emailInboxSettings.safeParse(settings);
      if (parsed.success) return parsed.data;
      const issue = parsed.error.issues[0];
      const path = ['settings', ...(issue?.path ?? [])].join('.');
      throw new ValidationError(`${path}: ${issue?.message ?? 'invalid'}`, path);
    },
    fn: async (message, ctx) => {
      const mail = await composeMail(message, mailer.config.messageIdDomain, ctx.renderTemplate);
      await mailer.send(mail, ctx.signal);
      return { providerMessageId: mail.messageId };
    },
    webhook: {
      verify: (request, inbox) => verifyInboundMail(request, inbox.secret),
      parse: (request) => parseInboundMail(request.rawBody),
    },
  });
}

export interface ComposedMail {
  from: { name: string; address: string } | string;
  to: string;
  replyTo?: string;
  subject: string;
  text: string;
  html?: string;
  messageId: string;
  inReplyTo?: string;
  references?: string[];
}

/**
 * The mail one outbound message becomes. Its Message-ID comes from the idempotency key, so a
 * retry after a crash carries the same one (the receiving side and the customer's client see
 * a duplicate, not a second message); In-Reply-To and References thread it after the earlier
 * e-mails of the conversation. Problems with the message itself are ValidationErrors: final.
 */
export async function composeMail(
  message: EmailMessage,
  messageIdDomain: string | undefined,
  renderTemplate: (
    entryKey: string,
    locale: string | null,
    variables: Record<string, unknown>,
  ) => Promise<RenderedTemplate>,
): Promise<ComposedMail> {
  const from = senderOf(message.inbox);
  if (!message.to) throw new ValidationError('the profile has no e-mail address', 'to');
  const settings = message.inbox.settings as EmailInboxSettings;
  const template = templateOf(message);
  const rendered = template ? await renderTemplate(template.key, template.locale, template.variables) : null;
  const text = rendered?.text ?? message.text;
  if (!text) throw new ValidationError('an e-mail needs text or a template', 'text');
  const thread = message.thread.filter((id) => MSG_ID.test(id)).slice(-MAX_REFERENCES);
  const domain = messageIdDomain ?? (from.address.split('@')[1] as string);
  return {
    from: from.name ? from : from.address,
    to: message.to,
    ...(settings.replyTo ? { replyTo: settings.replyTo } : {}),
    subject:
      message.args.subject ??
      rendered?.subject ??
      settings.defaultSubject ??
      `A message from ${settings.displayName ?? from.address}`,
    text,
    ...(rendered?.html ? { html: rendered.html } : {}),
    messageId: messageIdOf(message.idempotencyKey, domain),
    ...(thread.length ? { inReplyTo: thread.at(-1) as string, references: thread } : {}),
  };
}

/** `<key@domain>`: the same key gives the same Message-ID, whichever process sends it. */
export function messageIdOf(idempotencyKey: string, domain: string): string {
  const left =
    ID_LEFT.test(idempotencyKey) && !/^\.|\.\.|\.$/.test(idempotencyKey)
      ? idempotencyKey
      : Buffer.from(idempotencyKey).toString('base64url');
  return `<${left}@${domain}>`;
}

function senderOf(inbox: InboxView): { name: string; address: string } {
  const address = inbox.address?.trim();
  if (!address || !EMAIL.test(address)) {
    throw new ValidationError(
      `the inbox ${inbox.id} needs an e-mail address to send from (got "${address ?? ''}")`,
      'inbox.address',
    );
  }
  const settings = inbox.settings as EmailInboxSettings;
  return { name: settings.displayName ?? '', address };
}

interface TemplateRef {
  key: string;
  locale: string | null;
  variables: Record<string, unknown>;
}

/** `args.template`, or a `{ type: 'template', template, locale?, variables? }` part (a send with no text). */
function templateOf(message: EmailMessage): TemplateRef | null {
  const part = message.parts.find((p) => p.type === 'template');
  const key = message.args.template ?? (typeof part?.template === 'string' ? part.template : null);
  if (!key) return null;
  const fromArgs = message.args.template !== undefined;
  const locale = fromArgs ? message.args.locale : part?.locale;
  const variables = fromArgs ? message.args.variables : part?.variables;
  if (
    variables !== undefined &&
    (typeof variables !== 'object' || variables === null || Array.isArray(variables))
  ) {
    throw new ValidationError('variables must be an object of placeholder values', 'args.variables');
  }
  return {
    key,
    locale: typeof locale === 'string' ? locale : null,
    variables: (variables ?? {}) as Record<string, unknown>,
  };
}
