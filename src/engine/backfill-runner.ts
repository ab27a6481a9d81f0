import { backfillIdOf, backfillSlot } from '../store/backfills.ts';
import type { ActiveBackfill, ClaimOutcome } from '../store/port.ts';
import type { EngineContext } from './context.ts';
import type { JobRouter } from './job-router.ts';
import type { Job, TaskRuntime } from './task-runtime.ts';
import { type ElapsedEntry, timerEntry } from './timer-queue.ts';

/**
 * With `overlap: 'allow'`, how many of one backfill's instants an instance claims at once (the
 * task's `maxConcurrent`, less one left for live ticks, bounds it across instances).
 */
export const BACKFILL_MAX_PARALLEL = 8;
/**
 * A backfill run starts only if it is likely to end before the task's next live tick: its last run's
 * duration times this, plus {@link LIVE_TICK_MARGIN_MS}. Otherwise it waits until the live tick has
 * been claimed, so live ticks are never crowded out (with `skip`, they would be recorded skipped).
 */
const LIVE_TICK_ROOM = 1.5;
const LIVE_TICK_MARGIN_MS = 1_000;

/** One backfill this instance takes part in. */
interface Drive {
  readonly id: string;
  readonly task: string;
  readonly instants: readonly number[];
  /** The index of the first instant this instance has not yet tried to claim. */
  next: number;
  /** Indexes whose claim or run is in progress here, with the run's id once started. */
  readonly inFlight: Map<number, string | null>;
  /** Indexes that found the task busy, to claim again (first) at the next wake. */
  readonly waiting: number[];
  /** Set once `next` was found from the store (instants claimed before are skipped). */
  located: boolean;
  /** When (monotonic) this instance learned of it: a poll sent before then does not know it yet. */
  readonly knownAt: number;
  /** Asking the store to close it is in flight. */
  finishing: boolean;
  /** When (ms) this instance started each of its runs, and how long the last one took. */
  readonly startedAt: Map<number, number>;
  lastRunMs: number;
  /**
   * The live tick it held back for since its last run started; once that instant has passed, the
   * next run goes whatever comes next (no starving). Null when it has not held back.
   */
  yieldedTo: number | null;
}

/**
 * Runs backfills: each of a backfill's instants is claimed in its own slot (`b:<id>:<ms>`), so
 * it runs once across instances, with `overlap: 'wait'`, so one runs at a time (or up to
 * `maxConcurrent` with `allow`) and an instant that finds the task busy is tried again when a
 * run ends, never recorded skipped. Every instance that runs the task takes part; whichever
 * finds nothing left to claim and nothing running closes it.
 */
export class BackfillRunner {
  readonly #ctx: EngineContext;
  readonly #jobs: () => JobRouter;
  readonly #abort: (runId: string) => void;
  readonly #drives = new Map<string, Drive>();
  /** Wakes set for after a live tick, by backfill. */
  readonly #wakes = new Map<string, ElapsedEntry>();

  constructor(ctx: EngineContext, jobs: () => JobRouter, abort: (runId: string) => void) {
    this.#ctx = ctx;
    this.#jobs = jobs;
    this.#abort = abort;
  }

  /**
   * What a poll reported: joins new backfills of tasks that run here, drops those that ended
   * (done or cancelled elsewhere), and wakes those waiting for the task to be free.
   */
  sync(active: readonly ActiveBackfill[], sentAt: number): void {
    const listed = new Set<string>();
    for (const backfill of active) {
      listed.add(backfill.id);
      if (!this.#drives.has(backfill.id)) this.join(backfill);
    }
    for (const drive of [...this.#drives.values()]) {
      if (!listed.has(drive.id) && drive.knownAt < sentAt) this.drop(drive.id);
    }
    this.wakeAll();
  }

  /** Takes part in a backfill (the one just requested here, or one a poll reported). */
  join(backfill: ActiveBackfill): void {
    const runtime = this.#ctx.tasks.get(backfill.task);
    if (runtime?.state !== 'active' || this.#drives.has(backfill.id) || !this.#ctx.running()) return;
    const drive: Drive = {
      id: backfill.id,
      task: backfill.task,
      instants: backfill.instants,
      next: 0,
      inFlight: new Map(),
      waiting: [],
      located: false,
      knownAt: this.#ctx.clock.monotonic(),
      finishing: false,
      startedAt: new Map(),
      lastRunMs: 0,
      yieldedTo: null,
    };
    this.#drives.set(drive.id, drive);
    this.#locate(drive);
  }

  /** Leaves a backfill (it ended, or was cancelled): its runs here are cancelled. */
  drop(id: string): void {
    const drive = this.#drives.get(id);
    if (drive === undefined) return;
    this.#drives.delete(id);
    const wake = this.#wakes.get(id);
    if (wake !== undefined) this.#ctx.timers.cancel(wake);
    this.#wakes.delete(id);
    for (const runId of drive.inFlight.values()) if (runId !== null) this.#abort(runId);
  }

  /** A run of the task ended here: a backfill waiting for the task may claim again. */
  wake(runtime: TaskRuntime): void {
    for (const drive of this.#drives.values()) if (drive.task === runtime.name) this.#pump(drive);
  }

  wakeAll(): void {
    for (const drive of [...this.#drives.values()]) {
      this.#pump(drive);
      this.#finishIfDone(drive);
    }
  }

  /** Stops taking part in anything (the scheduler stops); unclaimed instants stay for others. */
  clear(): void {
    this.#drives.clear();
    for (const entry of this.#wakes.values()) this.#ctx.timers.cancel(entry);
    this.#wakes.clear();
  }

  /** A claim for one of the backfills' instants was answered. */
  claimed(job: Job, outcome: ClaimOutcome): void {
    const found = this.#find(job);
    if (found === null) {
      // The backfill ended while the claim was in flight: what it started is cancelled.
      // (After the run is set up: the router starts it once this returns.)
      if (outcome.kind === 'started') queueMicrotask(() => this.#abort(outcome.run.id));
      return;
    }
    const [drive, index] = found;
    switch (outcome.kind) {
      case 'started':
        drive.inFlight.set(index, outcome.run.id);
        drive.startedAt.set(index, this.#ctx.clock.monotonic());
        drive.yieldedTo = null;
        return;
      case 'busy':
        drive.inFlight.delete(index);
        drive.waiting.push(index);
        drive.waiting.sort((a, b) => a - b);
        return;
      default:
        // Taken (another instance has it), or recorded: the next one may go.
        drive.inFlight.delete(index);
        this.#pump(drive);
        this.#finishIfDone(drive);
    }
  }

  /** A backfill run started here ended (its end is written, or its lease was lost). */
  ended(job: Job): void {
    const found = this.#find(job);
    if (found === null) return;
    const [drive, index] = found;
    drive.inFlight.delete(index);
    const started = drive.startedAt.get(index);
    if (started !== undefined) drive.lastRunMs = this.#ctx.clock.monotonic() - started;
    drive.startedAt.delete(index);
    this.#pump(drive);
    this.#finishIfDone(drive);
  }

  #find(job: Job): [Drive, number] | null {
    const id = backfillIdOf(job.slot);
    const drive = id === null ? undefined : this.#drives.get(id);
    if (drive === undefined) return null;
    const index = binarySearch(drive.instants, job.scheduledFor);
    return index < 0 || job.attempt !== 1 ? null : [drive, index];
  }

  /** Finds the first instant nobody claimed yet, so a late joiner does not claim each one to learn it was taken. */
  #locate(drive: Drive): void {
    const slots = drive.instants.map((instant) => ({ task: drive.task, slot: backfillSlot(drive.id, instant), attempt: 1 }));
    const located = this.#ctx.track(this.#ctx.store.unclaimed(slots)).then((free) => {
      if (this.#drives.get(drive.id) !== drive) return;
      const first = free.indexOf(true);
      drive.next = first < 0 ? drive.instants.length : first;
      drive.located = true;
      this.#pump(drive);
      this.#finishIfDone(drive);
    });
    located.catch((error: unknown) => {
      this.#ctx.reportError(error, 'store');
      // Tried again at the next poll, which lists it again.
      this.#drives.delete(drive.id);
    });
  }

  /** Claims as many instants as the task's overlap policy lets run at once, leaving room for live ticks. */
  #pump(drive: Drive): void {
    const runtime = this.#ctx.tasks.get(drive.task);
    if (!drive.located || runtime?.state !== 'active' || runtime.paused || !this.#ctx.running()) return;
    const policy = runtime.policy;
    const parallel = policy.overlap === 'allow' ? Math.max(1, Math.min(policy.maxConcurrent - 1, BACKFILL_MAX_PARALLEL)) : 1;
    const now = this.#ctx.clock.now();
    if (drive.inFlight.size < parallel && this.#liveTickSoon(drive, runtime, now)) return;
    while (drive.inFlight.size < parallel) {
      const index = drive.waiting.length > 0 ? (drive.waiting.shift() as number) : drive.next < drive.instants.length ? drive.next++ : -1;
      if (index < 0) break;
      drive.inFlight.set(index, null);
      const instant = drive.instants[index] as number;
      this.#jobs().submit(runtime, { slot: backfillSlot(drive.id, instant), trigger: 'backfill', scheduledFor: instant, dueAt: now, overlap: 'wait' });
    }
  }

  /**
   * True (and a wake set for after it) when the task's next live tick is due before a backfill run
   * started now would likely end: the live tick goes first.
   */
  #liveTickSoon(drive: Drive, runtime: TaskRuntime, now: number): boolean {
    if (runtime.nextTick === null) return false;
    // Having let one live tick go first, it takes its turn: a task ticking faster than a backfill
    // run lasts alternates between the two instead of never backfilling.
    if (drive.yieldedTo !== null && now >= drive.yieldedTo) return false;
    const liveDue = runtime.dueAt(runtime.nextTick);
    if (liveDue - now > drive.lastRunMs * LIVE_TICK_ROOM + LIVE_TICK_MARGIN_MS) return false;
    drive.yieldedTo = liveDue;
    if (!this.#wakes.has(drive.id)) {
      const entry = timerEntry(() => {
        this.#wakes.delete(drive.id);
        // The live tick is claimed by now (at its instant): a claim of the backfill waits for its run.
        if (this.#drives.get(drive.id) === drive) this.#pump(drive);
      });
      this.#wakes.set(drive.id, entry);
      this.#ctx.timers.atWall(entry, liveDue + LIVE_TICK_MARGIN_MS);
    }
    return true;
  }

  /** Nothing left to claim and nothing of it running here: ask the store to close it. */
  #finishIfDone(drive: Drive): void {
    if (!drive.located || drive.finishing || drive.next < drive.instants.length || drive.inFlight.size > 0 || drive.waiting.length > 0) return;
    drive.finishing = true;
    const ended = this.#ctx.track(this.#ctx.store.endBackfill(drive.id, 'done', this.#ctx.clock.now())).then((result) => {
      drive.finishing = false;
      // `busy`: a run of it goes on elsewhere; its instance closes it, or this one at a later poll.
      if (result !== 'busy') this.#drives.delete(drive.id);
    });
    ended.catch((error: unknown) => {
      drive.finishing = false;
      this.#ctx.reportError(error, 'store');
    });
  }
}

function binarySearch(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const at = sorted[mid] as number;
    if (at === value) return mid;
    if (at < value) low = mid + 1;
    else high = mid - 1;
  }
  return -1;
}
