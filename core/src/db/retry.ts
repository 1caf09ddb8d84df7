import type { EntityManager } from '@mikro-orm/postgresql';

/** Deadlocks and serialization failures are the database asking us to try again. */
const RETRYABLE = new Set(['40P01', '40001']);

/**
 * Runs `work` in a transaction of a fresh fork of `em`, and again (up to `retries` times, after
 * a short random pause) when PostgreSQL aborted it for a deadlock or a serialization failure.
 * Any other error, or the last retryable one, is thrown.
 */
export async function transactionalWithRetry<T>(
  em: EntityManager,
  work: (em: EntityManager) => Promise<T>,
  options: { retries?: number; prepare?: (em: EntityManager) => void } = {},
): Promise<T> {
  const retries = options.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    const fork = em.fork();
    options.prepare?.(fork);
    try {
      return await fork.transactional(work);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (attempt >= retries || typeof code !== 'string' || !RETRYABLE.has(code)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * (attempt + 1)));
    }
  }
}
