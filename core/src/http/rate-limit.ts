/**
 * A token bucket per key, in memory: `ratePerSecond` steady, bursts up to one second's worth.
 * Per process, so N API replicas allow N times the rate; it guards against a runaway client,
 * not a determined one.
 */
export class RateLimiter {
  readonly #rate: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(ratePerSecond: number) {
    this.#rate = ratePerSecond;
  }

  /** Takes a token: 0 when allowed, else the seconds to wait before the next one is there. */
  take(key: string, now = performance.now()): number {
    const bucket = { tokens: this.#tokens(key, now), at: now };
    if (this.#buckets.size >= 100_000 && !this.#buckets.has(key)) this.#buckets.clear();
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / this.#rate;
  }

  /** Like `take`, but takes nothing: 0 when a token is there, else the seconds until one is. */
  peek(key: string, now = performance.now()): number {
    const tokens = this.#tokens(key, now);
    return tokens >= 1 ? 0 : (1 - tokens) / this.#rate;
  }

  #tokens(key: string, now: number): number {
    const bucket = this.#buckets.get(key);
    if (!bucket) return this.#rate;
    return Math.min(this.#rate, bucket.tokens + ((now - bucket.at) / 1000) * this.#rate);
  }
}
