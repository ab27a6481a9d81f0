import type { InstanceBeat, LeaseRef, PollResult, Store } from '../store/port.ts';
import type { RetentionPolicy } from '../store/records.ts';
import { setDigest } from '../util/hash.ts';
import type { ErrorContext } from './events.ts';
import { type ElapsedEntry, timerEntry, type TimerQueue } from './timer-queue.ts';

/** Most leases renewed in one statement (the end writer's batch size too). */
const RENEW_CHUNK = 1_000;
/** Chunks smaller than this say little about the cost per lease (a round trip dominates). */
const RENEW_MEASURE_FROM = 32;

/** What the housekeeping loops need from their scheduler. */
export interface HousekeepingHost {
  readonly store: Store;
  readonly timers: TimerQueue;
  readonly instance: string;
  now(): number;
  /** Elapsed time (never jumps): lease validity is measured with it. */
  monotonic(): number;
  /** Runs a store call as tracked work (so `onIdle` waits for it). */
  track<T>(work: Promise<T>): Promise<T>;
  reportError(error: unknown, context: ErrorContext): void;
}

/**
 * Asks the store what other instances changed (triggers, cancels, pauses, expired leases, due
 * retries) every `intervalMs`, and at once when the store signals a change.
 */
/**
 * What this instance tells the store with each poll: that it is alive, and which tasks it runs.
 * The names go only when they changed since the last poll the store acknowledged: 100,000 task
 * names are not sent every few seconds.
 */
export class Beacon {
  readonly #pollIntervalMs: number;
  readonly #names: () => string[];
  /** Tells this process's task lists apart from another process's of the same instance name. */
  readonly #nonce = Math.random().toString(36).slice(2, 10);
  #version = 0;
  #delivered = -1;
  #digest = '';

  constructor(pollIntervalMs: number, names: () => string[]) {
    this.#pollIntervalMs = pollIntervalMs;
    this.#names = names;
  }

  /** The set of tasks changed (added, removed). */
  changed(): void {
    this.#version++;
  }

  /** The beat for the next poll, and its version, to confirm with {@link delivered} once the poll succeeded. */
  next(): { readonly beat: InstanceBeat; readonly version: number } {
    const version = this.#version;
    const tasks = version === this.#delivered ? null : this.#names();
    if (tasks !== null) this.#digest = setDigest(tasks);
    return { beat: { pollIntervalMs: this.#pollIntervalMs, tasks, tasksToken: `${this.#nonce}:${version}`, tasksDigest: this.#digest }, version };
  }

  /**
   * The poll with the beat of `version` succeeded. `current` false: the store holds another
   * process's task list under this name; the next beat sends this one's again.
   */
  delivered(version: number, current = true): void {
    if (current) this.#delivered = Math.max(this.#delivered, version);
    else this.#delivered = -1;
  }
}

/** When a poll was sent and answered (monotonic ms): the round trip that measures the store's clock. */
export interface RoundTrip {
  readonly sentAt: number;
  readonly answeredAt: number;
}

export class Poller {
  readonly #host: HousekeepingHost;
  readonly #intervalMs: number;
  readonly #retryGraceMs: number;
  readonly #apply: (result: PollResult, trip: RoundTrip) => void;
  readonly #held: () => string[];
  readonly #beacon: Beacon;
  readonly #entry: ElapsedEntry;
  #pauseVersion = 0;
  #inFlight = false;
  #again = false;
  #running = false;

  constructor(host: HousekeepingHost, intervalMs: number, retryGraceMs: number, held: () => string[], beacon: Beacon, apply: (result: PollResult, trip: RoundTrip) => void) {
    this.#host = host;
    this.#beacon = beacon;
    this.#intervalMs = intervalMs;
    this.#retryGraceMs = retryGraceMs;
    this.#held = held;
    this.#apply = apply;
    this.#entry = timerEntry(() => this.pollNow());
  }

  /** Starts with a poll at once: triggers, retries and queued ticks may be waiting from before. */
  start(): void {
    this.#running = true;
    this.pollNow();
  }

  stop(): void {
    this.#running = false;
    this.#host.timers.cancel(this.#entry);
  }

  /** Polls now, or right after the poll in flight. */
  pollNow(): void {
    if (!this.#running) return;
    if (this.#inFlight) {
      this.#again = true;
      return;
    }
    this.#inFlight = true;
    this.#host.timers.cancel(this.#entry);
    const { beat, version } = this.#beacon.next();
    const request = {
      instance: this.#host.instance,
      now: this.#host.now(),
      pauseVersion: this.#pauseVersion,
      retryGraceMs: this.#retryGraceMs,
      held: this.#held(),
      beat,
    };
    const sentAt = this.#host.monotonic();
    void this.#host
      .track(this.#host.store.poll(request))
      .then(
        (result) => {
          this.#beacon.delivered(version, result.tasksCurrent !== false);
          if (!this.#running) return;
          this.#pauseVersion = result.pauseVersion;
          this.#apply(result, { sentAt, answeredAt: this.#host.monotonic() });
        },
        (error: unknown) => this.#host.reportError(error, 'store'),
      )
      .finally(() => {
        this.#inFlight = false;
        if (!this.#running) return;
        if (this.#again) {
          this.#again = false;
          this.pollNow();
        } else {
          this.#host.timers.after(this.#entry, this.#intervalMs);
        }
      });
  }
}

/** A lease this instance holds, and until when (monotonic ms) it is known to hold. */
export interface HeldLease extends LeaseRef {
  readonly validUntil: number;
  /** The run's handler has returned: only its end, waiting to be written, needs the lease. */
  readonly ended: boolean;
}

/**
 * The longest lease an ended run's renewal asks for, in leases: if this instance dies with ends
 * unwritten, their runs are reaped this much later at worst.
 */
export const MAX_DRAIN_LEASES = 10;

/** What the heartbeat renews, and whom it tells how renewals went. */
export interface LeaseKeeper {
  /** The leases this instance holds now. */
  leases(): HeldLease[];
  /** How long writing the ends waiting now will take, at the store's recent pace (ms). */
  endsDrainMs(): number;
  /** These leases were renewed; each is valid until `validUntil` (monotonic ms). */
  renewed(runIds: readonly string[], validUntil: number): void;
  /** Another instance holds these runs now. */
  lost(runIds: readonly string[]): void;
  /**
   * A renewal failed (the store is unreachable): every lease that lapses by `deadline`
   * (monotonic ms) can no longer be renewed in time, so its run must stop before another
   * replica may take it over.
   */
  lapsing(deadline: number): void;
}

/**
 * Renews the leases of this instance's running runs every third of the lease, while there are
 * any. When the store cannot be reached, runs are stopped one renewal before their lease lapses:
 * another replica may then take the tick over, and a run must never go on twice at once.
 *
 * A run whose handler has returned holds its lease only so that no replica reaps it before its
 * end is written. After a burst those are thousands, and renewing each every third of a lease
 * wrote as many rows as the ends themselves, so the ends fell further behind and leases lapsed
 * (decision 026). Such a lease is renewed only when it would otherwise lapse within two beats,
 * and for as long as the ends waiting ahead of it are expected to take (twice over, up to
 * {@link MAX_DRAIN_LEASES} leases): once, as a rule, instead of every beat.
 */
export class Heartbeat {
  readonly #host: HousekeepingHost;
  readonly #intervalMs: number;
  readonly #leaseMs: number;
  readonly #keeper: LeaseKeeper;
  readonly #entry: ElapsedEntry;
  #running = false;
  #urgent = false;
  /**
   * Renewals go in two lanes, each one round at a time: a round that takes longer than the
   * interval must not be joined by another of the same rows, queueing on their locks (the
   * watchdog guards the leases meanwhile). Running handlers' leases have a lane of their own, so
   * a long round of a burst's ended runs never holds them up; the two lanes renew different rows.
   */
  readonly #lanes = { running: { inFlight: false, again: false }, ended: { inFlight: false, again: false } };
  /** What renewing one lease of a large chunk has taken lately, ms. */
  #costPerLeaseMs = 0;

  constructor(host: HousekeepingHost, leaseMs: number, keeper: LeaseKeeper) {
    this.#host = host;
    this.#leaseMs = leaseMs;
    // A third of the lease: two renewals can fail before the lease lapses.
    this.#intervalMs = Math.max(1, Math.floor(leaseMs / 3));
    this.#keeper = keeper;
    this.#entry = timerEntry(() => this.#beat());
  }

  /** Arms the heartbeat if it is not armed; idle schedulers never wake for it. */
  ensure(): void {
    this.#running = true;
    if (!this.#host.timers.has(this.#entry)) this.#host.timers.after(this.#entry, this.#intervalMs);
  }

  /** Renews every held lease now, out of turn; calls in one turn share one renewal. */
  renewNow(): void {
    this.#running = true;
    if (this.#urgent) return;
    this.#urgent = true;
    queueMicrotask(() => {
      this.#urgent = false;
      this.#host.timers.cancel(this.#entry);
      this.#beat();
    });
  }

  stop(): void {
    this.#running = false;
    this.#host.timers.cancel(this.#entry);
  }

  #beat(): void {
    const held = this.#keeper.leases();
    if (held.length === 0 || !this.#running) return;
    this.#host.timers.after(this.#entry, this.#intervalMs);
    if (held.some((l) => !l.ended)) this.#round(this.#lanes.running, false);
    if (held.some((l) => l.ended)) this.#round(this.#lanes.ended, true);
  }

  /**
   * The leases of one lane due now, soonest to lapse first. A lease with more than a whole lease
   * left (a claim made ahead of its instant) waits, and a burst of short runs that end before then
   * is never renewed at all. Ended runs look ahead as far again as renewing all of them would
   * take: a burst's leases all lapse together, and the last chunk must still arrive in time.
   */
  #due(ended: boolean, skip: ReadonlySet<string>): HeldLease[] {
    const now = this.#host.monotonic();
    const held = this.#keeper.leases().filter((l) => l.ended === ended);
    const horizon = now + this.#leaseMs + (ended ? held.length * this.#costPerLeaseMs : 0);
    // Renewed earlier in this round: again only once it is down to its last two beats.
    const urgent = now + 2 * this.#intervalMs;
    return held.filter((l) => l.validUntil <= horizon && (!skip.has(l.runId) || l.validUntil <= urgent)).sort((a, b) => a.validUntil - b.validUntil);
  }

  /** Starts a round in a lane, or, if one is in flight, another right after it (a fresh beat). */
  #round(lane: { inFlight: boolean; again: boolean }, ended: boolean): void {
    if (lane.inFlight) {
      // Not a whole interval later: a lease may be down to its last beat by then.
      lane.again = true;
      return;
    }
    const due = this.#due(ended, new Set());
    if (due.length === 0) return;
    lane.inFlight = true;
    void this.#renew(ended, due).finally(() => {
      lane.inFlight = false;
      if (lane.again && this.#running) {
        lane.again = false;
        this.#beat();
      }
    });
  }

  /**
   * A renewal that never answers (a connection gone silent) fails after `ms` (a whole lease: a
   * slow answer under load is still an answer, and the watchdog guards the leases meanwhile): the
   * next round is not held up behind it for ever.
   */
  #answerWithin<T>(work: Promise<T>, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const deadline = timerEntry(() => reject(new Error(`a lease renewal got no answer within ${ms} ms`)));
      this.#host.timers.after(deadline, ms);
      work.then(
        (value) => {
          this.#host.timers.cancel(deadline);
          resolve(value);
        },
        (error: unknown) => {
          this.#host.timers.cancel(deadline);
          reject(error);
        },
      );
    });
  }

  /**
   * Renews a lane's due leases in chunks, one after another: each statement holds its rows' locks
   * briefly, so the ends being written for the same runs never wait behind a renewal of a whole
   * burst. Each chunk takes the soonest to lapse at that moment, so a lease that comes due during
   * a long round (a handler started meanwhile) goes next, not last; a chunk is sized to take
   * about half a beat at the store's measured pace. Ended runs get the drain lease.
   */
  async #renew(ended: boolean, first: HeldLease[]): Promise<void> {
    const renewed = new Set<string>();
    while (this.#running) {
      const due = renewed.size === 0 ? first : this.#due(ended, renewed);
      if (due.length === 0) return;
      const size = this.#costPerLeaseMs > 0 ? Math.max(RENEW_MEASURE_FROM, Math.min(RENEW_CHUNK, Math.floor(this.#intervalMs / 2 / this.#costPerLeaseMs))) : RENEW_CHUNK;
      const leases: LeaseRef[] = due.slice(0, size).map((l) => ({ runId: l.runId, fencingToken: l.fencingToken }));
      const leaseMs = ended ? Math.round(this.#leaseMs + Math.min(2 * this.#keeper.endsDrainMs(), (MAX_DRAIN_LEASES - 1) * this.#leaseMs)) : this.#leaseMs;
      // The store counts the lease from when it receives the renewal, which is after this.
      const sentAt = this.#host.monotonic();
      let lost: string[];
      try {
        lost = await this.#host.track(this.#answerWithin(this.#host.store.renewLeases(leases, leaseMs, this.#host.now()), this.#leaseMs));
      } catch (error) {
        this.#host.reportError(error, 'store');
        // The next renewal lands one interval from now at the earliest (if the store is back).
        this.#keeper.lapsing(this.#host.monotonic() + this.#intervalMs);
        return;
      }
      if (leases.length >= RENEW_MEASURE_FROM) {
        const perLease = (this.#host.monotonic() - sentAt) / leases.length;
        this.#costPerLeaseMs = this.#costPerLeaseMs === 0 ? perLease : (this.#costPerLeaseMs + perLease) / 2;
      }
      for (const l of leases) renewed.add(l.runId);
      if (lost.length > 0) this.#keeper.lost(lost);
      const gone = new Set(lost);
      this.#keeper.renewed(
        leases.filter((l) => !gone.has(l.runId)).map((l) => l.runId),
        sentAt + leaseMs,
      );
    }
  }
}

/** While a burst keeps this instance busy, pruning looks again this much later. */
export const PRUNE_YIELD_MS = 10_000;
/** Longest one batch of pruning waits for bursts to pass; then it goes anyway. */
export const MAX_PRUNE_WAIT_MS = 600_000;

/**
 * Applies the history retention policy in bounded batches, a pass every `intervalMs`. A batch
 * scans the runs table and can wait: while `busy` says a burst keeps this instance's store work
 * going, it waits for the burst (at most {@link MAX_PRUNE_WAIT_MS}), so the burst's run ends get
 * the store's CPU (decision 038).
 */
export class Pruner {
  static readonly BATCH = 500;
  readonly #host: HousekeepingHost;
  readonly #policy: RetentionPolicy;
  readonly #intervalMs: number;
  readonly #busy: () => boolean;
  readonly #entry: ElapsedEntry;
  #running = false;
  /** A pass is deleting (a stop and start meanwhile must not begin a second one beside it). */
  #inPass = false;
  #waitedMs = 0;

  constructor(host: HousekeepingHost, policy: RetentionPolicy, intervalMs: number, busy: () => boolean) {
    this.#host = host;
    this.#policy = policy;
    this.#intervalMs = intervalMs;
    this.#busy = busy;
    this.#entry = timerEntry(() => void this.#prune());
  }

  start(firstDelayMs: number): void {
    this.#running = true;
    this.#waitedMs = 0;
    // A pass still in flight arms the next one itself when it ends.
    if (!this.#inPass) this.#host.timers.after(this.#entry, firstDelayMs);
  }

  stop(): void {
    this.#running = false;
    this.#host.timers.cancel(this.#entry);
  }

  /**
   * True (and the next look armed) when the next batch should wait for a burst to pass. Each
   * batch waits at most {@link MAX_PRUNE_WAIT_MS}: an instance busy for hours still prunes, a
   * batch every 10 minutes, and a backlog is not then deleted in one go.
   */
  #yields(): boolean {
    if (!this.#busy() || this.#waitedMs >= MAX_PRUNE_WAIT_MS) {
      this.#waitedMs = 0;
      return false;
    }
    this.#waitedMs += PRUNE_YIELD_MS;
    this.#host.timers.after(this.#entry, PRUNE_YIELD_MS);
    return true;
  }

  async #prune(): Promise<void> {
    if (this.#inPass || this.#yields()) return;
    this.#inPass = true;
    let again = false;
    try {
      // Batch by batch, yielding between them, so a large backlog never stalls ticks.
      while (this.#running) {
        const deleted = await this.#host.track(this.#host.store.prune(this.#policy, this.#host.now(), Pruner.BATCH));
        if (deleted < Pruner.BATCH) break;
        if (this.#running && this.#yields()) {
          again = true;
          break;
        }
      }
    } catch (error) {
      this.#host.reportError(error, 'store');
    } finally {
      this.#inPass = false;
    }
    if (!again && this.#running) this.#host.timers.after(this.#entry, this.#intervalMs);
  }
}
