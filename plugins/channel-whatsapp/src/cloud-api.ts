import { type MessagePart, type OutboundMessage, type SendResult, ValidationError } from '@atrium/core';
import { credentialsOf, parseInboxSettings, type WhatsAppConfig } from './config.ts';
import { describeMetaError, isTransient, metaErrorOfAnswer, WhatsAppRefusedError } from './meta-errors.ts';

/** WhatsApp's limit for a text message's body. */
export const MAX_TEXT = 4096;

/** A send's arguments, declared in the channel's `args`. */
export interface WhatsAppSendArgs {
  previewUrl: boolean;
}

/** A pre-approved template, as a message part: `{ type: 'template', name, language, components }`. */
export interface TemplatePart {
  type: 'template';
  name: string;
  /** Meta's language code of the approved translation, e.g. `en_US` (`en-US` is accepted). */
  language: string;
  /** Meta's components with the parameters (header, body, buttons), passed through as given. */
  components?: Record<string, unknown>[];
}

/**
 * Posts one message to `{graphApiUrl}/{apiVersion}/{phoneNumberId}/messages` and returns its wamid.
 * Meta's refusals of the message itself throw WhatsAppRefusedError (final); throttling, outages,
 * timeouts and network errors throw a plain Error, which the core retries.
 */
export async function sendToCloudApi(
  config: WhatsAppConfig,
  message: OutboundMessage<WhatsAppSendArgs>,
  signal: AbortSignal,
): Promise<SendResult> {
  const settings = parseInboxSettings(config, message.inbox.settings);
  const { accessToken } = credentialsOf(config, settings.account);
  const body = requestBody(message);
  const url = `${config.graphApiUrl}/${config.apiVersion}/${settings.phoneNumberId}/messages`;

  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.any([signal, AbortSignal.timeout(config.timeoutMs)]),
    });
    text = await response.text();
  } catch (error) {
    const reason =
      (error as Error).name === 'TimeoutError'
        ? `no answer within ${config.timeoutMs} ms`
        : (error as Error).message;
    throw new Error(`the WhatsApp Cloud API could not be reached: ${reason}`, { cause: error });
  }
  const answer = parseJson(text);

  if (response.ok) {
    const id = (answer as { messages?: { id?: unknown }[] } | null)?.messages?.[0]?.id;
    if (typeof id !== 'string' || !id) {
      throw new Error(`the WhatsApp Cloud API answered ${response.status} without a message id`);
    }
    return { providerMessageId: id };
  }
  const error = metaErrorOfAnswer(answer);
  if (isTransient(response.status, error)) {
    throw new Error(
      `the WhatsApp Cloud API is unavailable for now: ${describeMetaError(error, response.status)}`,
    );
  }
  const template = body.template as { name: string; language: { code: string } } | undefined;
  throw new WhatsAppRefusedError(
    error?.code ?? null,
    describeMetaError(
      error,
      response.status,
      template && { name: template.name, language: template.language.code },
    ),
  );
}

/** The Cloud API request for one outbound message: a template when it has a template part, else text. */
export function requestBody(message: OutboundMessage<WhatsAppSendArgs>): Record<string, unknown> {
  const base = {
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    to: recipientOf(message.to),
    // Meta echoes it in status webhooks: its records and ours then name the same message.
    biz_opaque_callback_data: message.idempotencyKey,
  };
  const templates = message.parts.filter((part) => part.type === 'template');
  if (templates.length > 1) throw new ValidationError('a WhatsApp message carries one template', 'parts');
  if (templates[0]) {
    const template = templatePartOf(templates[0]);
    return {
      ...base,
      type: 'template',
      template: {
        name: template.name,
        language: { code: template.language, policy: 'deterministic' },
        ...(template.components?.length ? { components: template.components } : {}),
      },
    };
  }
  if (!message.text) throw new ValidationError('a WhatsApp message needs text or a template part', 'text');
  if (message.text.length > MAX_TEXT) {
    throw new ValidationError(`a WhatsApp text message carries at most ${MAX_TEXT} characters`, 'text');
  }
  return {
    ...base,
    type: 'text',
    text: { body: message.text, preview_url: message.args.previewUrl === true },
  };
}

/** The Cloud API wants the number in international form without the `+`. */
export function recipientOf(to: string | null): string {
  const digits = to?.replace(/^\+/, '') ?? '';
  if (!/^\d{6,15}$/.test(digits)) {
    throw new ValidationError('the profile has no phone number in international format to write to', 'to');
  }
  return digits;
}

/** Checks a template part's shape; what the template needs is Meta's to check. */
export function templatePartOf(part: MessagePart): TemplatePart {
  const { name, language, components } = part;
  if (typeof name !== 'string' || !/^[a-z0-9_]{1,512}$/.test(name)) {
    throw new ValidationError(
      'parts.template.name must be the name of an approved template (lower-case letters, digits, _)',
      'parts.template.name',
    );
  }
  if (typeof language !== 'string' || !/^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})?$/.test(language)) {
    throw new ValidationError(
      'parts.template.language must be the template translation’s language code, e.g. en_US',
      'parts.template.language',
    );
  }
  if (
    components !== undefined &&
    (!Array.isArray(components) ||
      components.some((c) => typeof c !== 'object' || c === null || Array.isArray(c)))
  ) {
    throw new ValidationError(
      'parts.template.components must be a list of objects',
      'parts.template.components',
    );
  }
  return {
    type: 'template',
    name,
    language: language.replace('-', '_'),
    ...(components ? { components: components as Record<string, unknown>[] } : {}),
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
