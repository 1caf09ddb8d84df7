import { z } from 'zod';

const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

export const emailConfig = z.object({
  /**
   * The relay every message goes through: `smtps://` is TLS from the first byte (port 465),
   * `smtp://` upgrades with STARTTLS when the server offers it (587, 25). Credentials go in the
   * URL: `smtp://user:password@relay.example.com:587`.
   */
  smtpUrl: z.url({ protocol: /^smtps?$/, error: 'must be an smtp:// or smtps:// URL' }),
  /** Connections to the relay held open and used in parallel by one process. */
  poolSize: z.number().int().min(1).max(50).default(5),
  /** A connection is replaced after this many messages (relays limit messages per session). */
  messagesPerConnection: z.number().int().min(1).max(10_000).default(100),
  connectionTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  greetingTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  /** Inactivity on an open connection (a relay that stops answering mid-message). */
  // Below the 60 s after which a send counts as crashed and runs again (conversations.deliver).
  socketTimeoutMs: z.number().int().min(100).max(50_000).default(30_000),
  /** The right-hand side of the Message-IDs we write; defaults to the domain of each inbox's address. */
  messageIdDomain: z.string().regex(HOSTNAME, 'must be a host name such as mail.example.com').optional(),
});

export type EmailOptions = z.input<typeof emailConfig>;
export type EmailConfig = z.output<typeof emailConfig>;
