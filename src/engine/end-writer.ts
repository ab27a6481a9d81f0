import type { FinishOutcome, RunCompletion, Store } from '../store/port.ts';
import type { ErrorContext } from './events.ts';
import { storeBackoff } from './retry.ts';
import { timerEntry, type TimerQueue } from './timer-queue.ts';

/** Most ends in one statement. */
export const MAX_ENDS_PER_WRITE = 1_000;
/**
 * Writes in flight at once, besides the urgent and apart lanes: one. Ends that arrive meanwhile
 * make the next batch. Two in flight made a 100,000-task burst's ends later, not sooner: the
 * store's CPU is what a burst waits for, and a second statement only contends for it (decision 034).
 */
const MAX_WRITES_IN_FLIGHT = 1;
/** A write unanswered after this long (or 4 × its expected time, if longer) gives up its slot. */
const SLOW_WRITE_MS = 5_000;
/** Writes that may wait for an answer beside the one in flight. */
const MAX_SLOW_WRITES = 2;
/** Longest wait between attempts while the store fails. */
const MAX_RECORD_BACKOFF_MS = 5_000;
/** Failures of an end written alone after which it is given up as stuck (see `onStuck`). */
export const STUCK_AFTER_FAILURES = 3;
/** Weight of the latest write in the measured cost of one end. */
const COST_SMOOTHING = 0.3;

/** What the end writer needs from its scheduler. */
export interface EndWriterHost {
  readonly store: Store;
  readonly timers: TimerQueue;
  now(): number;
  /** Elapsed time (never jumps): what writes take is measured with it. */
  monotonic(): number;
  reportError(error: unknown, context: ErrorContext): void;
  /**
   * The store refused this end alone, again and again (too large, a value it cannot hold): its
   * lease should no longer be renewed, so the run lapses and is reaped as if this replica had
   * died, instead of keeping its task busy for ever. The end is still retried.
   */
  onStuck(runId: string): void;
}

interface PendingEnd {
  readonly completion: RunCompletion;
  readonly resolve: (outcome: FinishOutcome) => void;
  /** Refusals of this end alone while the store wrote others: evidence it is this end, not the store. */
  refusals: number;
  /** Writes that had succeeded when this end last failed. */
  writtenAtFailure: number;
}

/**
 * Writes run ends with group commit: an end that arrives while no write is in flight is written
 * at once, so a lone run waits for nothing; ends that arrive while writes are in flight are
 * written together by the next one, up to {@link MAX_ENDS_PER_WRITE} per statement. A burst of
 * 25,000 ends costs 25 statements instead of 25,000 queued behind a pool of four (decision 025).
 *
 * While the store fails, a failed batch goes back to the front in two halves and everything
 * waits out a backoff (each attempt checks every lease anew): a record is delayed by an outage,
 * never lost. An end that fails alone is set apart and retried alone, with a backoff of its own,
 * so an end the store refuses (too large, a value it cannot hold) holds back no other; once it
 * has been refused {@link STUCK_AFTER_FAILURES} times while others were written, `onStuck` lets
 * its lease lapse. Retries end when the timers stop.
 */
export class EndWriter {
  readonly #host: EndWriterHost;
  #pending: PendingEnd[] = [];
  /**
   * Ends of tasks whose next tick is due soon: written in a lane of their own, beside the writes
   * in flight, so a burst's thousands of ends cannot hold one back until that tick's claim finds
   * its run still running (and records the tick skipped).
   */
  #urgent: PendingEnd[] = [];
  #urgentInFlight = false;
  /** Where failed batches are cut in two: the first end of each second half. */
  readonly #split = new Set<PendingEnd>();
  /** Ends that failed alone: written one at a time, after the others. */
  readonly #apart: PendingEnd[] = [];
  #apartInFlight = false;
  #apartWaiting = false;
  #apartBackoffMs = 0;
  #inFlight = 0;
  /** Writes that gave up their slot for want of an answer, still waiting for it. */
  #slowWrites = 0;
  #written = 0;
  #flushScheduled = false;
  #backoffMs = 0;
  #waitingOutBackoff = false;
  /** What writing one end of a batch has taken lately, ms (the writes in flight overlap). */
  #costPerEndMs = 0;

  constructor(host: EndWriterHost) {
    this.#host = host;
  }

  /** Ends written or waiting to be. */
  get size(): number {
    return this.#pending.length + this.#urgent.length + this.#apart.length;
  }

  /**
   * How long the ends waiting now will take to be written, at the pace of the last writes (ms;
   * 0 until a batch has been written): the heartbeat lengthens their leases by it.
   */
  drainMs(): number {
    return (this.size * this.#costPerEndMs) / MAX_WRITES_IN_FLIGHT;
  }

  /**
   * Resolves once the end is recorded (or fenced: the lease was lost). Never rejects. `urgent`:
   * its task is due again soon; it is written ahead of the others.
   */
  write(completion: RunCompletion, urgent = false): Promise<FinishOutcome> {
    return new Promise((resolve) => {
      (urgent ? this.#urgent : this.#pending).push({ completion, resolve, refusals: 0, writtenAtFailure: this.#written });
      this.#scheduleFlush();
    });
  }

  /** Ends settled in one turn of the event loop go out together. */
  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#urgent.length > 0 && !this.#urgentInFlight && !this.#waitingOutBackoff) {
      this.#urgentInFlight = true;
      this.#write(this.#urgent.splice(0, MAX_ENDS_PER_WRITE), true);
    }
    while (this.#pending.length > 0 && this.#inFlight < MAX_WRITES_IN_FLIGHT && !this.#waitingOutBackoff) {
      // A batch that failed is written again only up to the middle mark it left.
      let size = Math.min(MAX_ENDS_PER_WRITE, this.#pending.length);
      this.#split.delete(this.#pending[0] as PendingEnd);
      for (let i = 1; i < size; i++) {
        if (this.#split.delete(this.#pending[i] as PendingEnd)) {
          size = i;
          break;
        }
      }
      this.#write(this.#pending.splice(0, size));
    }
    if (this.#apart.length > 0 && !this.#apartInFlight && !this.#apartWaiting && !this.#waitingOutBackoff) {
      this.#writeApart(this.#apart.shift() as PendingEnd);
    }
  }

  #write(batch: PendingEnd[], urgent = false): void {
    if (!urgent) this.#inFlight++;
    // A write with no answer (a lost connection, a lock wait) gives up its slot after a while, so
    // the ends behind it are written meanwhile; its own ends wait for its answer (it may commit),
    // and at most MAX_SLOW_WRITES do so at once, so a store that hangs for all is not flooded.
    let released = false;
    const slow = timerEntry(() => {
      // Too many wait already: asked again later (one of them may have been answered by then).
      if (this.#slowWrites >= MAX_SLOW_WRITES) {
        this.#host.timers.after(slow, SLOW_WRITE_MS);
        return;
      }
      released = true;
      this.#slowWrites++;
      this.#inFlight--;
      this.#scheduleFlush();
    });
    if (!urgent) this.#host.timers.after(slow, Math.max(SLOW_WRITE_MS, 4 * this.#costPerEndMs * batch.length));
    const landed = () => {
      this.#host.timers.cancel(slow);
      if (urgent) this.#urgentInFlight = false;
      else if (released) this.#slowWrites--;
      else this.#inFlight--;
    };
    const sentAt = this.#host.monotonic();
    this.#host.store.finishMany(batch.map((p) => p.completion), this.#host.now()).then(
      (outcomes) => {
        landed();
        this.#written++;
        const perEnd = (this.#host.monotonic() - sentAt) / batch.length;
        this.#costPerEndMs = this.#costPerEndMs === 0 ? perEnd : (1 - COST_SMOOTHING) * this.#costPerEndMs + COST_SMOOTHING * perEnd;
        this.#backoffMs = 0;
        batch.forEach((p, i) => p.resolve(outcomes[i] ?? { kind: 'fenced' }));
        this.#scheduleFlush();
      },
      (error: unknown) => {
        landed();
        this.#host.reportError(error, 'store');
        if (batch.length > 1) {
          // Back at the front, in order, in halves: if one end is what the store refuses, the
          // halves without it get through, and it ends up alone.
          this.#pending = [...batch, ...this.#pending];
          this.#split.add(batch[Math.ceil(batch.length / 2)] as PendingEnd);
        } else {
          this.#setApart(batch[0] as PendingEnd);
        }
        // Everything waits out the backoff together: the store may be down for all.
        this.#waitingOutBackoff = true;
        this.#backoffMs = this.#waitOut(this.#backoffMs, () => (this.#waitingOutBackoff = false));
      },
    );
  }

  #writeApart(end: PendingEnd): void {
    this.#apartInFlight = true;
    this.#host.store.finishMany([end.completion], this.#host.now()).then(
      ([outcome]) => {
        this.#apartInFlight = false;
        this.#written++;
        this.#apartBackoffMs = 0;
        end.resolve(outcome ?? { kind: 'fenced' });
        this.#scheduleFlush();
      },
      (error: unknown) => {
        this.#apartInFlight = false;
        this.#host.reportError(error, 'store');
        this.#setApart(end);
        // Only the ends set apart wait: the others are being written meanwhile.
        this.#apartWaiting = true;
        this.#apartBackoffMs = this.#waitOut(this.#apartBackoffMs, () => (this.#apartWaiting = false));
      },
    );
  }

  /** Waits out the next step of a backoff (returned), then calls `done` and flushes. */
  #waitOut(backoffMs: number, done: () => void): number {
    const next = storeBackoff(backoffMs, MAX_RECORD_BACKOFF_MS);
    this.#host.timers.after(
      timerEntry(() => {
        done();
        this.#scheduleFlush();
      }),
      next,
    );
    return next;
  }

  /** An end that failed alone: to the back of the ends set apart. */
  #setApart(end: PendingEnd): void {
    if (this.#written !== end.writtenAtFailure && ++end.refusals === STUCK_AFTER_FAILURES) this.#host.onStuck(end.completion.runId);
    end.writtenAtFailure = this.#written;
    this.#apart.push(end);
  }
}
