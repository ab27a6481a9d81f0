import { type HeapItem, MinHeap } from '../util/min-heap.ts';
import { type Clock, MAX_TIMER_DELAY, type TimerHandle } from './clock.ts';

/**
 * Something the queue calls back when it is due. An entry is timed either by the wall clock
 * (`wallTime`, schedule ticks and retries) or by elapsed time (`deadline`, timeouts and
 * heartbeats); the queue sets the one it uses and ignores the other.
 */
export interface TimerEntry extends HeapItem {
  wallTime: number;
  /** Fires at its own time, never ahead with a burst at the same instant (set before `atWall`). */
  exact?: boolean;
  onDue(): void;
}

/** An entry timed by elapsed (monotonic) time. */
export interface ElapsedEntry extends TimerEntry {
  deadline: number;
}

/** A timer entry that calls `fn`. */
export function timerEntry(fn: () => void): ElapsedEntry {
  return { heapIndex: -1, deadline: 0, wallTime: Number.NaN, onDue: fn };
}

/** A detected step of the wall clock relative to elapsed (monotonic) time. */
export interface ClockJump {
  /** Wall time minus what elapsed time predicted; positive when the clock moved forward. */
  readonly deltaMs: number;
  /** The wall time elapsed time predicted for now. */
  readonly expectedWall: number;
  /** The wall time the clock actually shows now. */
  readonly actualWall: number;
}

export interface TimerQueueOptions {
  /** Unref the armed timer so it never keeps the process alive by itself. */
  readonly unref: boolean;
  /**
   * Longest single sleep. Bounds how long a wall-clock jump can go unnoticed while entries are
   * far in the future; also keeps each armed delay below Node's 2^31−1 ms limit.
   */
  readonly maxSleepMs: number;
  /** Skew between wall and monotonic elapsed time that counts as a clock jump. */
  readonly jumpThresholdMs: number;
  /**
   * Wall entries fire up to this long before they are due, so their work (claims) is done by
   * the due instant; whoever runs them waits for the instant itself. 0 fires them exactly.
   */
  readonly prepareMs: number;
  /** Called when a jump is detected, before any entry of that wake fires. */
  readonly onJump: (jump: ClockJump) => void;
  /** Called after every wake's due entries fired, so callers can flush batched work. */
  readonly onWakeEnd: () => void;
  /**
   * How much earlier than `prepareMs` an instant with `count` wall entries due should fire: a
   * burst's claims take longer than one claim's round trip (decision 025). Absent: never earlier.
   */
  readonly burstLeadMs?: (count: number) => number;
}

/** An instant with at least this many wall entries is a burst, and may fire earlier. */
export const BURST_ENTRIES = 32;
/** What firing one entry is assumed to cost until a burst has been measured. */
const INITIAL_FIRE_COST_MS = 0.04;
/** Longest a burst fires ahead of its instant, however large. */
const MAX_BURST_LEAD_MS = 30_000;

const byWallTime = (a: TimerEntry, b: TimerEntry): boolean => a.wallTime < b.wallTime;

/** Most lead the queue takes for native timer lateness. */
const MAX_LEAD_MS = 4;
/** Weight of the newest wake in the running average of timer lateness. */
const LEAD_SMOOTHING = 0.2;
const byDeadline = (a: ElapsedEntry, b: ElapsedEntry): boolean => a.deadline < b.deadline;

/**
 * All of a scheduler's timed work behind one armed timer. Two min-heaps, one ordered by wall
 * time and one by elapsed time, and a single native timeout for whichever head comes first.
 * Wall entries need no re-keying when the wall clock jumps: a jump moves them all alike, and
 * the delay to the head is always measured against the current wall clock.
 */
export class TimerQueue {
  readonly #clock: Clock;
  readonly #options: TimerQueueOptions;
  readonly #wall = new MinHeap<TimerEntry>(byWallTime);
  readonly #elapsed = new MinHeap<ElapsedEntry>(byDeadline);
  #timer: TimerHandle | null = null;
  /** Monotonic instant the armed timer targets; Infinity when none is armed. */
  #armedFor = Number.POSITIVE_INFINITY;
  #armPending = false;
  #running = false;
  #firing = false;
  #lastWall = 0;
  #lastMono = 0;
  /**
   * How early to arm wall entries: native timers fire ~1–2 ms late, so the queue arms by their
   * typical lateness ahead. Learnt from past wakes; only when entries may fire early anyway.
   */
  #leadMs = 0;
  /** What firing one entry of a burst has taken lately (its onDue work: planning, queueing), ms. */
  #fireCostMs = INITIAL_FIRE_COST_MS;
  /** Wall entries per instant (only with `burstLeadMs`), and the instants that are bursts, ascending. */
  readonly #perInstant = new Map<number, number>();
  #bursts: number[] = [];

  constructor(clock: Clock, options: TimerQueueOptions) {
    this.#clock = clock;
    this.#options = options;
    if (options.prepareMs > 0) this.#leadMs = 1;
  }

  /** How early wall entries fire (see {@link TimerQueueOptions.prepareMs}). */
  get prepareMs(): number {
    return this.#options.prepareMs;
  }

  get size(): number {
    return this.#wall.size + this.#elapsed.size;
  }

  /** True while a native timer is armed; at most one ever is. */
  get armed(): boolean {
    return this.#timer !== null;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#lastWall = this.#clock.now();
    this.#lastMono = this.#clock.monotonic();
    this.#requestArm();
  }

  /** The burst lead depends on more than the queue (how many peers share a burst): asks it again. */
  reconsiderBursts(): void {
    if (this.#bursts.length > 0) this.#requestArm();
  }

  /** Disarms; entries stay queued but never fire until `start` again. */
  stop(): void {
    this.#running = false;
    this.#disarm();
  }

  /** Empties the queue. */
  clear(): void {
    this.#wall.clear();
    this.#elapsed.clear();
    this.#perInstant.clear();
    this.#bursts = [];
    this.#disarm();
  }

  /** Schedules `entry` at a wall-clock instant. */
  atWall(entry: TimerEntry, wallInstant: number): void {
    if (this.#wall.has(entry)) this.#uncount(entry);
    entry.wallTime = wallInstant;
    this.#wall.update(entry);
    this.#count(entry);
    // With a re-arm already pending (registering many tasks), there is nothing to compare.
    if (!this.#armPending && this.#clock.monotonic() + (wallInstant - this.#clock.now()) < this.#armedFor) this.#requestArm();
  }

  /** Schedules `entry` after `delayMs` of elapsed time. */
  after(entry: ElapsedEntry, delayMs: number): void {
    entry.deadline = this.#clock.monotonic() + Math.max(0, delayMs);
    this.#elapsed.update(entry);
    if (!this.#armPending && entry.deadline < this.#armedFor) this.#requestArm();
  }

  cancel(entry: TimerEntry): void {
    const fromWall = this.#wall.remove(entry);
    if (fromWall) this.#uncount(entry);
    const removed = fromWall || this.#elapsed.remove(entry as ElapsedEntry);
    if (removed && this.size === 0) this.#disarm();
  }

  #count(entry: TimerEntry): void {
    if (this.#options.burstLeadMs === undefined || entry.exact === true) return;
    const instant = entry.wallTime;
    const n = (this.#perInstant.get(instant) ?? 0) + 1;
    this.#perInstant.set(instant, n);
    if (n === BURST_ENTRIES) {
      const at = this.#bursts.findIndex((b) => b > instant);
      this.#bursts.splice(at < 0 ? this.#bursts.length : at, 0, instant);
    }
  }

  #uncount(entry: TimerEntry): void {
    if (this.#options.burstLeadMs === undefined || entry.exact === true) return;
    const instant = entry.wallTime;
    const n = (this.#perInstant.get(instant) ?? 0) - 1;
    if (n > 0) this.#perInstant.set(instant, n);
    else this.#perInstant.delete(instant);
    if (n === BURST_ENTRIES - 1) this.#bursts.splice(this.#bursts.indexOf(instant), 1);
  }

  /** When (wall ms) the burst at `instant` should fire: earlier than a lone entry, by its size. */
  #burstFireAt(instant: number): number {
    const count = this.#perInstant.get(instant) ?? 0;
    const extra = (this.#options.burstLeadMs?.(count) ?? 0) + this.#fireCostMs * count;
    return instant - this.#options.prepareMs - this.#leadMs - Math.min(MAX_BURST_LEAD_MS, Math.max(0, extra));
  }

  has(entry: TimerEntry): boolean {
    return this.#wall.has(entry) || this.#elapsed.has(entry as ElapsedEntry);
  }

  /** True when an entry is due but has not fired yet. */
  hasDue(): boolean {
    const wall = this.#wall.peek();
    const elapsed = this.#elapsed.peek();
    return (wall !== undefined && wall.wallTime <= this.#clock.now()) || (elapsed !== undefined && elapsed.deadline <= this.#clock.monotonic());
  }

  /** Arms once per burst of changes: registering 100k tasks re-arms once, not 100k times. */
  #requestArm(): void {
    if (this.#armPending || this.#firing || !this.#running) return;
    this.#armPending = true;
    queueMicrotask(() => {
      this.#armPending = false;
      this.#arm();
    });
  }

  /** Milliseconds until the queue should wake; Infinity when there is nothing to wake for. */
  #delayToWake(): number {
    const wall = this.#wall.peek();
    const elapsed = this.#elapsed.peek();
    const early = this.#options.prepareMs + this.#leadMs;
    const now = this.#clock.now();
    let wallWake = wall === undefined ? Number.POSITIVE_INFINITY : wall.wallTime - early;
    for (const burst of this.#bursts) wallWake = Math.min(wallWake, this.#burstFireAt(burst));
    return Math.min(wallWake - now, elapsed === undefined ? Number.POSITIVE_INFINITY : elapsed.deadline - this.#clock.monotonic());
  }

  #arm(): void {
    if (!this.#running || this.#firing) return;
    const toWake = this.#delayToWake();
    if (toWake === Number.POSITIVE_INFINITY) {
      this.#disarm();
      return;
    }
    const delay = Math.max(0, Math.min(toWake, this.#options.maxSleepMs, MAX_TIMER_DELAY));
    const target = this.#clock.monotonic() + delay;
    if (this.#timer !== null && target >= this.#armedFor) return;
    this.#disarm();
    this.#armedFor = target;
    this.#timer = this.#clock.setTimer(() => this.#onTimer(target), Math.ceil(delay), { unref: this.#options.unref });
  }

  #disarm(): void {
    this.#timer?.cancel();
    this.#timer = null;
    this.#armedFor = Number.POSITIVE_INFINITY;
  }

  #onTimer(target: number): void {
    this.#timer = null;
    this.#armedFor = Number.POSITIVE_INFINITY;
    if (this.#options.prepareMs > 0) {
      const late = this.#clock.monotonic() - target;
      this.#leadMs = Math.min(MAX_LEAD_MS, Math.max(0, (1 - LEAD_SMOOTHING) * this.#leadMs + LEAD_SMOOTHING * late));
    }
    this.#wake();
  }

  #wake(): void {
    if (!this.#running) return;
    this.#firing = true;
    try {
      this.#detectJump();
      const wallNow = this.#clock.now();
      const monoNow = this.#clock.monotonic();
      // Collect first, then fire: an entry that re-schedules itself for "now" waits for the
      // next wake instead of spinning this one.
      const due: TimerEntry[] = [];
      const horizon = wallNow + this.#options.prepareMs;
      // Bursts whose time has come fire whole, ahead of their instant; entries due before them
      // that are not yet due themselves go back.
      const bursts = new Set<number>();
      for (const burst of this.#bursts) if (burst > horizon && this.#burstFireAt(burst) <= wallNow) bursts.add(burst);
      const reach = bursts.size === 0 ? horizon : Math.max(horizon, ...bursts);
      const notYet: TimerEntry[] = [];
      for (let head = this.#wall.peek(); head !== undefined && head.wallTime <= reach; head = this.#wall.peek()) {
        this.#wall.remove(head);
        if (head.wallTime <= horizon || (bursts.has(head.wallTime) && head.exact !== true)) {
          this.#uncount(head);
          due.push(head);
        } else {
          notYet.push(head);
        }
      }
      for (const entry of notYet) this.#wall.push(entry);
      for (let head = this.#elapsed.peek(); head !== undefined && head.deadline <= monoNow; head = this.#elapsed.peek()) {
        this.#elapsed.remove(head);
        due.push(head);
      }
      const firedAt = this.#clock.monotonic();
      for (const entry of due) entry.onDue();
      if (due.length >= BURST_ENTRIES) this.#fireCostMs = (this.#clock.monotonic() - firedAt) / due.length;
      this.#options.onWakeEnd();
    } finally {
      this.#firing = false;
      this.#arm();
    }
  }

  #detectJump(): void {
    const wall = this.#clock.now();
    const mono = this.#clock.monotonic();
    const expectedWall = this.#lastWall + (mono - this.#lastMono);
    this.#lastWall = wall;
    this.#lastMono = mono;
    const deltaMs = wall - expectedWall;
    if (Math.abs(deltaMs) >= this.#options.jumpThresholdMs) this.#options.onJump({ deltaMs, expectedWall, actualWall: wall });
  }
}
