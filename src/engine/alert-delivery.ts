import type { NotifyChannel } from '../notify/channels.ts';
import { notifyRetryDelay, type NotifyRetryPolicy } from '../notify/config.ts';
import { isRetryable, NotifyDeliveryError } from '../notify/delivery-error.ts';
import type { NotifyEvent } from '../notify/event.ts';
import type { NotificationOutcome } from '../store/port.ts';
import type { NotificationRecord } from '../store/records.ts';
import type { EngineContext } from './context.ts';
import { timerEntry } from './timer-queue.ts';

/** How many due notifications one claim takes. */
const CLAIM_BATCH = 20;
/**
 * How many deliveries to one channel an instance has under way at once: a channel that hangs
 * holds only these, and a rate-limited receiver (Slack: about one a second) is not flooded.
 */
const MAX_PER_CHANNEL = 4;
/** A claim holds this much longer than the slowest channel's timeout, so a slow delivery is not claimed twice. */
const CLAIM_MARGIN_MS = 15_000;
/**
 * How often an instance looks for alerts nobody is delivering (left by an instance that stopped or
 * died, or retries it had scheduled). Its own alerts and retries it claims at once.
 */
const SWEEP_MS = 30_000;
/** The most of an error message kept with a notification (a receiver may answer with a page of HTML). */
const MAX_ERROR_CHARS = 1_000;

/**
 * Delivers recorded alerts: claims due ones in the store (one instance per attempt), sends each
 * through its channel, and records the outcome: delivered, due again after a backoff, or failed
 * for good. Runs beside the runs, never in their way: each channel has a few deliveries under way
 * at most, a receiver that asks to wait (429 or 503 with Retry-After) is left alone that long
 * without the attempt counting, and a channel that hangs delays only its own alerts.
 */
export class AlertDelivery {
  readonly #ctx: EngineContext;
  readonly #channels: ReadonlyMap<string, NotifyChannel>;
  readonly #retry: NotifyRetryPolicy;
  readonly #intervalMs: number;
  readonly #leaseMs: number;
  readonly #timer = timerEntry(() => void this.#drain());
  readonly #inFlight = new Set<AbortController>();
  /** Deliveries under way per channel. */
  readonly #perChannel = new Map<string, number>();
  /** Until when (wall ms) a channel's receiver asked to be left alone. */
  readonly #coolUntil = new Map<string, number>();
  #draining = false;
  #again = false;
  #stopped = true;
  /** The earliest instant this instance knows something falls due: it claims again then, not only at its interval. */
  #nextDueAt = Number.POSITIVE_INFINITY;

  constructor(ctx: EngineContext, channels: ReadonlyMap<string, NotifyChannel>, retry: NotifyRetryPolicy, intervalMs: number, slowestChannelMs: number) {
    this.#ctx = ctx;
    this.#channels = channels;
    this.#retry = retry;
    this.#intervalMs = Math.max(intervalMs, SWEEP_MS);
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

  /** Claims nothing more; deliveries under way may finish (the scheduler's stop waits for them). */
  stop(): void {
    this.#stopped = true;
    this.#ctx.timers.cancel(this.#timer);
  }

  /** The stop's deadline: deliveries still under way are aborted and left due, their attempt not counted. */
  abort(): void {
    for (const controller of this.#inFlight) controller.abort(new Error('the scheduler stopped before the delivery ended'));
  }

  /** Channels that take nothing now: all their slots are busy, or their receiver asked to wait. */
  #unavailable(now: number): string[] {
    const out: string[] = [];
    for (const name of this.#channels.keys()) {
      const cool = this.#coolUntil.get(name) ?? 0;
      if (cool > now) this.#nextDueAt = Math.min(this.#nextDueAt, cool);
      if ((this.#perChannel.get(name) ?? 0) >= MAX_PER_CHANNEL || cool > now) out.push(name);
    }
    return out;
  }

  /**
   * Claims what this instance has room for and starts delivering it, without waiting for the
   * deliveries; each delivery's end wakes it again.
   */
  async #drain(): Promise<void> {
    if (this.#stopped || this.#draining) return;
    this.#draining = true;
    try {
      do {
        this.#again = false;
        const now = this.#ctx.clock.now();
        if (this.#nextDueAt <= now) this.#nextDueAt = Number.POSITIVE_INFINITY;
        const skip = this.#unavailable(now);
        const room = (this.#channels.size - skip.length) * MAX_PER_CHANNEL;
        if (room <= 0) break;
        const limit = Math.min(room, CLAIM_BATCH);
        const batch = await this.#ctx.track(this.#ctx.store.claimNotifications(this.#ctx.instance, now, this.#leaseMs, limit, skip));
        for (const n of batch) {
          // A claim is not by channel: what one channel has no slot for goes back, uncounted.
          if ((this.#perChannel.get(n.channel) ?? 0) >= MAX_PER_CHANNEL) {
            void this.#settle(n, { status: 'pending', retryAt: now, error: n.lastError, refund: true });
            continue;
          }
          this.#perChannel.set(n.channel, (this.#perChannel.get(n.channel) ?? 0) + 1);
          void this.#deliver(n).finally(() => {
            this.#perChannel.set(n.channel, (this.#perChannel.get(n.channel) ?? 1) - 1);
            this.wake();
          });
        }
        if (batch.length === limit) this.#again = true;
      } while (this.#again && !this.#stopped);
    } catch (error) {
      this.#ctx.reportError(error, 'store');
    } finally {
      this.#draining = false;
      if (!this.#stopped) {
        const untilDue = this.#nextDueAt - this.#ctx.clock.now();
        this.#ctx.timers.after(this.#timer, Math.max(0, Math.min(this.#intervalMs, untilDue)));
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
      // Claimed as the scheduler was stopping: left for whoever runs next, uncounted.
      if (this.#stopped) throw new Error('the scheduler is stopping');
      if (channel === undefined) throw new Error(`channel "${n.channel}" is not configured on instance ${ctx.instance}`);
      await ctx.track(channel.send(event, controller.signal));
      outcome = { status: 'delivered' };
      ctx.events.emit('notification:sent', { eventId: n.eventId, kind: n.kind, task: n.task, channel: n.channel, attempt: n.attempts });
    } catch (error) {
      outcome = this.#failed(n, error, controller.signal.aborted || isStopping(error));
    } finally {
      this.#inFlight.delete(controller);
    }
    await this.#settle(n, outcome);
  }

  async #settle(n: NotificationRecord, outcome: NotificationOutcome): Promise<void> {
    const ctx = this.#ctx;
    try {
      const claim = { eventId: n.eventId, channel: n.channel, instance: ctx.instance, attempt: n.attempts };
      await ctx.track(ctx.store.settleNotification(claim, outcome, ctx.clock.now()));
    } catch (error) {
      // Its claim lapses and it is delivered again: at least once, never lost.
      ctx.reportError(error, 'store');
    }
  }

  /** What a failed attempt leads to: uncounted and due at once (a stop), due after the receiver's wait or a backoff, or failed for good. */
  #failed(n: NotificationRecord, error: unknown, stopped: boolean): NotificationOutcome {
    const ctx = this.#ctx;
    const now = ctx.clock.now();
    const message = messageOf(error).slice(0, MAX_ERROR_CHARS);
    if (stopped) return { status: 'pending', retryAt: now, error: message, refund: true };
    const asked = error instanceof NotifyDeliveryError ? error.retryAfterMs : null;
    let outcome: NotificationOutcome;
    if (asked !== null) {
      // The receiver said how long to wait: everything for that channel waits, and the attempt does not count.
      this.#coolUntil.set(n.channel, Math.max(this.#coolUntil.get(n.channel) ?? 0, now + asked));
      outcome = { status: 'pending', retryAt: now + asked, error: message, refund: true };
    } else {
      const delay = isRetryable(error) ? notifyRetryDelay(this.#retry, n.attempts, ctx.random) : null;
      outcome = delay === null ? { status: 'failed', error: message } : { status: 'pending', retryAt: now + delay, error: message };
    }
    if (outcome.status === 'pending') this.#nextDueAt = Math.min(this.#nextDueAt, outcome.retryAt);
    const final = outcome.status === 'failed';
    ctx.events.emit('notification:failed', { eventId: n.eventId, kind: n.kind, task: n.task, channel: n.channel, attempt: n.attempts, error: message, final });
    ctx.logger.warn({ eventId: n.eventId, channel: n.channel, attempt: n.attempts, final, err: message }, 'alert not delivered');
    return outcome;
  }
}

function isStopping(error: unknown): boolean {
  return error instanceof Error && error.message === 'the scheduler is stopping';
}

/** Whatever was thrown, as one bounded line (a Proxy or a getter that throws included). */
function messageOf(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return 'the channel threw a value that cannot be shown';
  }
}
