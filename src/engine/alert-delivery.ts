import type { NotifyChannel } from '../notify/channels.ts';
import { notifyRetryDelay, type NotifyRetryPolicy } from '../notify/config.ts';
import { isRetryable } from '../notify/delivery-error.ts';
import type { NotifyEvent } from '../notify/event.ts';
import type { NotificationOutcome } from '../store/port.ts';
import type { NotificationRecord } from '../store/records.ts';
import type { EngineContext } from './context.ts';
import { timerEntry } from './timer-queue.ts';

/** How many due notifications one claim takes. */
const CLAIM_BATCH = 20;
/** How many deliveries an instance has under way at once; more wait in the store, due. */
const MAX_IN_FLIGHT = 50;
/** A claim holds this much longer than the slowest channel's timeout, so a slow delivery is not claimed twice. */
const CLAIM_MARGIN_MS = 15_000;

/**
 * Delivers recorded alerts: claims due ones in the store (one instance per attempt), sends each
 * through its channel, and records the outcome: delivered, due again after a backoff, or failed
 * for good. Runs beside the runs, never in their way: a slow channel delays only other alerts.
 */
export class AlertDelivery {
  readonly #ctx: EngineContext;
  readonly #channels: ReadonlyMap<string, NotifyChannel>;
  readonly #retry: NotifyRetryPolicy;
  readonly #intervalMs: number;
  readonly #leaseMs: number;
  readonly #timer = timerEntry(() => void this.#drain());
  readonly #inFlight = new Set<AbortController>();
  #draining = false;
  #again = false;
  #stopped = true;
  /** The earliest retry this instance scheduled: it claims again then, not only at its interval. */
  #nextRetryAt = Number.POSITIVE_INFINITY;

  constructor(ctx: EngineContext, channels: ReadonlyMap<string, NotifyChannel>, retry: NotifyRetryPolicy, intervalMs: number, slowestChannelMs: number) {
    this.#ctx = ctx;
    this.#channels = channels;
    this.#retry = retry;
    this.#intervalMs = intervalMs;
    this.#leaseMs = slowestChannelMs + CLAIM_MARGIN_MS;
  }

  /** Starts delivering, beginning with what is already due (alerts another instance left). */
  start(): void {
    this.#stopped = false;
    this.wake();
  }

  /** New alerts were recorded: claim them now. */
  wake(): void {
    if (this.#stopped) return;
    if (this.#draining) this.#again = true;
    else this.#ctx.timers.after(this.#timer, 0);
  }

  /** Stops claiming; deliveries in flight are aborted and left due, for another instance or the next start. */
  stop(): void {
    this.#stopped = true;
    this.#ctx.timers.cancel(this.#timer);
    for (const controller of this.#inFlight) controller.abort(new Error('the scheduler is stopping'));
  }

  /**
   * Claims what this instance has room for and starts delivering it, without waiting for the
   * deliveries: a channel that hangs holds its own slots only. Each delivery's end wakes it again.
   */
  async #drain(): Promise<void> {
    if (this.#stopped || this.#draining) return;
    this.#draining = true;
    try {
      do {
        this.#again = false;
        const room = MAX_IN_FLIGHT - this.#inFlight.size;
        if (room <= 0) break;
        const now = this.#ctx.clock.now();
        if (this.#nextRetryAt <= now) this.#nextRetryAt = Number.POSITIVE_INFINITY;
        const batch = await this.#ctx.track(this.#ctx.store.claimNotifications(this.#ctx.instance, now, this.#leaseMs, Math.min(room, CLAIM_BATCH)));
        for (const n of batch) void this.#deliver(n).finally(() => this.wake());
        if (batch.length === Math.min(room, CLAIM_BATCH)) this.#again = true;
      } while (this.#again && !this.#stopped);
    } catch (error) {
      this.#ctx.reportError(error, 'store');
    } finally {
      this.#draining = false;
      if (!this.#stopped) {
        const untilRetry = this.#nextRetryAt - this.#ctx.clock.now();
        this.#ctx.timers.after(this.#timer, Math.max(0, Math.min(this.#intervalMs, untilRetry)));
      }
    }
  }

  async #deliver(n: NotificationRecord): Promise<void> {
    const ctx = this.#ctx;
    const event = n.event as unknown as NotifyEvent;
    const channel = this.#channels.get(n.channel);
    const controller = new AbortController();
    this.#inFlight.add(controller);
    let outcome: NotificationOutcome;
    try {
      if (channel === undefined) throw new Error(`channel "${n.channel}" is not configured on instance ${ctx.instance}`);
      await ctx.track(channel.send(event, controller.signal));
      outcome = { status: 'delivered' };
      ctx.events.emit('notification:sent', { eventId: n.eventId, kind: n.kind, task: n.task, channel: n.channel, attempt: n.attempts });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // Stopping: the attempt did not really happen; it is due again at once, for whoever runs.
      const delay = this.#stopped ? 0 : isRetryable(error) ? notifyRetryDelay(this.#retry, n.attempts, ctx.random) : null;
      const now = ctx.clock.now();
      outcome = delay === null ? { status: 'failed', error: message } : { status: 'pending', retryAt: now + delay, error: message };
      if (delay !== null && !this.#stopped) this.#nextRetryAt = Math.min(this.#nextRetryAt, now + delay);
      ctx.events.emit('notification:failed', { eventId: n.eventId, kind: n.kind, task: n.task, channel: n.channel, attempt: n.attempts, error: message, final: delay === null });
      ctx.logger.warn({ eventId: n.eventId, channel: n.channel, attempt: n.attempts, final: delay === null, err: message }, 'alert not delivered');
    } finally {
      this.#inFlight.delete(controller);
    }
    try {
      const claim = { eventId: n.eventId, channel: n.channel, instance: ctx.instance, attempt: n.attempts };
      await ctx.track(ctx.store.settleNotification(claim, outcome, ctx.clock.now()));
    } catch (error) {
      // Its claim lapses and it is delivered again: at least once, never lost.
      ctx.reportError(error, 'store');
    }
  }
}
