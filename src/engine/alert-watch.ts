import { channelsFor, type ResolvedNotify } from '../notify/config.ts';
import type { NotifyEvent, NotifyKind } from '../notify/event.ts';
import { isStale } from '../observe/staleness.ts';
import type { NewNotification } from '../store/port.ts';
import type { RunRecord } from '../store/records.ts';
import type { JsonValue } from '../util/json.ts';
import type { AlertDelivery } from './alert-delivery.ts';
import { endedBadly, failedEvent, failedForGood, missedEvent, recoveredEvent, staleEvent } from './alert-events.ts';
import type { EngineContext } from './context.ts';
import { storeBackoff } from './retry.ts';
import { timerEntry } from './timer-queue.ts';

const MIN_STALE_CHECK_MS = 5_000;
const MAX_STALE_CHECK_MS = 300_000;
/** How far back a success looks for the tick before it, among runs that ran (a retried tick has several attempts). */
const RECOVERY_LOOKBACK = 20;
/** Alerts recorded here that are not recorded again (the stale check finds the same one each time). */
const REMEMBERED = 10_000;
/** Alerts waiting for the store (an outage): the oldest are dropped past this, and said so. */
const MAX_UNSTORED = 10_000;
const MAX_STORE_BACKOFF_MS = 30_000;

/** Backfill runs re-run the past: they raise no alerts, and a recovery is judged on live ticks. */
const ofBackfill = (run: RunRecord) => run.slot.startsWith('b:');

/**
 * Turns what happens to tasks into alerts, by the `notify` rules: a tick that failed after its
 * last attempt, the first success after one, ticks missed in downtime, and no success within
 * `staleAfter`. Each alert is recorded once per channel under a key every replica derives the
 * same way (a store that fails is retried until it takes them); delivery is {@link AlertDelivery}'s.
 */
export class AlertWatch {
  readonly #ctx: EngineContext;
  readonly #rules: ResolvedNotify;
  readonly #delivery: AlertDelivery;
  readonly #staleTimer = timerEntry(() => void this.#checkStale());
  readonly #retryTimer = timerEntry(() => this.#flush());
  #unsubscribe: (() => void)[] = [];
  #since = 0;
  /** When each task was last resumed here: staleness counts from then, not from before the pause. */
  readonly #resumedAt = new Map<string, number>();
  /** The last success the store told of, per task: no need to ask again until it could be stale. */
  readonly #lastSuccessAt = new Map<string, number>();
  /** Event ids recorded (or found recorded) by this instance, oldest first. */
  readonly #recorded = new Set<string>();
  /** Alerts the store has not taken yet, with what announcing each needs. */
  #unstored: { readonly items: NewNotification[]; readonly event: NotifyEvent }[] = [];
  #flushing = false;
  #backoffMs = 0;

  constructor(ctx: EngineContext, rules: ResolvedNotify, delivery: AlertDelivery) {
    this.#ctx = ctx;
    this.#rules = rules;
    this.#delivery = delivery;
  }

  start(): void {
    this.#since = this.#ctx.clock.now();
    const events = this.#ctx.events;
    this.#unsubscribe = [
      events.on('run:finished', (run) => this.#onFinished(run)),
      events.on('tick:skipped', (run) => this.#onSkipped(run)),
      events.on('task:resumed', ({ task }) => this.#resumedAt.set(task, this.#ctx.clock.now())),
    ];
    this.#ctx.timers.after(this.#staleTimer, this.#staleCheckMs());
  }

  stop(): void {
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe = [];
    this.#ctx.timers.cancel(this.#staleTimer);
    this.#ctx.timers.cancel(this.#retryTimer);
    if (this.#unstored.length > 0) this.#ctx.logger.error({ alerts: this.#unstored.map((u) => u.event.id) }, `${this.#unstored.length} alerts were never recorded: the store did not take them before the stop`);
  }

  #wants(task: string, kind: NotifyKind): boolean {
    return channelsFor(this.#rules, task, kind).length > 0;
  }

  #onFinished(run: RunRecord): void {
    if (ofBackfill(run)) return;
    const now = this.#ctx.clock.now();
    if (failedForGood(run) && this.#wants(run.task, 'failed')) this.#record(failedEvent(run, now));
    else if (run.status === 'succeeded') {
      this.#lastSuccessAt.set(run.task, run.finishedAt?.getTime() ?? now);
      if (this.#wants(run.task, 'recovered')) void this.#checkRecovered(run, now);
    }
  }

  #onSkipped(record: RunRecord): void {
    if (record.skipReason === 'missed' && this.#wants(record.task, 'missed')) this.#record(missedEvent(record, this.#ctx.clock.now()));
  }

  /** Recovered: the tick ended before this success (its last attempt) failed for good. */
  async #checkRecovered(run: RunRecord, now: number): Promise<void> {
    try {
      const query = { task: run.task, status: ['succeeded', 'failed', 'timed_out', 'interrupted'] as const, limit: RECOVERY_LOOKBACK };
      const { runs } = await this.#ctx.track(this.#ctx.store.listRuns(query));
      const previous = runs.find((r) => r.id < run.id && !ofBackfill(r) && (r.status === 'succeeded' || endedBadly(r)) && r.retryAt === null);
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
        const observedSince = Math.max(this.#since, this.#resumedAt.get(runtime.name) ?? 0);
        // A success known here (its own, or one the store told of) settles it without asking again.
        const known = this.#lastSuccessAt.get(runtime.name) ?? null;
        if (!isStale({ paused: false, staleAfterMs }, known, observedSince, now)) continue;
        // The store, not this instance's view: another replica may have run it.
        const [last] = (await this.#ctx.track(this.#ctx.store.listRuns({ task: runtime.name, status: 'succeeded', limit: 1 }))).runs;
        const lastSuccess = last ?? null;
        const lastAt = lastSuccess?.finishedAt?.getTime() ?? null;
        if (lastAt !== null) this.#lastSuccessAt.set(runtime.name, lastAt);
        if (isStale({ paused: false, staleAfterMs }, lastAt, observedSince, now)) this.#record(staleEvent(runtime.name, lastSuccess, staleAfterMs, observedSince, now));
      }
    } catch (error) {
      this.#ctx.reportError(error, 'store');
    } finally {
      if (this.#unsubscribe.length > 0) this.#ctx.timers.after(this.#staleTimer, this.#staleCheckMs());
    }
  }

  #record(event: NotifyEvent): void {
    if (this.#recorded.has(event.id)) return;
    const channels = channelsFor(this.#rules, event.task, event.kind);
    if (channels.length === 0) return;
    const ctx = this.#ctx;
    const items = channels.map((channel) => ({ id: ctx.newId(), eventId: event.id, channel, kind: event.kind, task: event.task, event: event as unknown as JsonValue }));
    this.#unstored.push({ items, event });
    if (this.#unstored.length > MAX_UNSTORED) {
      const dropped = this.#unstored.splice(0, this.#unstored.length - MAX_UNSTORED);
      ctx.logger.error({ alerts: dropped.map((d) => d.event.id) }, `${dropped.length} alerts dropped: the store has not taken alerts for a while`);
    }
    this.#flush();
  }

  /** Hands what waits to the store, in one call; on failure tries again after a growing pause. */
  #flush(): void {
    if (this.#flushing || this.#unstored.length === 0) return;
    this.#flushing = true;
    const ctx = this.#ctx;
    const batch = this.#unstored;
    this.#unstored = [];
    void ctx
      .track(ctx.store.enqueueNotifications(batch.flatMap((b) => b.items), ctx.clock.now()))
      .then(
        (added) => {
          this.#backoffMs = 0;
          for (const { event } of batch) {
            this.#remember(event.id);
            ctx.events.emit('notification:raised', { eventId: event.id, kind: event.kind, task: event.task, message: event.message });
          }
          if (added > 0) this.#delivery.wake();
        },
        (error: unknown) => {
          ctx.reportError(error, 'store');
          this.#unstored = [...batch, ...this.#unstored];
          this.#backoffMs = storeBackoff(this.#backoffMs, MAX_STORE_BACKOFF_MS);
          if (this.#unsubscribe.length > 0) ctx.timers.after(this.#retryTimer, this.#backoffMs);
        },
      )
      .finally(() => {
        this.#flushing = false;
        if (this.#backoffMs === 0) this.#flush();
      });
  }

  #remember(id: string): void {
    this.#recorded.add(id);
    if (this.#recorded.size > REMEMBERED) this.#recorded.delete(this.#recorded.values().next().value as string);
  }
}
