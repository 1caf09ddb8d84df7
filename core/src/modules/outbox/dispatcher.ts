import { LockMode, type MikroORM } from '@mikro-orm/postgresql';
import type { Job } from 'pg-boss';
import { WORKSPACE_FILTER } from '../../db/orm.ts';
import { toDomainEvent } from '../../kernel/events.ts';
import type { Jobs } from '../../kernel/jobs.ts';
import type { Logger } from '../../kernel/logger.ts';
import type { AnyRuntime, EventSubscription } from '../../kernel/plugin.ts';
import { EventDelivery, OutboxEvent } from './entities.ts';
import { DEAD_LETTER_QUEUE, DELIVERY_QUEUE, type DeliveryJob } from './service.ts';

/** A module's subscription with the runtime its handler runs in. */
export interface RegisteredSubscription {
  /** `<module>:<name>`, stored on each delivery. */
  key: string;
  types: Set<string>;
  subscription: EventSubscription<unknown>;
  runtime: AnyRuntime;
}

export interface DispatcherOptions {
  retryLimit: number;
  retryDelaySeconds: number;
  expireInSeconds: number;
  pollIntervalMs: number;
  concurrency: number;
}

const BATCH = 100;

/**
 * Moves committed outbox events to handlers: a publisher turns each event into one delivery
 * per subscribed handler (and a job for it) in one transaction; a worker runs each delivery
 * inside a transaction that also marks it done, so a handler's writes happen exactly once.
 */
export class OutboxDispatcher {
  readonly #orm: MikroORM;
  readonly #jobs: Jobs;
  readonly #logger: Logger;
  readonly #subscriptions: Map<string, RegisteredSubscription>;
  readonly #options: DispatcherOptions;
  #timer: NodeJS.Timeout | null = null;
  #publishing: Promise<void> | null = null;
  #again = false;

  constructor(
    orm: MikroORM,
    jobs: Jobs,
    logger: Logger,
    subscriptions: RegisteredSubscription[],
    options: DispatcherOptions,
  ) {
    this.#orm = orm;
    this.#jobs = jobs;
    this.#logger = logger;
    this.#subscriptions = new Map(subscriptions.map((s) => [s.key, s]));
    this.#options = options;
  }

  /** Creates the queues; any process that sends deliveries (API or worker) needs them. */
  async createQueues(): Promise<void> {
    await this.#jobs.createQueue(DEAD_LETTER_QUEUE, { retryLimit: 0 });
    await this.#jobs.createQueue(DELIVERY_QUEUE, {
      retryLimit: this.#options.retryLimit,
      retryDelay: this.#options.retryDelaySeconds,
      retryBackoff: true,
      retryDelayMax: 3600,
      expireInSeconds: this.#options.expireInSeconds,
      deadLetter: DEAD_LETTER_QUEUE,
    });
  }

  /** Starts the publisher loop and the delivery workers (worker processes only). */
  async start(): Promise<void> {
    await this.#jobs.work<DeliveryJob>(DELIVERY_QUEUE, (job) => this.#deliver(job), {
      concurrency: this.#options.concurrency,
    });
    await this.#jobs.work<DeliveryJob>(DEAD_LETTER_QUEUE, (job) => this.#bury(job));
    this.#timer = setInterval(() => this.nudge(), this.#options.pollIntervalMs);
    this.nudge();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#publishing;
  }

  /** Publishes soon; called after commits in this process and by the poll timer. */
  nudge(): void {
    if (!this.#timer) return;
    if (this.#publishing) {
      this.#again = true;
      return;
    }
    this.#publishing = this.publishPending()
      .catch((error) => this.#logger.error({ err: error }, 'publishing outbox events failed'))
      .finally(() => {
        this.#publishing = null;
        if (this.#again) {
          this.#again = false;
          this.nudge();
        }
      });
  }

  /** One pass over unpublished events; several publishers may run, SKIP LOCKED keeps them apart. */
  async publishPending(): Promise<void> {
    let published = BATCH;
    while (published === BATCH) {
      published = await this.#orm.em.fork().transactional(async (em) => {
        const events = await em.find(
          OutboxEvent,
          { publishedAt: null },
          {
            filters: false,
            orderBy: { occurredAt: 'asc' },
            limit: BATCH,
            lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE,
          },
        );
        const deliveries = events.flatMap((event) =>
          this.#subscribersOf(event.type).map((s) =>
            em.create(EventDelivery, { workspace: event.workspace, event, handler: s.key }),
          ),
        );
        for (const event of events) event.publishedAt = new Date();
        await em.flush();
        for (const delivery of deliveries) {
          await this.#jobs.send(DELIVERY_QUEUE, { deliveryId: delivery.id } satisfies DeliveryJob, { em });
        }
        return events.length;
      });
    }
  }

  #subscribersOf(type: string): RegisteredSubscription[] {
    return [...this.#subscriptions.values()].filter((s) => s.types.has(type) || s.types.has('*'));
  }

  async #deliver(job: Job<DeliveryJob>): Promise<void> {
    const { deliveryId } = job.data;
    try {
      await this.#orm.em.fork().transactional(async (em) => {
        // The row lock serialises a redelivered job with one still running elsewhere.
        const delivery = await em.findOne(
          EventDelivery,
          { id: deliveryId },
          { filters: false, lockMode: LockMode.PESSIMISTIC_WRITE },
        );
        if (!delivery || delivery.status === 'succeeded') return;
        const registered = this.#subscriptions.get(delivery.handler);
        if (!registered) throw new Error(`no handler "${delivery.handler}" is registered in this process`);
        const event = await em.findOneOrFail(OutboxEvent, { id: delivery.event.id }, { filters: false });
        em.setFilterParams(WORKSPACE_FILTER, { id: delivery.workspace });
        await registered.subscription.handle(toDomainEvent(event), {
          ...registered.runtime,
          em,
          idempotencyKey: delivery.id,
          attempt: job.retryCount + 1,
        });
        delivery.status = 'succeeded';
        delivery.attempts += 1;
        delivery.lastError = null;
        delivery.completedAt = new Date();
      });
    } catch (error) {
      await this.#recordFailure(deliveryId, error);
      throw error;
    }
  }

  async #recordFailure(deliveryId: string, error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    this.#logger.warn(
      { deliveryId, err: error },
      'event handler failed; pg-boss will retry or dead-letter it',
    );
    const em = this.#orm.em.fork();
    const delivery = await em.findOne(EventDelivery, { id: deliveryId }, { filters: false });
    if (!delivery) return;
    delivery.attempts += 1;
    delivery.lastError = message.slice(0, 4000);
    await em.flush();
  }

  async #bury(job: Job<DeliveryJob>): Promise<void> {
    const em = this.#orm.em.fork();
    const delivery = await em.findOne(EventDelivery, { id: job.data.deliveryId }, { filters: false });
    if (!delivery || delivery.status === 'succeeded') return;
    delivery.status = 'dead';
    await em.flush();
    this.#logger.error(
      { deliveryId: delivery.id, handler: delivery.handler },
      'event delivery is dead-lettered',
    );
  }
}
