import { AtriumError } from '@atrium/core';

/** Meta's error object, as the send answer and failed-status webhooks carry it. */
export interface MetaError {
  code: number | null;
  /** `message` in send answers, `title` in webhooks. */
  title: string | null;
  details: string | null;
}

/**
 * Meta's codes that mean "not now" rather than "not this": throttling and outages. Everything
 * else on a 4xx is about the message, the template, the recipient or the token, and a retry
 * sends the same thing to the same refusal.
 */
const TRANSIENT_CODES = new Set([
  1, // unknown API error
  2, // service temporarily unavailable
  4, // application request limit
  17, // user request limit
  341, // application limit reached
  80007, // WhatsApp Business Account rate limit
  130429, // Cloud API throughput reached
  131000, // something went wrong
  131016, // service unavailable
  131056, // too many messages to the same recipient in a short time
  133004, // server temporarily unavailable
]);

export const REENGAGEMENT_CODE = 131047;

export function isTransient(httpStatus: number, error: MetaError | null): boolean {
  if (httpStatus === 429 || httpStatus >= 500) return true;
  return error?.code != null && TRANSIENT_CODES.has(error.code);
}

/** A send Meta refused for good: the core marks the message failed and does not retry. */
export class WhatsAppRefusedError extends AtriumError {
  readonly metaCode: number | null;
  constructor(metaCode: number | null, message: string) {
    super('WHATSAPP_REFUSED', message);
    this.metaCode = metaCode;
  }
}

/** Reads `{ error: { code, message, error_data: { details } } }` from a send answer; null when absent. */
export function metaErrorOfAnswer(body: unknown): MetaError | null {
  const error = objectOf(objectOf(body)?.error);
  if (!error) return null;
  return {
    code: typeof error.code === 'number' ? error.code : null,
    title: stringOf(error.message) ?? stringOf(error.error_user_title),
    details: stringOf(objectOf(error.error_data)?.details) ?? stringOf(error.error_user_msg),
  };
}

/** Reads one entry of a webhook's `errors` array. */
export function metaErrorOfWebhook(entry: unknown): MetaError | null {
  const error = objectOf(entry);
  if (!error) return null;
  return {
    code: typeof error.code === 'number' ? error.code : null,
    title: stringOf(error.title) ?? stringOf(error.message),
    details: stringOf(objectOf(error.error_data)?.details),
  };
}

/** What an agent reads on the failed message: what happened and what to do, with Meta's code. */
export function describeMetaError(
  error: MetaError | null,
  httpStatus?: number,
  template?: { name: string; language: string },
): string {
  const code = error?.code ?? null;
  const tag = `Meta error ${code ?? 'without a code'}${httpStatus ? `, HTTP ${httpStatus}` : ''}`;
  const said = [error?.title, error?.details].filter(Boolean).join(': ');
  switch (code) {
    case REENGAGEMENT_CODE:
      return (
        "outside WhatsApp's 24-hour customer service window: the customer has not written in the " +
        `last 24 hours, so only an approved template can reach them now (${tag})`
      );
    case 132001:
      return (
        `WhatsApp has no approved template ${template ? `"${template.name}" in ${template.language}` : 'of this name in this language'}` +
        ` (${tag}${said ? `: ${said}` : ''})`
      );
    case 131026:
      return `WhatsApp could not deliver to this number: it may not use WhatsApp or may need to update the app (${tag})`;
    case 131050:
      return `the customer stopped marketing messages from this business on WhatsApp (${tag})`;
    case 190:
      return `Meta refused the access token (expired or revoked): renew the plugin's accessToken (${tag})`;
    default:
      return `WhatsApp refused the message${said ? `: ${said}` : ''} (${tag})`;
  }
}

function objectOf(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

function stringOf(value: unknown): string | null {
  return typeof value === 'string' && value.trim() ? value.trim().slice(0, 300) : null;
}
