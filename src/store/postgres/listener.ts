import type { Pool, PoolClient } from 'pg';
import type { StoreSignal } from '../port.ts';

const SIGNALS: ReadonlySet<string> = new Set(['trigger', 'cancel', 'pause']);
/** Like claims: a server that comes back is listened to again within this. */
const MAX_BACKOFF_MS = 5_000;

/**
 * Holds one connection in LISTEN on the schema's channel and passes notifications on. When the
 * connection drops it reconnects with backoff, and signals once after reconnecting, so whatever
 * was notified in between is found by a poll.
 */
export class Listener {
  readonly #pool: Pool;
  readonly #channel: string;
  readonly #onSignal: (signal: StoreSignal) => void;
  #client: PoolClient | null = null;
  #retry: NodeJS.Timeout | null = null;
  #backoffMs = 500;
  #stopped = false;

  constructor(pool: Pool, schema: string, onSignal: (signal: StoreSignal) => void) {
    this.#pool = pool;
    this.#channel = `caretaker.${schema}`;
    this.#onSignal = onSignal;
  }

  /** Starts listening; a failure to connect is retried with backoff, never thrown. */
  start(): void {
    this.#stopped = false;
    this.#connect().catch(() => this.#scheduleReconnect());
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#retry = null;
    const client = this.#client;
    this.#client = null;
    if (client === null) return;
    client.removeAllListeners('notification');
    try {
      await client.query(`UNLISTEN "${this.#channel}"`);
      client.release();
    } catch {
      client.release(true);
    }
  }

  async #connect(): Promise<void> {
    const client = await this.#pool.connect();
    client.on('notification', (message) => {
      if (message.channel === this.#channel && SIGNALS.has(message.payload ?? '')) this.#onSignal(message.payload as StoreSignal);
    });
    client.on('error', () => this.#lost(client));
    await client.query(`LISTEN "${this.#channel}"`);
    if (this.#stopped) {
      client.release();
      return;
    }
    this.#client = client;
    this.#backoffMs = 500;
  }

  #lost(client: PoolClient): void {
    if (this.#client !== client) return;
    this.#client = null;
    client.release(true);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#stopped || this.#retry !== null) return;
    this.#retry = setTimeout(() => {
      this.#retry = null;
      this.#connect().then(
        () => this.#onSignal('trigger'),
        () => this.#scheduleReconnect(),
      );
    }, this.#backoffMs);
    this.#retry.unref();
    this.#backoffMs = Math.min(MAX_BACKOFF_MS, this.#backoffMs * 2);
  }
}
