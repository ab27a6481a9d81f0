import type { SlotRef, Store } from '../store/port.ts';
import type { ErrorContext } from './events.ts';
import type { Job } from './task-runtime.ts';
import { type ElapsedEntry, timerEntry, type TimerQueue } from './timer-queue.ts';

/** A dispatch with at least this many scheduled first attempts is shared among the peers. */
export const SHARE_FROM_JOBS = 32;
/**
 * How long after their instant, at least, the peers' shares are checked for ticks nobody
 * claimed; a large burst waits twice as long as its claim is expected to take, so the check does
 * not find the owners' claims still in flight (and queue behind their locks).
 */
export const SHARE_GRACE_MS = 1_000;

/**
 * The peers as this instance's polls report them, and whether they have settled: replicas that
 * see different peers (one just joined, or just left) can each leave a task to another, and
 * those ticks then wait for the grace check — a second late, which for a task due every second
 * means its next tick comes first. So a burst is shared only once the list has not changed for
 * two poll intervals (every replica polls within one, so all have seen the same change); until
 * then each replica claims everything, as without sharing.
 */
export class PeerView {
  readonly #settleMs: number;
  #peers: readonly string[] = [];
  #changedAt = Number.NEGATIVE_INFINITY;
  #known = false;

  constructor(pollIntervalMs: number) {
    this.#settleMs = 2 * pollIntervalMs;
  }

  /** False until a poll has reported the peers. */
  get known(): boolean {
    return this.#known;
  }

  /** Every peer the last poll reported (this instance included). */
  get all(): readonly string[] {
    return this.#peers;
  }

  /** Records a poll's peers; true when the list changed. */
  update(peers: readonly string[], monotonicNow: number): boolean {
    this.#known = true;
    if (peers.length === this.#peers.length && peers.every((p, i) => p === this.#peers[i])) return false;
    this.#peers = peers;
    this.#changedAt = monotonicNow;
    return true;
  }

  /** The peers to share a burst with now: none while the list has not settled. */
  sharing(monotonicNow: number): readonly string[] {
    return monotonicNow - this.#changedAt >= this.#settleMs ? this.#peers : [];
  }
}

/** What sharing a burst needs from the scheduler. */
export interface PeerShareHost {
  readonly store: Store;
  readonly timers: TimerQueue;
  readonly instance: string;
  /** The live instances running the same tasks (this one included), from the last poll. */
  peers(): readonly string[];
  /**
   * The peers the last poll reported, settled or not (see {@link PeerView.all}): while they have
   * not settled, a burst is claimed whole by every replica, this one's share first.
   */
  unsettledPeers(): readonly string[];
  /** What claiming one job of a large batch has taken lately, ms. */
  claimCostMs(): number;
  /** Wall-clock now, ms. */
  now(): number;
  /** Jobs nobody claimed by their instant plus the grace: claim them after all. */
  claim(jobs: readonly Job[]): void;
  /** A peer claimed this job's slot. */
  taken(job: Job): void;
  reportError(error: unknown, context: ErrorContext): void;
}

/** Jobs that may be left to a peer: first attempts of scheduled ticks, not yet checked. */
const shareable = (job: Job): boolean => job.skip === null && job.trigger === 'schedule' && job.attempt === 1 && !job.fromBacklog && !job.checkedShare;

/**
 * Shares a burst of due ticks among the replicas that run the same tasks (decision 025): each
 * claims only the tasks it owns (`peers[hash(task) mod peers]`), so replicas never contend for the
 * same rows and each runs about its share. The others' jobs wait until their instant plus a grace;
 * then one read asks the store which of them nobody claimed (a peer died or stalled), and those
 * are claimed here after all. Membership is only a hint: replicas that disagree on it claim a
 * slot twice and one insert wins, and every job is claimed by its owner or checked after the grace.
 */
export class PeerShare {
  readonly #host: PeerShareHost;
  /** Jobs left to peers, by the instant they are checked at. */
  readonly #waiting = new Map<number, { readonly jobs: Job[]; readonly entry: ElapsedEntry; checking: boolean }>();
  #size = 0;

  constructor(host: PeerShareHost) {
    this.#host = host;
  }

  /** Jobs waiting for the check. */
  get size(): number {
    return this.#size;
  }

  /**
   * Returns the jobs to claim now; keeps the ones a peer owns. `whole`: the peers have not settled
   * and this instance claims a burst whole, its own share (by the unsettled list) first; the
   * dispatcher then claims it in chunks, so that replicas that all claim everything start on
   * different rows and no statement locks the whole burst (decision 035).
   */
  split(batch: Job[]): { readonly claim: Job[]; readonly whole: boolean } {
    const peers = this.#host.peers();
    let candidates = 0;
    for (const job of batch) if (shareable(job)) candidates++;
    if (candidates < SHARE_FROM_JOBS) return { claim: batch, whole: false };
    if (peers.length < 2 || !peers.includes(this.#host.instance)) {
      // Whole only among replicas that have not settled: a lone replica claims a burst in one statement.
      const all = this.#host.unsettledPeers();
      if (all.length < 2 || !all.includes(this.#host.instance)) return { claim: batch, whole: false };
      return { claim: ownFirst(batch, all, this.#host.instance), whole: true };
    }
    const mine: Job[] = [];
    let latest = Number.NEGATIVE_INFINITY;
    const left: Job[] = [];
    for (const job of batch) {
      if (!shareable(job) || peers[job.runtime.shareHash % peers.length] === this.#host.instance) {
        mine.push(job);
        continue;
      }
      job.checkedShare = true;
      left.push(job);
      latest = Math.max(latest, job.dueAt);
    }
    // Each peer claims about as many as this instance does.
    const graceMs = Math.max(SHARE_GRACE_MS, 2 * this.#host.claimCostMs() * mine.length);
    if (left.length > 0) this.#wait(left, Math.ceil(latest + graceMs));
    return { claim: mine, whole: false };
  }

  /** Stops: hands back every job still waiting (none was claimed here). */
  close(): Job[] {
    const out: Job[] = [];
    for (const { jobs, entry } of this.#waiting.values()) {
      this.#host.timers.cancel(entry);
      // A loop, not push(...jobs): a group of 130,000 overflows the argument limit.
      for (const job of jobs) out.push(job);
    }
    this.#waiting.clear();
    this.#size = 0;
    return out;
  }

  #wait(jobs: Job[], checkAt: number): void {
    this.#size += jobs.length;
    const group = this.#waiting.get(checkAt);
    if (group !== undefined && !group.checking) {
      group.jobs.push(...jobs);
      return;
    }
    const entry = timerEntry(() => void this.#check(checkAt));
    this.#waiting.set(checkAt, { jobs, entry, checking: false });
    // Elapsed time, not the wall clock: a clock stepped back must not put the check off.
    this.#host.timers.after(entry, checkAt - this.#host.now());
  }

  async #check(checkAt: number): Promise<void> {
    const group = this.#waiting.get(checkAt);
    if (group === undefined || group.checking) return;
    // The group stays until the answer is in: a stop meanwhile hands its jobs back (close).
    group.checking = true;
    const slots: SlotRef[] = group.jobs.map((job) => ({ task: job.runtime.name, slot: job.slot, attempt: job.attempt }));
    let free: boolean[] | null;
    try {
      free = await this.#host.store.unclaimed(slots);
    } catch (error) {
      this.#host.reportError(error, 'store');
      free = null;
    }
    if (this.#waiting.get(checkAt) !== group) return; // closed meanwhile: the jobs went back
    this.#waiting.delete(checkAt);
    this.#size -= group.jobs.length;
    // Cannot tell: claim them all; the claim itself finds out which are taken.
    if (free === null) {
      this.#host.claim(group.jobs);
      return;
    }
    const unclaimed = group.jobs.filter((_, i) => free[i] === true);
    for (let i = 0; i < group.jobs.length; i++) if (free[i] !== true) this.#host.taken(group.jobs[i] as Job);
    if (unclaimed.length > 0) this.#host.claim(unclaimed);
  }
}

/**
 * The batch with the jobs `instance` would own under `peers` before the others of the same
 * priority: a peer's urgent jobs still go before this instance's routine ones. Otherwise in the
 * batch's order (skip records first, then by priority and due instant).
 */
function ownFirst(batch: readonly Job[], peers: readonly string[], instance: string): Job[] {
  const rank = (job: Job) => (job.skip !== null ? 0 : 1);
  const foreign = (job: Job) => (shareable(job) && peers[job.runtime.shareHash % peers.length] !== instance ? 1 : 0);
  return batch
    .map((job, i) => ({ job, i }))
    .sort((a, b) => rank(a.job) - rank(b.job) || b.job.runtime.policy.priority - a.job.runtime.policy.priority || foreign(a.job) - foreign(b.job) || a.i - b.i)
    .map((x) => x.job);
}
