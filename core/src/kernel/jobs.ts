import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Pool } from 'pg';
import { type Db, type Job, type JobResult, PgBoss, type QueueOptions } from 'pg-boss';
import { sql } from '../db/sql.ts';
import type { Logger } from './logger.ts';

export interface SendOptions {
  /** Enlists the send in this entity manager's open transaction: the job exists iff it commits. */
  em?: EntityManager;
  startAfter?: Date | number;
  singletonKey?: string;
  /** With `singletonKey`: at most one job of the key in each slot of this many seconds (pg-boss throttling). */
  singletonSeconds?: number;
  /** When the current slot already has its job, queue this one at the start of the next slot instead. */
  singletonNextSlot?: boolean;
  /** This job's retries, instead of its queue's (a policy that comes from settings). */
  retryLimit?: number;
  /** This job's first wait before a retry, in seconds, instead of its queue's. */
  retryDelaySeconds?: number;
}

/** What modules use to queue background work. */
export interface JobQueue {
  send(name: string, data: object, options?: SendOptions): Promise<string | null>;
}

export interface JobsOptions {
  /** pg-boss's own pool on this URL; or, without it, `sharedWith`'s connections. */
  databaseUrl?: string;
  sharedWith?: MikroORM;
  poolMax: number;
  logger: Logger;
  /** How often pg-boss looks for jobs whose worker died, in seconds. */
  superviseIntervalSeconds: number;
}

/** pg-boss behind a small surface: queues in the same PostgreSQL, sends inside our transactions. */
export class Jobs implements JobQueue {
  readonly boss: PgBoss;
  readonly #logger: Logger;
  #working = false;

  constructor(options: JobsOptions) {
    this.#logger = options.logger;
    this.boss = new PgBoss({
      ...(options.databaseUrl
        ? { connectionString: options.databaseUrl, max: options.poolMax, application_name: 'atrium-jobs' }
        : { db: ormDb(options.sharedWith as MikroORM) }),
      superviseIntervalSeconds: options.superviseIntervalSeconds,
      monitorIntervalSeconds: options.superviseIntervalSeconds,
      schedule: false,
    });
    this.boss.on('error', (error) => this.#logger.error({ err: error }, 'job queue error'));
  }

  async start(): Promise<void> {
    await this.boss.start();
  }

  async createQueue(name: string, options: QueueOptions & { deadLetter?: string }): Promise<void> {
    const existing = await this.boss.getQueue(name);
    if (existing) await this.boss.updateQueue(name, options);
    else await this.boss.createQueue(name, options);
  }

  async send(name: string, data: object, options: SendOptions = {}): Promise<string | null> {
    const { em, retryDelaySeconds, ...jobOptions } = options;
    return this.boss.send(name, data, {
      ...jobOptions,
      ...(retryDelaySeconds !== undefined ? { retryDelay: retryDelaySeconds } : {}),
      ...(em ? { db: transactionDb(em) } : {}),
    });
  }

  /**
   * Runs `handler` for each job of the queue, at most `concurrency` at once. Jobs are fetched in
   * batches of that size and fetching goes on without a pause while batches come back full
   * (pg-boss's burst mode): one job per poll every half second capped a queue at two jobs a second
   * per slot. Each job is settled on its own: one that throws is retried alone. One job per lane:
   * pg-boss times the whole batch against the queue's `expireInSeconds`, so two jobs queued in one
   * lane could together outlast it and both be failed.
   */
  async work<T extends object>(
    name: string,
    handler: (job: Job<T>) => Promise<void>,
    options: { concurrency?: number } = {},
  ): Promise<void> {
    this.#working = true;
    const concurrency = options.concurrency ?? 1;
    const work = {
      batchSize: concurrency,
      burstWhenBatchFull: true,
      pollingIntervalSeconds: 0.5,
      perJobResults: true as const,
    };
    await this.boss.work<T, JobResult[], typeof work>(name, work, async (jobs) => {
      const results: JobResult[] = [];
      let next = 0;
      const lane = async () => {
        while (next < jobs.length) {
          const job = jobs[next++] as Job<T>;
          try {
            await handler(job);
            results.push({ id: job.id, status: 'completed' });
          } catch (error) {
            const { message, stack } = error instanceof Error ? error : new Error(String(error));
            results.push({ id: job.id, status: 'failed', output: { message, stack } });
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, lane));
      return results;
    });
  }

  /** Waits for running handlers up to `timeoutMs`, then closes the pool. */
  async stop(timeoutMs: number): Promise<void> {
    // stop() resolves once running handlers finished or the timeout passed.
    await this.boss.stop({ graceful: this.#working, timeout: timeoutMs, close: true });
  }
}

/** pg-boss's SQL on the transaction's connection, so that the job exists iff the transaction commits. */
function transactionDb(em: EntityManager): Db {
  return { executeSql: async (text: string, values?: unknown[]) => ({ rows: await sql(em, text, values) }) };
}

/** pg-boss on MikroORM's own `pg` pool: raw results, since its maintenance SQL has several statements. */
function ormDb(orm: MikroORM): Db {
  const connection = orm.em.getConnection() as unknown as { getNativeClient(): Promise<Pool> };
  return {
    executeSql: async (text: string, values?: unknown[]) =>
      (await connection.getNativeClient()).query(text, values) as unknown as { rows: unknown[] },
  };
}
