import { defineChannel } from '@atrium/core';
import { sendToCloudApi } from './cloud-api.ts';
import { parseInboxSettings, type WhatsAppConfig } from './config.ts';
import { answerHandshake, parseNotification, verifySignature } from './webhook.ts';

/**
 * WhatsApp through Meta's Cloud API: text and pre-approved templates out, messages and
 * delivery statuses in through the inbox's webhook (`/channels/<inbox id>/webhook`).
 */
export function whatsappChannel(config: WhatsAppConfig) {
  return defineChannel({
    code: 'whatsapp',
    label: 'WhatsApp',
    args: {
      previewUrl: {
        type: 'boolean',
        label: 'Link preview',
        description: 'Show a preview of the first link in a text message',
        required: false,
        default: false,
      },
    },
    // Outbound media would take one WhatsApp message per file; not offered yet.
    capabilities: { richText: false, attachments: false, templates: true, typing: false },
    addressType: 'phone',
    // WhatsApp marketing is messaging to the customer's phone: the same consent as SMS marketing.
    marketingConsent: 'marketing_sms',
    inboxSettings: (settings) => parseInboxSettings(config, settings),
    fn: (message, ctx) => sendToCloudApi(config, message, ctx.signal),
    webhook: {
      verify: (request, inbox) => verifySignature(config, request, inbox),
      parse: (request, inbox) => parseNotification(config, request, inbox),
      handshake: (request, inbox) => answerHandshake(config, request, inbox),
    },
  });
}
