import type { RunRecord } from '../store/records.ts';
import { InvalidOptionError } from '../util/errors.ts';
import type { EngineContext } from './context.ts';
import type { JobRouter } from './job-router.ts';
import { type Dependency, findCycle, statusesFor } from './smart-options.ts';
import type { TaskRuntime } from './task-runtime.ts';

/** Upstream ends read per upstream and check; more wait for the next check. */
const COMPLETIONS_PER_CHECK = 100;
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

/**
 * Refuses `after` edges that make a cycle or name a task that is not registered, naming them.
 * `tasks` maps every task to its dependency (null for none).
 */
export function checkDependencies(
  tasks: ReadonlyMap<string, Dependency | null>,
  subject: (task: string) => string,
  checkUnknown: boolean,
  focus?: string,
  /** Where the `after` field is, for a task: `after` for the library, `tasks.<name>.after` in a config. */
  field: (task: string) => string = () => 'after',
): void {
  const edges = new Map<string, string[]>();
  // The task being added or changed first: a cycle it closes is told from it.
  const focused = focus === undefined ? undefined : tasks.get(focus);
  if (focus !== undefined && focused !== undefined && focused !== null) edges.set(focus, focused.upstreams.map((u) => u.task));
  for (const [name, dependency] of tasks) {
    if (dependency === null) continue;
    for (const [i, up] of dependency.upstreams.entries()) {
      if (checkUnknown && !tasks.has(up.task)) {
        const known = [...tasks.keys()].filter((t) => t !== name);
        throw new InvalidOptionError(subject(name), [
          { path: dependency.upstreams.length === 1 ? field(name) : `${field(name)}.${i}`, received: `"${up.task}"`, fix: `no task "${up.task}" is registered${known.length > 0 ? ` (tasks: ${known.slice(0, 10).join(', ')})` : ''}; add it, or fix the name` },
        ]);
      }
    }
    edges.set(
      name,
      dependency.upstreams.map((u) => u.task),
    );
  }
  const cycle = findCycle(edges);
  if (cycle !== null) {
    const chain = cycle.map((t, i) => (i === 0 ? `"${t}"` : `after "${t}"`)).join(' runs ');
    throw new InvalidOptionError(subject(cycle[0] as string), [{ path: field(cycle[0] as string), received: cycle.join(' → '), fix: `the tasks wait for each other in a cycle (${chain}); remove one of these after links` }]);
  }
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

  /** A run ended on this instance: its downstream tasks are checked now. */
  onFinished(run: RunRecord): void {
    const downstream = this.#index().get(run.task);
    if (downstream === undefined || run.slot.startsWith('b:')) return;
    for (const runtime of downstream) this.check(runtime);
  }

  /** Checks every dependent task (a poll). */
  checkAll(): void {
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
    const ends = await Promise.all(
      dependency.upstreams.map(async (u) => {
        const statuses = statusesFor(u.on);
        // After the newest dependency run's upstream end; from the instant this instance started, when there is none.
        const runs = await store.listCompletions!({ task: u.task, statuses, endedAfter: newest !== undefined ? since : since - 1, limit: COMPLETIONS_PER_CHECK });
        return runs.filter((r) => qualifies(r, statuses));
      }),
    );
    if (runtime.state !== 'active' || !this.#ctx.running() || runtime.dependency !== dependency) return;
    if (dependency.mode === 'any') {
      const all = ends.flat().sort((a, b) => (a.finishedAt as Date).getTime() - (b.finishedAt as Date).getTime() || (a.id < b.id ? -1 : 1));
      for (const run of all) this.#submit(runtime, run);
    } else {
      // Every upstream has ended anew: the set is complete at the latest of their first new ends.
      const firsts = ends.map((runs) => runs[0]);
      if (firsts.some((r) => r === undefined)) return;
      const last = (firsts as RunRecord[]).reduce((a, b) => ((b.finishedAt as Date).getTime() > (a.finishedAt as Date).getTime() || ((b.finishedAt as Date).getTime() === (a.finishedAt as Date).getTime() && b.id > a.id) ? b : a));
      this.#submit(runtime, last);
    }
    this.#jobs.pump(runtime);
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
    // One after another, as catch-up ticks go: several ends of an upstream each start a run.
    if (runtime.paused) this.#jobs.submit(runtime, { ...init, skip: 'paused' });
    else this.#jobs.enqueueBacklog(runtime, init);
  }
}
