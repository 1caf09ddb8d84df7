import { AtriumError } from '@atrium/core';
import { createTransport, type NodemailerError, type SendMailOptions, type Transporter } from 'nodemailer';
import type { EmailConfig } from './config.ts';

/** The relay refused the message for good (a 5xx reply): the core marks it failed and does not retry. */
export class SmtpRejectedError extends AtriumError {
  readonly responseCode: number | null;
  constructor(message: string, responseCode: number | null) {
    super('SMTP_REJECTED', message);
    this.responseCode = responseCode;
  }
}

/**
 * Nodemailer errors raised before anything reached the relay that a retry would meet again:
 * the message itself is unusable.
 */
const PERMANENT_LOCAL = new Set(['ECONFIG', 'EMAXRECIPIENTS', 'EFILEACCESS', 'EURLACCESS', 'EREQUIRETLS']);
/** A 5xx on login is the operator's to fix (credentials): retried, so messages survive the fix. */
const OPERATOR_ERRORS = new Set(['EAUTH', 'ENOAUTH', 'EOAUTH2']);

/**
 * One pooled SMTP transport per process, opened in `onInit` with the validated config and
 * closed in `onDestroy`. The channel holds this object from the plugin factory, so nothing is global.
 */
export class Mailer {
  #transport: Transporter | null = null;
  #config: EmailConfig | null = null;

  open(config: EmailConfig): void {
    this.#config = config;
    this.#transport = createTransport({
      url: config.smtpUrl,
      pool: true,
      maxConnections: config.poolSize,
      maxMessages: config.messagesPerConnection,
      connectionTimeout: config.connectionTimeoutMs,
      greetingTimeout: config.greetingTimeoutMs,
      socketTimeout: config.socketTimeoutMs,
      // Content comes from agents, templates and customers: never let it name a file or URL to read.
      disableFileAccess: true,
      disableUrlAccess: true,
    });
  }

  get config(): EmailConfig {
    if (!this.#config) throw new Error('the e-mail channel is not initialised (onInit has not run)');
    return this.#config;
  }

  /** Hands the message to the relay; resolves once the relay answered 250 to its DATA. */
  async send(mail: SendMailOptions, signal: AbortSignal): Promise<void> {
    if (!this.#transport) throw new Error('the e-mail channel is not initialised (onInit has not run)');
    try {
      await this.#transport.sendMail({ ...mail, signal });
    } catch (error) {
      throw classify(error as NodemailerError);
    }
  }

  close(): void {
    this.#transport?.close();
    this.#transport = null;
  }
}

/**
 * 5xx (but 503, which nodemailer does not count as permanent) and local errors that would
 * repeat → SmtpRejectedError; 4xx, timeouts, refused connections → a plain Error, retried.
 */
export function classify(error: NodemailerError): Error {
  const reply =
    error.response && !error.message.includes(error.response) ? ` (${error.response.slice(0, 300)})` : '';
  if (error.code && OPERATOR_ERRORS.has(error.code)) {
    return new Error(`the mail relay refused our login, check smtpUrl: ${error.message}`, { cause: error });
  }
  if (error.permanent === true || (error.code && PERMANENT_LOCAL.has(error.code))) {
    return new SmtpRejectedError(
      `the mail relay refused the message for good: ${error.message}${reply}`,
      error.responseCode ?? null,
    );
  }
  return new Error(`the mail relay did not take the message this time: ${error.message}`, { cause: error });
}
