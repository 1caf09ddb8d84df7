import { definePlugin } from '@atrium/core';
import { whatsappChannel } from './channel.ts';
import { type WhatsAppOptions, whatsappConfig } from './config.ts';

export { MAX_TEXT, type TemplatePart, type WhatsAppSendArgs } from './cloud-api.ts';
export type { WhatsAppConfig, WhatsAppInboxSettings, WhatsAppOptions } from './config.ts';
export { WhatsAppRefusedError } from './meta-errors.ts';
export { SIGNATURE_HEADER, signatureOf } from './webhook.ts';

/** The WhatsApp channel (Meta's Cloud API). Credentials come from the options, never from inbox settings. */
export const whatsappPlugin = definePlugin((options: WhatsAppOptions = {}) => {
  // The channel needs the validated options now; when they fail, the host stops the boot with
  // its own one-line message (it validates `config` again), so no channel is declared here.
  const parsed = whatsappConfig.safeParse(options);
  return {
    name: 'channel-whatsapp',
    compatibility: '^1.0.0',
    config: whatsappConfig,
    channels: parsed.success ? [whatsappChannel(parsed.data)] : [],
  };
});
