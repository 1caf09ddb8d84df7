import { EventEmitter, on } from 'node:events';
import pg from 'pg';
import type { Logger } from './logger.ts';

/**
 * Live notices for subscriptions (a new message, typing): small, best effort, after commit.
 * Subscribers re-read what a notice names, so a missed notice costs freshness, never data.
 */
export interface LiveBus {
  publish(topic: string, payload: Record<string, unknown>): Promise<void>;
  /** Notices on `topic` until `signal` aborts. */
  subscribe(topic: string, signal: AbortSignal): AsyncIterable<Record<string, unknown>>;
  close(): Promise<void>;
}

const CHANNEL = 'atrium_live';
/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; notices carry ids, not bodies. */
const MAX_PAYLOAD = 7900;

/** One process: the embedded database has a single connection, which LISTEN cannot hold. */
export class LocalLiveBus implements LiveBus {
  protected readonly emitter = new EventEmitter({ captureRejections: false });

  constructor() {
    // Every open subscription listens on the emitter: many agents are not a leak.
    this.emitter.setMaxListeners(0);
  }

  async publish(topic: string, payload: Record<string, unknown>): Promise<void> {
    this.emitter.emit(topic, payload);
  }

  async *subscribe(topic: string, signal: AbortSignal): AsyncIterable<Record<string, unknown>> {
    try {
      for await (const [payload] of on(this.emitter, topic, { signal })) yield payload;
    } catch (error) {
      if ((error as Error).name !== 'AbortError') throw error;
    }
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}

/**
 * Across processes through PostgreSQL NOTIFY: the worker's status update reaches the API
 * process that holds the agent's subscription. One LISTEN connection per process.
 */
export class PostgresLiveBus extends LocalLiveBus {
  readonly #databaseUrl: string;
  readonly #publisher: pg.Pool;
  readonly #logger: Logger;
  #listener: pg.Client | null = null;
  #closed = false;
  #retry: NodeJS.Timeout | null = null;

  private constructor(databaseUrl: string, logger: Logger) {
    super();
    this.#databaseUrl = databaseUrl;
    this.#publisher = new pg.Pool({ connectionString: databaseUrl, max: 2, application_name: 'atrium-live' });
    // An idle connection the server closed (a restart, a failover) must not crash the process.
    this.#publisher.on('error', (error) =>
      this.#logger.warn({ err: error }, 'live notice publisher lost a connection'),
    );
    this.#logger = logger;
  }

  static async connect(databaseUrl: string, logger: Logger): Promise<PostgresLiveBus> {
    const bus = new PostgresLiveBus(databaseUrl, logger);
    await bus.#listen();
    return bus;
  }

  /**
   * Opens the LISTEN connection; when it is lost, opens a new one after a second (and again,
   * until it works), so subscriptions keep getting notices after a database restart. Notices sent
   * while it was away are missed, which subscribers tolerate: they re-read on the next notice.
   */
  async #listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#databaseUrl, application_name: 'atrium-live' });
    client.on('notification', (message) => {
      if (message.channel !== CHANNEL || !message.payload) return;
      try {
        const { topic, payload } = JSON.parse(message.payload) as {
          topic: string;
          payload: Record<string, unknown>;
        };
        this.emitter.emit(topic, payload);
      } catch (error) {
        this.#logger.warn({ err: error }, 'ignored a malformed live notice');
      }
    });
    const lost = (error?: Error) => {
      if (this.#closed || this.#listener !== client) return;
      this.#listener = null;
      this.#logger.warn({ err: error }, 'live notice connection lost; reconnecting');
      client.end().catch(() => {});
      this.#retry = setTimeout(() => this.#reconnect(), 1000);
    };
    client.on('error', lost);
    client.on('end', () => lost());
    this.#listener = client;
    await client.connect();
    await client.query(`listen ${CHANNEL}`);
  }

  #reconnect(): void {
    this.#retry = null;
    if (this.#closed) return;
    this.#listen().catch((error) => {
      this.#listener = null;
      this.#logger.warn({ err: error }, 'live notice connection failed; retrying');
      if (!this.#closed) this.#retry = setTimeout(() => this.#reconnect(), 1000);
    });
  }

  override async publish(topic: string, payload: Record<string, unknown>): Promise<void> {
    const text = JSON.stringify({ topic, payload });
    if (Buffer.byteLength(text) > MAX_PAYLOAD) throw new Error(`live notice on ${topic} is too large`);
    await this.#publisher.query('select pg_notify($1, $2)', [CHANNEL, text]);
  }

  override async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    await super.close();
    await this.#listener?.end().catch(() => {});
    await this.#publisher.end().catch(() => {});
  }
}
