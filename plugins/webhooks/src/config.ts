import { z } from 'zod';

export const webhooksConfig = z.object({
  /** Attempts per delivery, the first included; pg-boss retries `maxAttempts - 1` times. */
  maxAttempts: z.number().int().min(1).max(20).default(8),
  /** The first retry waits this long (to twice it); each next one doubles. */
  retryDelaySeconds: z.number().int().min(1).max(3600).default(5),
  /** Per attempt; a slower answer counts as a failure. */
  timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
  /** false refuses endpoints on loopback/private/link-local addresses (at create time and before each attempt). */
  allowPrivateNetworks: z.boolean().default(true),
});

export type WebhooksOptions = z.input<typeof webhooksConfig>;
export type WebhooksConfig = z.output<typeof webhooksConfig>;
