import type { Scheduler } from '../engine/scheduler.ts';
import type { SchedulerEvents } from '../engine/events.ts';

/** The scheduler events the admin API streams. */
export const STREAMED_EVENTS = [
  'run:started',
  'run:progress',
  'run:log',
  'run:finished',
  'tick:skipped',
  'task:paused',
  'task:resumed',
  'task:added',
  'task:updated',
  'task:removed',
] as const satisfies readonly (keyof SchedulerEvents)[];

export type StreamedEventName = (typeof STREAMED_EVENTS)[number];

/** One streamed event: its id, name and JSON payload (dates as ISO strings). */
export interface LoggedEvent {
  readonly id: number;
  readonly event: StreamedEventName;
  readonly data: string;
}

/** How many events a reconnecting client can catch up on. */
export const EVENT_LOG_SIZE = 1_000;

/**
 * The recent scheduler events, numbered, in a ring buffer, so a client that reconnects with
 * `Last-Event-ID` receives exactly what it missed — or is told to start over.
 */
export class EventLog {
  readonly #buffer: (LoggedEvent | undefined)[] = new Array(EVENT_LOG_SIZE);
  readonly #listeners = new Set<(event: LoggedEvent) => void>();
  readonly #off: (() => void)[];
  #nextId = 1;

  constructor(scheduler: Scheduler) {
    this.#off = STREAMED_EVENTS.map((name) => scheduler.on(name, (payload) => this.#append(name, payload)));
  }

  /** The id the next event will get. */
  get nextId(): number {
    return this.#nextId;
  }

  /**
   * Events after `lastId`, oldest first, or null when some of them are no longer held (the
   * client must refetch). An id from the future (a restarted server) also returns null.
   */
  since(lastId: number): LoggedEvent[] | null {
    if (lastId > this.#nextId - 1 || lastId < 0) return null;
    if (this.#nextId - 1 - lastId > EVENT_LOG_SIZE) return null;
    const out: LoggedEvent[] = [];
    for (let id = lastId + 1; id < this.#nextId; id++) out.push(this.#buffer[id % EVENT_LOG_SIZE] as LoggedEvent);
    return out;
  }

  /** Calls `listener` with every new event until the returned function is called. */
  subscribe(listener: (event: LoggedEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    for (const off of this.#off) off();
    this.#listeners.clear();
  }

  #append(name: StreamedEventName, payload: unknown): void {
    const event: LoggedEvent = { id: this.#nextId++, event: name, data: JSON.stringify(payload) };
    this.#buffer[event.id % EVENT_LOG_SIZE] = event;
    for (const listener of this.#listeners) listener(event);
  }
}
