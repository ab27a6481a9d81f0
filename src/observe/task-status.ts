import type { Scheduler } from '../engine/scheduler.ts';
import type { TaskInfo } from '../engine/task.ts';
import type { RunRecord } from '../store/records.ts';
import { isStale } from './staleness.ts';

/** How many recent runs a task's status carries (trend and success rate). */
export const RECENT_RUNS = 50;
/** Store reads for one task's status are reused for this long: scrapes, probes and dashboards share them. */
const CACHE_MS = 2_000;

/** A task as the store knows it, across all instances, beside what this scheduler knows. */
export interface TaskStatus {
  readonly info: TaskInfo;
  /** Newest record of the task (any instance), skipped ticks included. */
  readonly lastRun: RunRecord | null;
  readonly lastSuccessAt: Date | null;
  readonly stale: boolean;
  /** Runs in progress on any instance. */
  readonly running: readonly RunRecord[];
  /** Up to {@link RECENT_RUNS} runs that were not skipped, oldest first. */
  readonly recent: readonly RunRecord[];
  /** The ticks of `recent` (see {@link tickOutcomes}). */
  readonly ticks: TickOutcomes;
  /** `ticks.succeeded / ticks.finished`; null when no tick finished. */
  readonly successRate: number | null;
}

/** How the ticks (task, slot) among some runs ended. */
export interface TickOutcomes {
  /** Ticks whose last attempt ended and will not be retried. */
  readonly finished: number;
  /** Finished ticks whose last attempt succeeded. */
  readonly succeeded: number;
}

/**
 * Counts ticks, not attempts: a tick that failed once and succeeded on retry is one success,
 * since that is what the schedule asked for and got. A tick is decided by its last attempt
 * (the one with the highest `attempt`); it has not finished while that attempt runs or while a
 * retry of it is due (`retryAt` set). A person's retry (`retry RUN`) has a slot of its own but
 * redoes the tick of the run it names (`causedBy`), so it counts as that tick's next attempt.
 */
export function tickOutcomes(runs: readonly RunRecord[]): TickOutcomes {
  const byId = new Map(runs.map((run) => [run.id, run]));
  const tickOf = (run: RunRecord): string => {
    let origin = run;
    // Follows retries of retries back to the tick; bounded in case of a cycle in bad data.
    for (let hops = 0; origin.trigger === 'retry' && origin.causedBy !== null && hops < 100; hops++) {
      const cause = byId.get(origin.causedBy);
      if (cause === undefined) break;
      origin = cause;
    }
    return `${origin.task}\u0000${origin.slot}`;
  };
  const last = new Map<string, RunRecord>();
  for (const run of runs) {
    if (run.status === 'skipped') continue;
    const key = tickOf(run);
    const seen = last.get(key);
    if (seen === undefined || run.attempt > seen.attempt) last.set(key, run);
  }
  let finished = 0;
  let succeeded = 0;
  for (const run of last.values()) {
    if (run.status === 'running' || run.retryAt !== null) continue;
    finished++;
    if (run.status === 'succeeded') succeeded++;
  }
  return { finished, succeeded };
}

/**
 * Reads what the API, metrics and readiness report about tasks from the store, one or two
 * queries per task, cached briefly so that concurrent readers cost the store once.
 */
export class TaskStatusReader {
  readonly #scheduler: Scheduler;
  readonly #since: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { readonly at: number; readonly status: Promise<TaskStatus> }>();

  constructor(scheduler: Scheduler, now: () => number = Date.now) {
    this.#scheduler = scheduler;
    this.#now = now;
    this.#since = now();
  }

  /** Status of every registered task, in the scheduler's order. */
  all(): Promise<TaskStatus[]> {
    return Promise.all(this.#scheduler.tasks().map((info) => this.#cached(info)));
  }

  /** Status of one task, or null when no such task is registered. */
  async one(name: string): Promise<TaskStatus | null> {
    const info = this.#scheduler.task(name);
    return info === undefined ? null : this.#cached(info);
  }

  /** Forget cached reads, e.g. after a mutation, so the next read shows it. */
  invalidate(name?: string): void {
    if (name === undefined) this.#cache.clear();
    else this.#cache.delete(name);
  }

  #cached(info: TaskInfo): Promise<TaskStatus> {
    const now = this.#now();
    const hit = this.#cache.get(info.name);
    if (hit !== undefined && now - hit.at < CACHE_MS) return hit.status.then((s) => ({ ...s, info, stale: this.#stale(info, s.lastSuccessAt, now) }));
    const status = this.#read(info, now);
    this.#cache.set(info.name, { at: now, status });
    status.catch(() => this.#cache.delete(info.name));
    return status;
  }

  #stale(info: TaskInfo, lastSuccessAt: Date | null, now: number): boolean {
    return isStale(info, lastSuccessAt?.getTime() ?? null, this.#since, now);
  }

  async #read(info: TaskInfo, now: number): Promise<TaskStatus> {
    const page = await this.#scheduler.historyPage({ task: info.name, limit: RECENT_RUNS + 10 });
    const newestFirst = page.runs.filter((r) => r.status !== 'skipped').slice(0, RECENT_RUNS);
    let lastSuccess = newestFirst.find((r) => r.status === 'succeeded') ?? null;
    if (lastSuccess === null && page.nextCursor !== null) {
      lastSuccess = (await this.#scheduler.historyPage({ task: info.name, status: 'succeeded', limit: 1 })).runs[0] ?? null;
    }
    const ticks = tickOutcomes(newestFirst);
    const lastSuccessAt = lastSuccess?.finishedAt ?? null;
    return {
      info,
      lastRun: page.runs[0] ?? null,
      lastSuccessAt,
      stale: this.#stale(info, lastSuccessAt, now),
      running: newestFirst.filter((r) => r.status === 'running'),
      recent: newestFirst.reverse(),
      ticks,
      successRate: ticks.finished === 0 ? null : ticks.succeeded / ticks.finished,
    };
  }
}
