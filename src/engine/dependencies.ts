import type { RunRecord } from '../store/records.ts';
import { InvalidOptionError, type OptionIssue } from '../util/errors.ts';
import type { EngineContext } from './context.ts';
import type { JobInit, JobRouter } from './job-router.ts';
import { type Dependency, statusesFor } from './smart-options.ts';
import type { TaskRuntime } from './task-runtime.ts';
import { windowGate } from './schedules/windows.ts';
import { timerEntry } from './timer-queue.ts';

/** Upstream ends read per upstream and check; more wait for the next check. */
const COMPLETIONS_PER_CHECK = 100;
/** How often a poll looks for ends of upstream tasks on other instances. */
const POLL_CHECK_MS = 10_000;
/** Slots this instance submitted lately: asked again only once the store has answered. */
const REMEMBERED_SLOTS = 10_000;

/** The slot of the run an upstream run's end starts: each end starts one run, across replicas. */
export function dependencySlot(upstreamRunId: string): string {
  return `d:${upstreamRunId}`;
}

/** True when `run` is an end that `on` counts: a failure only once no retry follows it. */
function qualifies(run: RunRecord, statuses: readonly string[]): boolean {
  return statuses.includes(run.status) && (run.status === 'succeeded' || run.retryAt === null);
}

/** The upstream task names an `after` spec names (validated or not: anything else names none). */
export function upstreamNames(after: unknown): string[] {
  const one = (u: unknown): string[] => (typeof u === 'string' ? [u] : typeof u === 'object' && u !== null && typeof (u as { task?: unknown }).task === 'string' ? [(u as { task: string }).task] : []);
  if (Array.isArray(after)) return after.flatMap(one);
  if (typeof after === 'object' && after !== null && Array.isArray((after as { tasks?: unknown }).tasks)) return ((after as { tasks: unknown[] }).tasks).flatMap(one);
  return one(after);
}

/**
 * Orders task definitions so every task comes after the upstream tasks it names (those in the
 * list): adding or changing them one by one in this order never meets an unknown upstream or a
 * passing cycle. Cycles (refused elsewhere) keep their input order.
 */
export function upstreamsFirst<T extends { readonly name: string; readonly after?: unknown }>(definitions: readonly T[]): T[] {
  const byName = new Map(definitions.map((d) => [d.name, d]));
  const out: T[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (d: T) => {
    if (state.has(d.name)) return;
    state.set(d.name, 'open');
    for (const up of upstreamNames(d.after)) {
      const upstream = byName.get(up);
      if (upstream !== undefined) visit(upstream);
    }
    state.set(d.name, 'done');
    out.push(d);
  };
  for (const d of definitions) visit(d);
  return out;
}

/** At most this many names of a cycle are told; the rest is counted. */
const CYCLE_NAMES_SHOWN = 10;

/**
 * Refuses `after` edges that make a cycle or name a task that is not registered, naming them.
 * `lookup` gives a task's dependency (null for none, undefined for no such task); `check` lists
 * the tasks whose `after` is checked (a change checks only the task changed: a cycle it closes
 * runs through it, so the search costs what its upstream graph holds, not every task).
 */
export function checkDependencies(
  lookup: (task: string) => Dependency | null | undefined,
  check: Iterable<string>,
  subject: (task: string) => string,
  checkUnknown: boolean,
  /** Where the `after` field is, for a task: `after` for the library, `tasks.<name>.after` in a config. */
  field: (task: string) => string = () => 'after',
): void {
  const done = new Set<string>();
  // Every problem at once (a config names them all), under the subject of the first.
  const issues: OptionIssue[] = [];
  let first: string | null = null;
  const refuse = (name: string, issue: OptionIssue) => {
    first ??= name;
    issues.push(issue);
  };
  for (const name of check) {
    const dependency = lookup(name);
    if (dependency === null || dependency === undefined) continue;
    if (checkUnknown) {
      for (const [i, up] of dependency.upstreams.entries()) {
        if (lookup(up.task) !== undefined) continue;
        refuse(name, { path: dependency.upstreams.length === 1 ? field(name) : `${field(name)}.${i}`, received: `"${up.task}"`, fix: `no task "${up.task}" is registered; add it, or fix the name` });
      }
    }
    // Tasks already walked without meeting a cycle (by an earlier task of this check) are not walked again.
    const cycle = cycleFrom(name, lookup, done);
    if (cycle !== null) {
      const shown = cycle.length > CYCLE_NAMES_SHOWN + 1 ? [...cycle.slice(0, CYCLE_NAMES_SHOWN), `… ${cycle.length - CYCLE_NAMES_SHOWN - 1} more`, cycle[0] as string] : cycle;
      const chain = shown.map((t, i) => (i === 0 ? `"${t}"` : t.startsWith('… ') ? t : `after "${t}"`)).join(' runs ');
      refuse(name, { path: field(name), received: shown.join(' → '), fix: `the tasks wait for each other in a cycle (${chain}); remove one of these after links` });
      // Told once, from its first task, not again from each of the others.
      for (const t of cycle) done.add(t);
    }
  }
  if (first !== null) throw new InvalidOptionError(subject(first), issues);
}

/**
 * The first cycle of `after` links reachable from `task` (its tasks in order, the first again
 * last), or null. An iterative depth-first search with the usual three states: `done` holds tasks
 * fully explored without a cycle, shared across calls, so checking every task costs one walk of
 * the graph (a chain of thousands neither overflows the stack nor costs its square).
 */
function cycleFrom(task: string, lookup: (task: string) => Dependency | null | undefined, done: Set<string>): string[] | null {
  if (done.has(task)) return null;
  const onPath = new Set<string>([task]);
  const path: string[] = [task];
  const stack: { name: string; next: number }[] = [{ name: task, next: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as { name: string; next: number };
    const ups = lookup(top.name)?.upstreams ?? [];
    if (top.next >= ups.length) {
      stack.pop();
      path.pop();
      onPath.delete(top.name);
      done.add(top.name);
      continue;
    }
    const up = (ups[top.next++] as { task: string }).task;
    if (onPath.has(up)) return [...path.slice(path.indexOf(up)), up];
    if (done.has(up) || lookup(up) === undefined) continue;
    onPath.add(up);
    path.push(up);
    stack.push({ name: up, next: 0 });
  }
  return null;
}

/**
 * Starts the runs of tasks with `after`: when an upstream run ends here (at once), and on every
 * poll for ends elsewhere or missed while this instance was busy. Each upstream end is claimed
 * in a slot of its own, so among replicas one run starts per end; with `mode: 'all'`, the end
 * that completes the set (every upstream has a new qualifying end) is the one claimed. What
 * counts as new is what ended after the task's newest dependency run (or skip) was due, so every
 * replica decides from the same records.
 */
export class DependencyTracker {
  readonly #ctx: EngineContext;
  readonly #jobs: JobRouter;
  readonly #checking = new Set<TaskRuntime>();
  readonly #again = new Set<TaskRuntime>();
  readonly #submitted = new Set<string>();
  /** When this instance first saw each dependent task: ends before it (and before any dependency run) start nothing. */
  readonly #since = new Map<string, number>();
  #warned = false;
  #lastCheckAll = Number.NEGATIVE_INFINITY;
  /** Per task, the dependency run waiting for its next window, and when that opens. */
  readonly #heldForWindow = new Map<TaskRuntime, { readonly at: number; init: JobInit }>();

  constructor(ctx: EngineContext, jobs: JobRouter) {
    this.#ctx = ctx;
    this.#jobs = jobs;
  }

  /** Dependent tasks by upstream task; rebuilt after tasks change (most schedulers have none, and pay nothing per run end). */
  #byUpstream: Map<string, TaskRuntime[]> | null = null;

  /** Tasks were added, removed or changed. */
  invalidate(): void {
    this.#byUpstream = null;
  }

  #index(): Map<string, TaskRuntime[]> {
    if (this.#byUpstream !== null) return this.#byUpstream;
    const index = new Map<string, TaskRuntime[]>();
    for (const runtime of this.#ctx.tasks.values()) {
      for (const up of runtime.dependency?.upstreams ?? []) {
        const list = index.get(up.task) ?? [];
        if (!list.includes(runtime)) list.push(runtime);
        index.set(up.task, list);
      }
    }
    this.#byUpstream = index;
    return index;
  }

  /** The tasks registered here that run after `task`. */
  downstreamOf(task: string): string[] {
    return (this.#index().get(task) ?? []).map((r) => r.name);
  }

  /** A run ended on this instance: its downstream tasks are checked now. */
  onFinished(run: RunRecord): void {
    const downstream = this.#index().get(run.task);
    if (downstream === undefined || run.slot.startsWith('b:')) return;
    for (const runtime of downstream) this.check(runtime);
  }

  /**
   * Checks every dependent task (after a poll), at most every {@link POLL_CHECK_MS}: ends on this
   * instance are checked at once, so the poll only finds ends elsewhere or lost to a crash, and
   * costs reads per dependent task.
   */
  checkAll(): void {
    const now = this.#ctx.clock.monotonic();
    if (now - this.#lastCheckAll < POLL_CHECK_MS) return;
    this.#lastCheckAll = now;
    const seen = new Set<TaskRuntime>();
    for (const list of this.#index().values()) for (const runtime of list) if (!seen.has(runtime)) seen.add(runtime);
    for (const runtime of seen) this.check(runtime);
  }

  /** The task became active here: ends from now on start it. */
  activated(runtime: TaskRuntime, now: number): void {
    if (runtime.dependency !== null && !this.#since.has(runtime.name)) this.#since.set(runtime.name, now);
  }

  check(runtime: TaskRuntime): void {
    if (this.#checking.has(runtime)) {
      this.#again.add(runtime);
      return;
    }
    this.#checking.add(runtime);
    void this.#ctx
      .track(this.#check(runtime))
      .catch((error: unknown) => this.#ctx.reportError(error, 'store'))
      .finally(() => {
        this.#checking.delete(runtime);
        if (this.#again.delete(runtime) && this.#ctx.running()) this.check(runtime);
      });
  }

  async #check(runtime: TaskRuntime): Promise<void> {
    const dependency = runtime.dependency;
    const store = this.#ctx.store;
    if (dependency === null || runtime.state !== 'active' || !this.#ctx.running()) return;
    if (typeof store.listCompletions !== 'function') {
      if (!this.#warned) this.#ctx.logger.error({ task: runtime.name }, `this ${store.kind} store cannot list run ends (listCompletions): tasks with after never run; update the store`);
      this.#warned = true;
      return;
    }
    const [newest] = (await store.listRuns({ task: runtime.name, trigger: 'dependency', limit: 1 })).runs;
    const since = newest !== undefined ? newest.scheduledFor.getTime() : (this.#since.get(runtime.name) ?? this.#ctx.clock.now());
    // Outside the task's windows, the ends of the gap become one run at the next window: only the newest counts.
    const collapse = dependency.mode === 'any' && typeof windowGate(runtime.schedule, this.#ctx.clock.now()) === 'object';
    const ends = await Promise.all(
      dependency.upstreams.map(async (u) => {
        const statuses = statusesFor(u.on);
        // After the newest dependency run's upstream end; from the instant this instance started, when there is none.
        const runs = await store.listCompletions!({ task: u.task, statuses, endedAfter: newest !== undefined ? since : since - 1, limit: COMPLETIONS_PER_CHECK, ...(collapse ? { order: 'newest' as const } : {}) });
        return runs.filter((r) => qualifies(r, statuses));
      }),
    );
    if (runtime.state !== 'active' || !this.#ctx.running() || runtime.dependency !== dependency) return;
    if (collapse) {
      const latest = ends.map((runs) => runs[0]).filter((r) => r !== undefined);
      const last = latest.reduce<RunRecord | null>((a, b) => (a === null || (b.finishedAt as Date).getTime() > (a.finishedAt as Date).getTime() ? b : a), null);
      if (last !== null) this.#submit(runtime, last);
    } else if (dependency.mode === 'any') {
      const all = ends.flat().sort((a, b) => (a.finishedAt as Date).getTime() - (b.finishedAt as Date).getTime() || (a.id < b.id ? -1 : 1));
      for (const run of all) this.#submit(runtime, run);
    } else {
      // Every upstream has ended anew: the set is complete at the latest of their first new ends.
      const firsts = ends.map((runs) => runs[0]);
      if (firsts.some((r) => r === undefined)) return;
      const last = (firsts as RunRecord[]).reduce((a, b) => ((b.finishedAt as Date).getTime() > (a.finishedAt as Date).getTime() || ((b.finishedAt as Date).getTime() === (a.finishedAt as Date).getTime() && b.id > a.id) ? b : a));
      this.#submit(runtime, last);
    }
  }

  #submit(runtime: TaskRuntime, upstream: RunRecord): void {
    const slot = dependencySlot(upstream.id);
    const key = `${runtime.name}\0${slot}`;
    if (this.#submitted.has(key)) return;
    this.#submitted.add(key);
    if (this.#submitted.size > REMEMBERED_SLOTS) this.#submitted.delete(this.#submitted.values().next().value as string);
    const endedAt = (upstream.finishedAt as Date).getTime();
    // Due when the upstream ended: its lateness is how long the dependent run took to start after it.
    const init = { slot, trigger: 'dependency', scheduledFor: endedAt, dueAt: endedAt, causedBy: upstream.id } as const;
    if (runtime.paused) {
      this.#jobs.submit(runtime, { ...init, skip: 'paused' });
      return;
    }
    // Not outside the task's windows: at the next window start, or recorded skipped.
    const gate = windowGate(runtime.schedule, this.#ctx.clock.now());
    if (gate === 'skip') this.#jobs.submit(runtime, { ...init, skip: 'window' });
    else if (gate === null) this.#jobs.submit(runtime, init);
    else {
      // The ends of one gap between windows start one run at its end, for the newest of them (as
      // the schedule's own ticks of a gap become one): the others are superseded, not recorded.
      const held = this.#heldForWindow.get(runtime);
      if (held !== undefined && held.at === gate.at) {
        held.init = { ...init, dueAt: gate.at };
        return;
      }
      const entry = { at: gate.at, init: { ...init, dueAt: gate.at } as JobInit };
      this.#heldForWindow.set(runtime, entry);
      this.#ctx.timers.atWall(
        timerEntry(() => {
          if (this.#heldForWindow.get(runtime) === entry) this.#heldForWindow.delete(runtime);
          if (runtime.state === 'active' && this.#ctx.running() && this.#ctx.tasks.get(runtime.name) === runtime) this.#jobs.submit(runtime, entry.init);
        }),
        gate.at,
      );
    }
  }
}
