import { z } from 'zod';

export const webchatConfig = z.object({
  /** New sessions per second per client address and process (a token bucket; 429 beyond). */
  sessionsPerSecondPerAddress: z.number().int().min(1).max(1000).default(2),
  /** Messages and typing notices per second per session and process. */
  messagesPerSecondPerSession: z.number().int().min(1).max(100).default(5),
  /**
   * A visitor's event stream ends after this long and the widget reconnects at once: an ended
   * session stops streaming within this time, and a profile merged meanwhile is picked up.
   */
  streamLifetimeSeconds: z.number().int().min(10).max(3600).default(300),
});

export type WebchatOptions = z.input<typeof webchatConfig>;
export type WebchatConfig = z.output<typeof webchatConfig>;
