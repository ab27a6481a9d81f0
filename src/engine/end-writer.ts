import type { FinishOutcome, RunCompletion, Store } from '../store/port.ts';
import type { ErrorContext } from './events.ts';
import { storeBackoff } from './retry.ts';
import { timerEntry, type TimerQueue } from './timer-queue.ts';

/** Most ends in one statement. */
export const MAX_ENDS_PER_WRITE = 1_000;
/** Writes in flight at once: one fills while the other is on its way. */
const MAX_WRITES_IN_FLIGHT = 2;
/** Longest wait between attempts while the store fails. */
const MAX_RECORD_BACKOFF_MS = 5_000;

/** What the end writer needs from its scheduler. */
export interface EndWriterHost {
  readonly store: Store;
  readonly timers: TimerQueue;
  now(): number;
  reportError(error: unknown, context: ErrorContext): void;
}

interface PendingEnd {
  readonly completion: RunCompletion;
  readonly resolve: (outcome: FinishOutcome) => void;
}

/**
 * Writes run ends with group commit: an end that arrives while no write is in flight is written
 * at once, so a lone run waits for nothing; ends that arrive while writes are in flight are
 * written together by the next one, up to {@link MAX_ENDS_PER_WRITE} per statement. A burst of
 * 25,000 ends costs 25 statements instead of 25,000 queued behind a pool of four (decision 025).
 * While the store fails, the batch is retried with backoff (each attempt checks every lease
 * anew): a record is delayed by an outage, never lost. Retries end when the timers stop.
 */
export class EndWriter {
  readonly #host: EndWriterHost;
  #pending: PendingEnd[] = [];
  #inFlight = 0;
  #flushScheduled = false;
  #backoffMs = 0;
  #waitingOutBackoff = false;

  constructor(host: EndWriterHost) {
    this.#host = host;
  }

  /** Ends written or waiting to be. */
  get size(): number {
    return this.#pending.length;
  }

  /** Resolves once the end is recorded (or fenced: the lease was lost). Never rejects. */
  write(completion: RunCompletion): Promise<FinishOutcome> {
    return new Promise((resolve) => {
      this.#pending.push({ completion, resolve });
      this.#scheduleFlush();
    });
  }

  /** Ends settled in one turn of the event loop go out together. */
  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#waitingOutBackoff) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    while (this.#pending.length > 0 && this.#inFlight < MAX_WRITES_IN_FLIGHT && !this.#waitingOutBackoff) {
      const batch = this.#pending.splice(0, MAX_ENDS_PER_WRITE);
      this.#inFlight++;
      const completions = batch.map((p) => p.completion);
      this.#host.store.finishMany(completions, this.#host.now()).then(
        (outcomes) => {
          this.#inFlight--;
          this.#backoffMs = 0;
          batch.forEach((p, i) => p.resolve(outcomes[i] ?? { kind: 'fenced' }));
          this.#scheduleFlush();
        },
        (error: unknown) => {
          this.#inFlight--;
          this.#host.reportError(error, 'store');
          // Back at the front, in order; everything waits out the backoff together.
          this.#pending = [...batch, ...this.#pending];
          this.#backoffMs = storeBackoff(this.#backoffMs, MAX_RECORD_BACKOFF_MS);
          this.#waitingOutBackoff = true;
          this.#host.timers.after(
            timerEntry(() => {
              this.#waitingOutBackoff = false;
              this.#scheduleFlush();
            }),
            this.#backoffMs,
          );
        },
      );
    }
  }
}
