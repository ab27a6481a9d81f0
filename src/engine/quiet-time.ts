import { formatDuration } from '../util/duration.ts';
import type { EngineContext } from './context.ts';
import type { Execution } from './execution.ts';
import type { LoadProbe, LoadSample, LoadWanted } from './load.ts';
import type { DeferPolicy } from './smart-options.ts';
import { timerEntry } from './timer-queue.ts';

/** A load sample answers for every run that asks within this long. */
const SAMPLE_REUSE_MS = 1_000;
/** A sample that takes longer counts as failed: a probe that hangs must not hold runs for ever. */
const SAMPLE_TIMEOUT_MS = 5_000;

const percent = (x: number) => `${Math.round(x * 100)}%`;

/**
 * Why the load counts as busy for `policy`, or null when it is quiet. Pure: the sample and the
 * service's own busy flag are all it reads. A reading that is not a finite number is no reading.
 */
export function busyReason(policy: DeferPolicy, sample: LoadSample, serviceBusy: boolean): string | null {
  if (policy.busy && serviceBusy) return 'the service said it is busy (setBusy)';
  const lag = finite(sample.eventLoopLagMs);
  const cpu = finite(sample.cpu);
  const memory = finite(sample.memory);
  const rss = finite(sample.rssBytes);
  if (policy.lagAboveMs !== null && lag !== null && lag > policy.lagAboveMs) return `event-loop lag ${Math.round(lag)} ms > ${policy.lagAboveMs} ms`;
  if (policy.cpuAbove !== null && cpu !== null && cpu > policy.cpuAbove) return `CPU ${percent(cpu)} > ${percent(policy.cpuAbove)}`;
  if (policy.memoryFractionAbove !== null && memory !== null && memory > policy.memoryFractionAbove) return `memory ${percent(memory)} > ${percent(policy.memoryFractionAbove)}`;
  if (policy.rssAboveBytes !== null && rss !== null && rss > policy.rssAboveBytes) return `RSS ${Math.round(rss / 1_048_576)} MiB > ${Math.round(policy.rssAboveBytes / 1_048_576)} MiB`;
  return null;
}

function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** A sample's readings copied out, so a probe's getters run once, here, inside a try. */
function readSample(value: unknown): LoadSample {
  if (typeof value !== 'object' || value === null) throw new TypeError(`the load probe answered ${value === null ? 'null' : typeof value}, not a sample`);
  const v = value as Record<string, unknown>;
  return { eventLoopLagMs: finite(v.eventLoopLagMs), cpu: finite(v.cpu), memory: finite(v.memory), rssBytes: finite(v.rssBytes) };
}

const QUIET: LoadSample = { eventLoopLagMs: null, cpu: null, memory: null, rssBytes: null };

/**
 * Holds due runs of tasks with `defer` while the process or host is busy: samples the load when
 * a run comes due and then every `checkEvery` while it waits, never in the background, and lets
 * it go when the load falls, or at `maxDelay` (to run, or to be recorded skipped). The run keeps
 * its claim and lease meanwhile, and shows why it waits as its progress message. A probe that
 * fails, hangs or answers nonsense holds nothing (the error is reported).
 */
export class QuietTime {
  readonly #ctx: EngineContext;
  readonly #probe: LoadProbe | null;
  /** What the service said with `setBusy`. */
  serviceBusy = false;
  /** Runs held right now, with when each began to wait (wall ms). */
  readonly #held = new Map<Execution, number>();
  /** Samples by what they measured, shared: runs due together take one sample, not one each. */
  readonly #samples = new Map<number, { readonly at: number; readonly sample: Promise<LoadSample> }>();

  constructor(ctx: EngineContext, probe: LoadProbe | null) {
    this.#ctx = ctx;
    this.#probe = probe;
  }

  /** The run ended: how long it had been held (it ended while held: a cancel, a stop), or null; it is held no more. */
  ended(execution: Execution, now: number): number | null {
    const since = this.#held.get(execution);
    this.#held.delete(execution);
    return since === undefined ? null : now - since;
  }

  /**
   * Decides when `execution` may start: calls `go` once the load is quiet (or `maxDelay` passed
   * with `then: 'run'`), or declines the run. `show` publishes a status line on the run. The
   * task's current `defer` is read at each check: a change or removal applies to a held run.
   */
  hold(execution: Execution, go: () => void, show: (message: string) => void): void {
    const ctx = this.#ctx;
    const dueAt = Math.max(execution.job.dueAt, ctx.clock.now());
    let heldSince: number | null = null;
    const finish = (outcome: 'ran' | 'skipped', reason: string | null, maxDelayMs: number) => {
      this.#held.delete(execution);
      const waited = ctx.clock.now() - dueAt;
      // A run that waited only for its sample was not held, but the wait is still not lateness.
      execution.deferredMs = heldSince === null ? (waited > 0 ? waited : null) : waited;
      if (heldSince !== null) ctx.events.emit('run:undeferred', { runId: execution.id, task: execution.run.task, waitedMs: waited, outcome });
      if (outcome === 'ran') {
        execution.deferDone = true;
        go();
      } else execution.decline('deferred', `held for quiet time for ${formatDuration(waited)} (${reason}); maxDelay ${formatDuration(maxDelayMs)} passed with then: 'skip'`);
    };
    const check = async (): Promise<void> => {
      const policy = execution.job.runtime.policy.defer;
      if (policy === null) return finish('ran', null, 0);
      let reason: string | null = null;
      try {
        reason = busyReason(policy, await this.#sampleFor(policy), this.serviceBusy);
      } catch (error) {
        // A probe that fails holds nothing: maintenance that never runs is worse than one run in a busy minute.
        ctx.reportError(error, 'store');
        reason = policy.busy && this.serviceBusy ? 'the service said it is busy (setBusy)' : null;
      }
      if (execution.settled) {
        this.#held.delete(execution);
        return;
      }
      const waited = ctx.clock.now() - dueAt;
      if (reason === null) return finish('ran', null, policy.maxDelayMs);
      if (waited >= policy.maxDelayMs) return finish(policy.then === 'run' ? 'ran' : 'skipped', reason, policy.maxDelayMs);
      if (heldSince === null) {
        heldSince = ctx.clock.now();
        this.#held.set(execution, heldSince);
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

  /** The load the policy compares with; no probe or no signal but `busy`: nothing to measure. */
  async #sampleFor(policy: DeferPolicy): Promise<LoadSample> {
    const wanted = { eventLoopLag: policy.lagAboveMs !== null, cpu: policy.cpuAbove !== null, memory: policy.memoryFractionAbove !== null || policy.rssAboveBytes !== null };
    if (this.#probe === null || !(wanted.eventLoopLag || wanted.cpu || wanted.memory)) return QUIET;
    return this.#sample(wanted);
  }

  /** A sample measuring at least `wanted`, taken within the last second (or in flight), else a new one. */
  #sample(wanted: LoadWanted): Promise<LoadSample> {
    const mask = (wanted.eventLoopLag ? 1 : 0) | (wanted.cpu ? 2 : 0) | (wanted.memory ? 4 : 0);
    const now = this.#ctx.clock.monotonic();
    for (const [have, entry] of this.#samples) if ((have & mask) === mask && now - entry.at < SAMPLE_REUSE_MS) return entry.sample;
    for (const [have, entry] of this.#samples) if (now - entry.at >= SAMPLE_REUSE_MS) this.#samples.delete(have);
    const sample = this.#timed(wanted);
    this.#samples.set(mask, { at: now, sample });
    // A failed sample is not reused: the next run asks again.
    sample.catch(() => this.#samples.get(mask)?.sample === sample && this.#samples.delete(mask));
    return sample;
  }

  /** One probe call, read defensively, failing after {@link SAMPLE_TIMEOUT_MS}. */
  #timed(wanted: LoadWanted): Promise<LoadSample> {
    return new Promise<LoadSample>((resolve, reject) => {
      const timer = timerEntry(() => reject(new Error(`the load probe did not answer within ${SAMPLE_TIMEOUT_MS} ms; the run goes ahead`)));
      this.#ctx.timers.after(timer, SAMPLE_TIMEOUT_MS);
      const settle = (fn: () => void) => {
        this.#ctx.timers.cancel(timer);
        fn();
      };
      try {
        new Promise((r) => r((this.#probe as LoadProbe).sample(wanted))).then(
          (value) => settle(() => {
            try {
              resolve(readSample(value));
            } catch (error) {
              reject(error);
            }
          }),
          (error: unknown) => settle(() => reject(error)),
        );
      } catch (error) {
        settle(() => reject(error));
      }
    });
  }
}
