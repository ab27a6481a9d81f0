import { formatDuration } from '../util/duration.ts';
import type { EngineContext } from './context.ts';
import type { Execution } from './execution.ts';
import type { LoadProbe, LoadSample, LoadWanted } from './load.ts';

/** A load sample answers for every run that asks within this long. */
const SAMPLE_REUSE_MS = 1_000;
import type { DeferPolicy } from './smart-options.ts';
import { timerEntry } from './timer-queue.ts';

const percent = (x: number) => `${Math.round(x * 100)}%`;

/**
 * Why the load counts as busy for `policy`, or null when it is quiet. Pure: the sample and the
 * service's own busy flag are all it reads.
 */
export function busyReason(policy: DeferPolicy, sample: LoadSample, serviceBusy: boolean): string | null {
  if (policy.busy && serviceBusy) return 'the service said it is busy (setBusy)';
  const lag = sample.eventLoopLagMs;
  if (policy.lagAboveMs !== null && lag !== null && lag > policy.lagAboveMs) return `event-loop lag ${Math.round(lag)} ms > ${policy.lagAboveMs} ms`;
  if (policy.cpuAbove !== null && sample.cpu !== null && sample.cpu > policy.cpuAbove) return `CPU ${percent(sample.cpu)} > ${percent(policy.cpuAbove)}`;
  if (policy.memoryFractionAbove !== null && sample.memory !== null && sample.memory > policy.memoryFractionAbove) return `memory ${percent(sample.memory)} > ${percent(policy.memoryFractionAbove)}`;
  if (policy.rssAboveBytes !== null && sample.rssBytes !== null && sample.rssBytes > policy.rssAboveBytes) return `RSS ${Math.round(sample.rssBytes / 1_048_576)} MiB > ${Math.round(policy.rssAboveBytes / 1_048_576)} MiB`;
  return null;
}

const QUIET: LoadSample = { eventLoopLagMs: null, cpu: null, memory: null, rssBytes: null };

/**
 * Holds due runs of tasks with `defer` while the process or host is busy: samples the load when
 * a run comes due and then every `checkEvery` while it waits, never in the background, and lets
 * it go when the load falls, or at `maxDelay` (to run, or to be recorded skipped). The run keeps
 * its claim and lease meanwhile, and shows why it waits as its progress message.
 */
export class QuietTime {
  readonly #ctx: EngineContext;
  readonly #probe: LoadProbe | null;
  /** What the service said with `setBusy`. */
  serviceBusy = false;
  /** Runs held right now, for `deferred` in the task view and the gauge. */
  readonly held = new Set<Execution>();
  /** Samples by what they measured, shared: runs due together take one sample, not one each. */
  readonly #samples = new Map<number, { readonly at: number; readonly sample: Promise<LoadSample> }>();

  constructor(ctx: EngineContext, probe: LoadProbe | null) {
    this.#ctx = ctx;
    this.#probe = probe;
  }

  /**
   * Decides when `execution` may start: calls `go` once the load is quiet (or `maxDelay` passed
   * with `then: 'run'`), or declines the run. `show` publishes a status line on the run.
   */
  hold(execution: Execution, policy: DeferPolicy, go: () => void, show: (message: string) => void): void {
    const ctx = this.#ctx;
    const dueAt = Math.max(execution.job.dueAt, ctx.clock.now());
    let heldSince: number | null = null;
    const finish = (outcome: 'ran' | 'skipped', reason: string | null) => {
      this.held.delete(execution);
      const waited = ctx.clock.now() - dueAt;
      // A run that waited only for its sample was not held: its wait is not a deferral.
      execution.deferredMs = heldSince === null ? (waited > 0 ? waited : null) : waited;
      if (heldSince !== null) ctx.events.emit('run:undeferred', { runId: execution.id, task: execution.run.task, waitedMs: waited, outcome });
      if (outcome === 'ran') {
        execution.deferDone = true;
        go();
      } else execution.decline('deferred', `held for quiet time for ${formatDuration(waited)} (${reason}); maxDelay ${formatDuration(policy.maxDelayMs)} passed with then: 'skip'`);
    };
    const check = async (): Promise<void> => {
      let sample = QUIET;
      const wanted = { eventLoopLag: policy.lagAboveMs !== null, cpu: policy.cpuAbove !== null, memory: policy.memoryFractionAbove !== null || policy.rssAboveBytes !== null };
      if (this.#probe !== null && (wanted.eventLoopLag || wanted.cpu || wanted.memory)) {
        try {
          sample = await this.#sample(wanted);
        } catch (error) {
          // A probe that fails holds nothing: maintenance that never runs is worse than one run in a busy minute.
          ctx.reportError(error, 'store');
        }
      }
      if (execution.settled) {
        this.held.delete(execution);
        return;
      }
      const reason = busyReason(policy, sample, this.serviceBusy);
      const waited = ctx.clock.now() - dueAt;
      if (reason === null) return finish('ran', null);
      if (waited >= policy.maxDelayMs) return finish(policy.then === 'run' ? 'ran' : 'skipped', reason);
      if (heldSince === null) {
        heldSince = ctx.clock.now();
        this.held.add(execution);
        ctx.events.emit('run:deferred', { runId: execution.id, task: execution.run.task, reason, since: new Date(heldSince) });
      }
      show(`deferred: ${reason}`);
      ctx.timers.after(
        timerEntry(() => void check()),
        Math.min(policy.checkEveryMs, policy.maxDelayMs - waited),
      );
    };
    void check();
  }

  /** A sample measuring at least `wanted`, taken within the last second (or in flight), else a new one. */
  #sample(wanted: LoadWanted): Promise<LoadSample> {
    const mask = (wanted.eventLoopLag ? 1 : 0) | (wanted.cpu ? 2 : 0) | (wanted.memory ? 4 : 0);
    const now = this.#ctx.clock.monotonic();
    for (const [have, entry] of this.#samples) if ((have & mask) === mask && now - entry.at < SAMPLE_REUSE_MS) return entry.sample;
    const sample = Promise.resolve((this.#probe as LoadProbe).sample(wanted));
    for (const [have, entry] of this.#samples) if (now - entry.at >= SAMPLE_REUSE_MS) this.#samples.delete(have);
    this.#samples.set(mask, { at: now, sample });
    // A failed sample is not reused: the next run asks again.
    sample.catch(() => this.#samples.get(mask)?.sample === sample && this.#samples.delete(mask));
    return sample;
  }
}
