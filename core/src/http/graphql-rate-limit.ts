import { createHash } from 'node:crypto';
import type Koa from 'koa';
import { RateLimiter } from './rate-limit.ts';

export interface GraphQLRateLimitOptions {
  /** Requests per second per key and process (a token bucket, bursts of one second's worth). */
  perSecond: number;
  /**
   * `address`: every request counts against its client address (the Public graph: visitors).
   * `credential`: a request counts against its credential; anonymous requests, and credentials
   * that were refused, count against the address, so guessing keys from one address is slowed.
   */
  by: 'address' | 'credential';
}

export interface RateLimitRefusal {
  /** Seconds before the next request may come. */
  retryAfter: number;
  message: string;
}

/** Decides whether one GraphQL request may run now, and charges refused credentials afterwards. */
export class GraphQLRateLimit {
  readonly #by: GraphQLRateLimitOptions['by'];
  readonly #perAddress: RateLimiter;
  readonly #perCredential: RateLimiter;

  constructor(options: GraphQLRateLimitOptions) {
    this.#by = options.by;
    this.#perAddress = new RateLimiter(options.perSecond);
    this.#perCredential = new RateLimiter(options.perSecond);
  }

  /** Null when the request may run; else why not and for how long. */
  admit(ctx: Koa.Context): RateLimitRefusal | null {
    const credential = this.#by === 'credential' ? credentialKeyOf(ctx) : null;
    if (!credential) {
      const wait = this.#perAddress.take(ctx.ip);
      return wait > 0 ? refusal(wait, 'too many requests from this address; retry later') : null;
    }
    // An address whose credentials keep failing waits, whatever credential it tries next.
    const failing = this.#perAddress.peek(ctx.ip);
    if (failing > 0)
      return refusal(failing, 'too many anonymous or refused requests from this address; retry later');
    const wait = this.#perCredential.take(credential);
    return wait > 0 ? refusal(wait, 'too many requests with this credential; retry later') : null;
  }

  /** After the answer: a credential that was refused (401) counts against its address. */
  settle(ctx: Koa.Context, status: number): void {
    if (this.#by === 'credential' && status === 401 && credentialKeyOf(ctx)) this.#perAddress.take(ctx.ip);
  }
}

/** A digest, not the secret itself: the buckets live in memory for the life of the process. */
function credentialKeyOf(ctx: Koa.Context): string | null {
  const credential = ctx.get('x-api-key').trim() || ctx.get('authorization').trim();
  return credential ? createHash('sha256').update(credential).digest('base64url') : null;
}

function refusal(wait: number, message: string): RateLimitRefusal {
  return { retryAfter: Math.max(1, Math.ceil(wait)), message };
}
