import type { MikroORM } from '@mikro-orm/postgresql';
import { ingestCalls } from './ingestion.ts';
import type { TrackingCall } from './tracking-calls.ts';

interface Waiting {
  calls: TrackingCall[];
  done: (error?: unknown) => void;
}

/**
 * Group commit per workspace: requests that arrive while a transaction is writing wait and
 * are then written together, in one transaction with one identity resolution. Concurrent
 * requests of one site share identities, so written apart they would queue on each other's
 * locks anyway; together they pay the round trips once. Each request is still acknowledged
 * only after the commit that holds its calls. When a group fails, its requests are written
 * one by one, so only the request at fault gets the error.
 */
export class IngestionWriter {
  readonly #orm: MikroORM;
  readonly #maxCalls: number;
  readonly #queues = new Map<string, Waiting[]>();

  constructor(orm: MikroORM, maxCallsPerTransaction = 1000) {
    this.#orm = orm;
    this.#maxCalls = maxCallsPerTransaction;
  }

  /** Resolves once the calls are committed; rejects with the error of this request alone. */
  write(workspaceId: string, calls: TrackingCall[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (error?: unknown) => (error === undefined ? resolve() : reject(error));
      const queue = this.#queues.get(workspaceId);
      if (queue) {
        queue.push({ calls, done });
        return;
      }
      this.#queues.set(workspaceId, [{ calls, done }]);
      void this.#drain(workspaceId);
    });
  }

  async #drain(workspaceId: string): Promise<void> {
    const queue = this.#queues.get(workspaceId) as Waiting[];
    while (queue.length) {
      const group: Waiting[] = [queue.shift() as Waiting];
      let size = group[0]?.calls.length ?? 0;
      while (queue.length && size + (queue[0]?.calls.length ?? 0) <= this.#maxCalls) {
        const next = queue.shift() as Waiting;
        size += next.calls.length;
        group.push(next);
      }
      await this.#writeGroup(workspaceId, group);
    }
    this.#queues.delete(workspaceId);
  }

  async #writeGroup(workspaceId: string, group: Waiting[]): Promise<void> {
    try {
      await ingestCalls(
        this.#orm,
        workspaceId,
        group.flatMap((w) => w.calls),
      );
      for (const w of group) w.done();
    } catch (error) {
      if (group.length === 1) return group[0]?.done(error);
      for (const w of group) {
        try {
          await ingestCalls(this.#orm, workspaceId, w.calls);
          w.done();
        } catch (alone) {
          w.done(alone);
        }
      }
    }
  }
}
