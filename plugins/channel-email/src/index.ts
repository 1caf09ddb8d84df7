import { definePlugin } from '@atrium/core';
import { emailChannel } from './channel.ts';
import { type EmailOptions, emailConfig } from './config.ts';
import { Mailer } from './transport.ts';

export { composeMail, type EmailInboxSettings, emailInboxSettings, messageIdOf } from './channel.ts';
export type { EmailConfig, EmailOptions } from './config.ts';
export { parseInboundMail, withoutQuotedHistory } from './mime.ts';
export {
  inboundMailHeaders,
  SIGNATURE_HEADER,
  signInboundMail,
  TIMESTAMP_HEADER,
  verifyInboundMail,
} from './signing.ts';
export { SmtpRejectedError } from './transport.ts';

/**
 * E-mail as a conversation channel: agents', journeys' and the assistant's messages go out
 * through an SMTP relay, customers' mails come in as raw MIME posted by the mail server.
 */
export const emailPlugin = definePlugin((_options: EmailOptions) => {
  // One transport per plugin instance, opened with the validated config once the process boots.
  const mailer = new Mailer();
  return {
    name: 'channel-email',
    compatibility: '^1.0.0',
    config: emailConfig,
    channels: [emailChannel(mailer)],
    onInit: (runtime) => mailer.open(runtime.config),
    onDestroy: () => mailer.close(),
  };
});
