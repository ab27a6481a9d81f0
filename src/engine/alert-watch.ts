import { channelsFor, type ResolvedNotify } from '../notify/config.ts';
import type { NotifyEvent, NotifyKind } from '../notify/event.ts';
import { isStale } from '../observe/staleness.ts';
import type { RunRecord } from '../store/records.ts';
import type { JsonValue } from '../util/json.ts';
import type { AlertDelivery } from './alert-delivery.ts';
import { endedBadly, failedEvent, failedForGood, missedEvent, recoveredEvent, staleEvent } from './alert-events.ts';
import type { EngineContext } from './context.ts';
import { timerEntry } from './timer-queue.ts';

const MIN_STALE_CHECK_MS = 5_000;
const MAX_STALE_CHECK_MS = 300_000;
/** How far back a success looks for the tick before it (a retried tick has several attempts). */
const RECOVERY_LOOKBACK = 20;

/**
 * Turns what happens to tasks into alerts, by the `notify` rules: a tick that failed after its
 * last attempt, the first success after one, ticks missed in downtime, and no success within
 * `staleAfter`. Each alert is recorded once per channel under a key every replica derives the
 * same way; delivery is {@link AlertDelivery}'s.
 */
export class AlertWatch {
  readonly #ctx: EngineContext;
  readonly #rules: ResolvedNotify;
  readonly #delivery: AlertDelivery;
  readonly #staleTimer = timerEntry(() => void this.#checkStale());
  #unsubscribe: (() => void)[] = [];
  #since = 0;

  constructor(ctx: EngineContext, rules: ResolvedNotify, delivery: AlertDelivery) {
    this.#ctx = ctx;
    this.#rules = rules;
    this.#delivery = delivery;
  }

  start(): void {
    this.#since = this.#ctx.clock.now();
    const events = this.#ctx.events;
    this.#unsubscribe = [events.on('run:finished', (run) => this.#onFinished(run)), events.on('tick:skipped', (run) => this.#onSkipped(run))];
    this.#ctx.timers.after(this.#staleTimer, this.#staleCheckMs());
  }

  stop(): void {
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe = [];
    this.#ctx.timers.cancel(this.#staleTimer);
  }

  #wants(task: string, kind: NotifyKind): boolean {
    return channelsFor(this.#rules, task, kind).length > 0;
  }

  #onFinished(run: RunRecord): void {
    const now = this.#ctx.clock.now();
    if (failedForGood(run) && this.#wants(run.task, 'failed')) this.#record(failedEvent(run, now));
    else if (run.status === 'succeeded' && this.#wants(run.task, 'recovered')) void this.#checkRecovered(run, now);
  }

  #onSkipped(record: RunRecord): void {
    if (record.skipReason === 'missed' && this.#wants(record.task, 'missed')) this.#record(missedEvent(record, this.#ctx.clock.now()));
  }

  /** Recovered: the tick ended before this success (its last attempt) failed for good. */
  async #checkRecovered(run: RunRecord, now: number): Promise<void> {
    try {
      const { runs } = await this.#ctx.track(this.#ctx.store.listRuns({ task: run.task, limit: RECOVERY_LOOKBACK }));
      const previous = runs.find((r) => r.id < run.id && r.status !== 'running' && r.status !== 'skipped' && r.status !== 'cancelled' && (r.status === 'succeeded' || endedBadly(r)) && r.retryAt === null);
      if (previous !== undefined && failedForGood(previous)) this.#record(recoveredEvent(run, previous, now));
    } catch (error) {
      this.#ctx.reportError(error, 'store');
    }
  }

  /** How often staleness is checked: a quarter of the shortest `staleAfter` among tasks that alert on it, within bounds. */
  #staleCheckMs(): number {
    let shortest = Number.POSITIVE_INFINITY;
    for (const runtime of this.#ctx.tasks.values()) {
      const after = runtime.policy.staleAfterMs;
      if (after !== null && after < shortest && this.#wants(runtime.name, 'stale')) shortest = after;
    }
    return Math.min(MAX_STALE_CHECK_MS, Math.max(MIN_STALE_CHECK_MS, shortest / 4));
  }

  async #checkStale(): Promise<void> {
    try {
      const now = this.#ctx.clock.now();
      for (const runtime of [...this.#ctx.tasks.values()]) {
        const staleAfterMs = runtime.policy.staleAfterMs;
        if (runtime.state !== 'active' || staleAfterMs === null || runtime.paused || !this.#wants(runtime.name, 'stale')) continue;
        // A success seen here recently settles it without asking the store.
        const seen = runtime.lastRun;
        if (seen?.status === 'succeeded' && now - (seen.finishedAt?.getTime() ?? 0) <= staleAfterMs) continue;
        // The store, not this instance's view: another replica may have run it.
        const [last] = (await this.#ctx.track(this.#ctx.store.listRuns({ task: runtime.name, status: 'succeeded', limit: 1 }))).runs;
        const lastSuccess = last ?? null;
        if (isStale({ paused: false, staleAfterMs }, lastSuccess?.finishedAt?.getTime() ?? null, this.#since, now)) {
          this.#record(staleEvent(runtime.name, lastSuccess, staleAfterMs, this.#since, now));
        }
      }
    } catch (error) {
      this.#ctx.reportError(error, 'store');
    } finally {
      if (this.#unsubscribe.length > 0) this.#ctx.timers.after(this.#staleTimer, this.#staleCheckMs());
    }
  }

  #record(event: NotifyEvent): void {
    const channels = channelsFor(this.#rules, event.task, event.kind);
    if (channels.length === 0) return;
    const ctx = this.#ctx;
    const items = channels.map((channel) => ({ id: ctx.newId(), eventId: event.id, channel, kind: event.kind, task: event.task, event: event as unknown as JsonValue }));
    ctx.events.emit('notification:raised', { eventId: event.id, kind: event.kind, task: event.task, message: event.message });
    void ctx
      .track(ctx.store.enqueueNotifications(items, ctx.clock.now()))
      .then((added) => {
        if (added > 0) this.#delivery.wake();
      })
      .catch((error: unknown) => ctx.reportError(error, 'store'));
  }
}
