import { setImmediate as realTurn } from 'node:timers';
import { type Clock, createScheduler, memoryStore, type RunRecord, type Scheduler, type SchedulerOptions, type Store } from '../src/index.ts';
import { createTestClock, type TestClock } from '../src/testing/index.ts';

/** A deterministic random source (mulberry32), so backoff jitter is reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Harness {
  readonly clock: TestClock;
  readonly store: Store;
  readonly scheduler: Scheduler;
  /** Every run:started / run:finished / tick:skipped payload, in order. */
  readonly started: RunRecord[];
  readonly finished: RunRecord[];
  readonly skipped: RunRecord[];
  readonly errors: unknown[];
}

export const T0 = Date.parse('2026-01-01T00:00:00Z');

/** A scheduler on a test clock and a memory store, with its events recorded. */
export function harness(options: SchedulerOptions & { readonly clock?: TestClock; readonly startAt?: string } = {}): Harness {
  const { startAt, ...rest } = options;
  const clock = options.clock ?? createTestClock({ start: startAt ?? '2026-01-01T00:00:00Z' });
  const store = options.store ?? memoryStore();
  const scheduler = createScheduler({ random: seededRandom(42), instance: 'test', ...rest, clock, store });
  const h: Harness = { clock, store, scheduler, started: [], finished: [], skipped: [], errors: [] };
  scheduler.on('run:started', (r) => h.started.push(r));
  scheduler.on('run:finished', (r) => h.finished.push(r));
  scheduler.on('tick:skipped', (r) => h.skipped.push(r));
  scheduler.on('error', (e) => h.errors.push(e.error));
  return h;
}

/** All runs of a task (or all tasks), oldest first. */
export async function runsOf(scheduler: Scheduler, task?: string): Promise<RunRecord[]> {
  const out: RunRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await scheduler.historyPage({ ...(task !== undefined ? { task } : {}), limit: 1000, ...(cursor !== undefined ? { cursor } : {}) });
    out.push(...page.runs);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return out.reverse();
}

/** Offsets from T0 in seconds, for compact assertions. */
export const secs = (d: Date | null): number | null => (d === null ? null : (d.getTime() - T0) / 1000);

/** A handler body that takes `ms` of virtual time and honours its abort signal. */
export function work(clock: TestClock, ms: number, result: unknown = null) {
  return async (ctx: { signal: AbortSignal }) => {
    await clock.sleep(ms, ctx.signal);
    return result;
  };
}

/**
 * The test clock, able to wait turn by turn as the system clock does: a scheduler on it claims
 * ahead of an instant and releases the handlers at it (decisions 001 and 036).
 */
export function turningClock(clock: TestClock): Clock {
  return { now: () => clock.now(), monotonic: () => clock.monotonic(), setTimer: (cb, ms, o) => clock.setTimer(cb, ms, o), nextTurn: (cb) => void realTurn(cb) };
}

/** Lets `n` real turns of the event loop pass (a release waits turn by turn before it holds). */
export async function realTurns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => realTurn(resolve));
}

