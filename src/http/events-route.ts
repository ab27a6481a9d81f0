import type { ServerResponse } from 'node:http';
import type { Context } from 'hono';
import { type SSEStreamingApi, streamSSE } from 'hono/streaming';
import type { EventLog, LoggedEvent } from './event-log.ts';

/** A comment line this often keeps proxies and browsers from closing an idle stream. */
const KEEP_ALIVE_MS = 15_000;

/**
 * Events waiting for one client's socket beyond which the client is dropped if its socket has
 * also taken nothing for `STALL_MS`. A burst (hundreds of tasks due at one instant) queues this
 * many in one turn for a client that reads at full speed: the bound alone says nothing, a write
 * that does not finish does. 256 is a quarter of the event log (1,000), so a dropped client that
 * reconnects soon still gets everything it missed, not a reset.
 */
export const MAX_QUEUED_EVENTS = 256;
/**
 * The same bound in characters of event data (about bytes): run outputs can be large, and a few
 * stalled clients must not hold many megabytes each. One event always fits, whatever its size.
 */
export const MAX_QUEUED_CHARS = 1024 * 1024;
/** How long a write may wait for the socket, with the queue over the bound, before the client is dropped. */
export const STALL_MS = 3_000;
/**
 * Beyond these the client is dropped at once, writing or not, so what one client holds stays
 * bounded whatever its socket does. A queue holds references to events shared with the log and
 * every other client: their data is what it can keep alive, hence ten times the character bound.
 * A count bound a hundred times the soft one only bounds the references: 2,000 tasks due at one
 * instant queue over 2,560 events (1.3 MB) before a reading client's writer has had a turn.
 */
export const HARD_MAX_QUEUED_EVENTS = 100 * MAX_QUEUED_EVENTS;
export const HARD_MAX_QUEUED_CHARS = 10 * MAX_QUEUED_CHARS;

interface Client {
  readonly stream: SSEStreamingApi;
  /** The Node response under the stream, when served by Node: ending it is the only way to free a stalled socket. */
  readonly raw: ServerResponse | undefined;
  readonly queue: LoggedEvent[];
  chars: number;
  /** A write is waiting for the socket to drain. */
  writing: boolean;
  /** When the write under way began (`EventStreams` clock). */
  writingSince: number;
  ended: boolean;
  wake: (() => void) | null;
  off: () => void;
}

function nodeResponse(env: unknown): ServerResponse | undefined {
  const outgoing = (env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  return typeof outgoing?.destroy === 'function' ? outgoing : undefined;
}

/** The stream's loop returns and its response ends; the keep-alive connection under it must go too, or a closing server waits for it. */
function closeAfterResponse(raw: ServerResponse | undefined): void {
  const socket = raw?.socket;
  raw?.once('finish', () => socket?.destroySoon());
}

/**
 * `GET /api/events`: server-sent events. A client that reconnects with `Last-Event-ID` gets
 * the events it missed, in order, without duplicates; when they are no longer held it gets
 * `reset` and refetches. A new client first gets `ready`, whose id it resumes from.
 * Each client's queue is bounded: one that stops reading is dropped (its stream ends) and
 * resumes from the log when it reconnects; one that reads does not lose a burst.
 */
export class EventStreams {
  readonly #log: EventLog;
  readonly #instance: string;
  readonly #now: () => number;
  readonly #clients = new Set<Client>();
  #closed = false;
  #dropped = 0;

  /** `now`: monotonic milliseconds, for how long a write has waited (tests pass their own). */
  constructor(log: EventLog, instance: string, options: { readonly now?: () => number } = {}) {
    this.#log = log;
    this.#instance = instance;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Streams open now. */
  get open(): number {
    return this.#clients.size;
  }

  /** Streams ended because their client fell behind. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Ends every open stream and the connection under it, so a server that is closing need not wait
   * for them; streams requested later end at once.
   */
  close(): void {
    this.#closed = true;
    for (const client of this.#clients) {
      this.#forget(client);
      if (client.writing) this.#cut(client);
      else closeAfterResponse(client.raw);
    }
  }

  respond(c: Context): Response {
    const header = c.req.header('last-event-id');
    const resumeFrom = header === undefined || !/^\d+$/.test(header) ? null : Number(header);
    const raw = nodeResponse(c.env);
    return streamSSE(c, async (stream) => {
      if (this.#closed) {
        closeAfterResponse(raw);
        return;
      }
      const client: Client = { stream, raw, queue: [], chars: 0, writing: false, writingSince: 0, ended: false, wake: null, off: () => {} };
      this.#clients.add(client);
      stream.onAbort(() => this.#forget(client));
      // Subscribing and reading the backlog happen in one synchronous step: no event falls between.
      client.off = this.#log.subscribe((event) => this.#enqueue(client, event));
      const missed = resumeFrom === null ? null : this.#log.since(resumeFrom);
      const head = this.#log.nextId - 1;
      try {
        await this.#pump(client, resumeFrom, missed, head);
      } finally {
        this.#forget(client);
      }
    });
  }

  async #pump(client: Client, resumeFrom: number | null, missed: readonly LoggedEvent[] | null, head: number): Promise<void> {
    const write = async (message: Parameters<SSEStreamingApi['writeSSE']>[0] | string) => {
      client.writing = true;
      client.writingSince = this.#now();
      try {
        await (typeof message === 'string' ? client.stream.write(message) : client.stream.writeSSE(message));
      } finally {
        client.writing = false;
      }
    };
    let lastSent = resumeFrom ?? head;
    const send = async (event: LoggedEvent) => {
      if (event.id <= lastSent || client.ended) return;
      await write({ id: String(event.id), event: event.event, data: event.data });
      lastSent = event.id;
    };
    if (missed === null) {
      await write({ event: resumeFrom === null ? 'ready' : 'reset', id: String(head), data: JSON.stringify({ instance: this.#instance, lastEventId: head }) });
      lastSent = head;
    }
    // The backlog (at most the log's 1,000 events, shared with it) is written as it is read, outside
    // the bounded queue: a resuming client is judged by how it keeps up with new events.
    for (const event of missed ?? []) await send(event);
    while (!client.ended) {
      const event = client.queue.shift();
      if (event !== undefined) {
        client.chars -= event.data.length;
        await send(event);
        continue;
      }
      const timedOut = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(true), KEEP_ALIVE_MS);
        client.wake = () => {
          clearTimeout(timer);
          resolve(false);
        };
      });
      client.wake = null;
      if (timedOut && !client.ended) await write(': keep-alive\n\n');
    }
  }

  #enqueue(client: Client, event: LoggedEvent): void {
    client.queue.push(event);
    client.chars += event.data.length;
    if (this.#fallenBehind(client)) {
      this.#dropped++;
      this.#forget(client);
      this.#cut(client);
    } else client.wake?.();
  }

  /** Over the bound with a write stuck for `STALL_MS`, or over the hard bound. */
  #fallenBehind(client: Client): boolean {
    const { length } = client.queue;
    if (length <= 1) return false;
    if (length > HARD_MAX_QUEUED_EVENTS || client.chars > HARD_MAX_QUEUED_CHARS) return true;
    if (length <= MAX_QUEUED_EVENTS && client.chars <= MAX_QUEUED_CHARS) return false;
    return client.writing && this.#now() - client.writingSince >= STALL_MS;
  }

  /** Stops feeding a client and releases what it holds; its loop returns at the next step. */
  #forget(client: Client): void {
    if (client.ended) return;
    client.ended = true;
    this.#clients.delete(client);
    client.off();
    client.queue.length = 0;
    client.chars = 0;
    client.wake?.();
  }

  /** Ends a stream whose socket takes nothing more: a graceful end would wait behind the stalled write forever. */
  #cut(client: Client): void {
    client.raw?.destroy();
    client.stream.abort();
  }
}
