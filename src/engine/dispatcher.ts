import type { ClaimOutcome, ClaimRequest, Store } from '../store/port.ts';
import { MinHeap } from '../util/min-heap.ts';
import type { ErrorContext } from './events.ts';
import { PeerShare } from './peer-share.ts';
import type { Job } from './task-runtime.ts';
import type { TimerQueue } from './timer-queue.ts';

/**
 * The claim a job makes; `skip` overrides the job's own (to record it instead of running it). A
 * claim made ahead of the job's instant asks for the lease plus the wait: the handler gets a
 * whole lease from its start, however early the claim went out.
 */
export function claimRequest(job: Job, instance: string, leaseMs: number, now: number, skip: Job['skip'] = job.skip): ClaimRequest {
  const startAt = Math.max(now, job.dueAt);
  return {
    runId: job.runId,
    task: job.runtime.name,
    slot: job.slot,
    attempt: job.attempt,
    trigger: job.trigger,
    scheduledFor: job.scheduledFor,
    dueAt: job.dueAt,
    startAt,
    instance,
    skip,
    skippedTicks: job.skippedTicks,
    throughTick: job.throughTick,
    causedBy: job.causedBy,
    overlap: job.overlap,
    maxConcurrent: job.runtime.policy.maxConcurrent,
    // Whole milliseconds, whatever the clock gives: the stores keep leases as integers.
    leaseMs: Math.round(leaseMs + (startAt - now)),
  };
}

/** What a claim is assumed to cost per job until a large batch has been measured. */
const INITIAL_CLAIM_COST_MS = 0.15;
/** Batches smaller than this say little about the cost per job (a round trip dominates). */
const MEASURE_FROM_JOBS = 32;
/** Weight of the newest large batch in the running average of the claim cost per job. */
const COST_SMOOTHING = 0.5;
/**
 * A large batch's leases are lengthened by this many times what claiming it is expected to take:
 * its runs' ends are written at about the pace of the claims (each a row update), and until they
 * are written the leases must hold without being renewed row by row (decision 026).
 */
const END_ALLOWANCE_PER_CLAIM = 4;
/** The longest a batch's lease may be lengthened for its ends, in leases. */
const MAX_END_ALLOWANCE_LEASES = 9;

/**
 * Most jobs per claim statement when a burst is claimed whole by every replica (peers not yet
 * settled): each statement locks its task rows until it commits, and run ends, which lock theirs
 * too, wait behind it (decision 035).
 */
export const WHOLE_BURST_CHUNK = 1_000;

/** Higher priority first, then earlier due instant, then submission order. */
const beforeInQueue = (a: Job, b: Job): boolean => {
  const pa = a.runtime.policy.priority;
  const pb = b.runtime.policy.priority;
  if (pa !== pb) return pa > pb;
  if (a.dueAt !== b.dueAt) return a.dueAt < b.dueAt;
  return a.seq < b.seq;
};

export interface DispatcherHost {
  readonly store: Store;
  readonly timers: TimerQueue;
  readonly instance: string;
  readonly leaseMs: number;
  /** Most runs in progress at once on this instance. */
  readonly concurrency: number;
  now(): number;
  /** Elapsed time (never jumps): when each claim was sent, for its lease. */
  monotonic(): number;
  /** Jobs leave the queue for a claim. */
  onDispatch(jobs: readonly Job[]): void;
  /** Called once per job with its claim outcome. A `started` job keeps its slot until `release`. */
  onOutcome(job: Job, outcome: ClaimOutcome): void;
  /** A claim batch failed; the jobs are back in the queue and `retryLater` is up to the host. */
  onClaimError(error: unknown): void;
  /** The live instances running the same tasks (this one included), from the last poll. */
  peers(): readonly string[];
  /** The peers the last poll reported, whether or not they have settled. */
  unsettledPeers(): readonly string[];
  reportError(error: unknown, context: ErrorContext): void;
}

/**
 * Turns jobs into claims. Jobs wait in a priority queue while every concurrency slot is taken;
 * when slots free up, higher priority and earlier due time go first. Jobs submitted in the same
 * turn of the event loop are claimed in one store call, so a thousand tasks due at the same
 * instant cost one round trip; a large batch is first shared among the peers (see {@link PeerShare}).
 */
export class Dispatcher {
  readonly #host: DispatcherHost;
  readonly #share: PeerShare;
  readonly #queue = new MinHeap<Job>(beforeInQueue);
  /** Skip records need no slot and never wait behind runs. */
  #skips: Job[] = [];
  #slotsInUse = 0;
  #batchesInFlight = 0;
  #drainScheduled = false;
  #paused = false;
  #closed = false;
  #claimCostMs = INITIAL_CLAIM_COST_MS;
  /** Chunks of bursts claimed whole, not yet sent (see {@link WHOLE_BURST_CHUNK}). */
  readonly #chunksWaiting = new Set<{ jobs: Job[] }>();

  constructor(host: DispatcherHost) {
    this.#host = host;
    this.#share = new PeerShare({
      store: host.store,
      timers: host.timers,
      instance: host.instance,
      peers: () => host.peers(),
      unsettledPeers: () => host.unsettledPeers(),
      claimCostMs: () => this.#claimCostMs,
      now: () => host.now(),
      claim: (jobs) => {
        // A task paused while its tick waited for the check gets the record a paused tick gets.
        for (const job of jobs) this.submit(job.runtime.paused && job.skip === null ? { ...job, skip: 'paused', heapIndex: -1 } : job);
      },
      taken: (job) => host.onOutcome(job, { kind: 'taken' }),
      reportError: (error, context) => host.reportError(error, context),
    });
  }

  /** True when nothing is queued, being claimed, or left to a peer and not yet checked. */
  get idle(): boolean {
    return this.#queue.size === 0 && this.#skips.length === 0 && this.#batchesInFlight === 0 && this.#chunksWaiting.size === 0 && this.#share.size === 0;
  }

  get slotsInUse(): number {
    return this.#slotsInUse;
  }

  get queued(): number {
    return this.#queue.size + this.#skips.length;
  }

  /**
   * What claiming one job of a large batch has taken lately (ms, wall time from send to reply,
   * waiting for other replicas included): how early a burst must be claimed to be ready in time.
   */
  get claimCostMs(): number {
    return this.#claimCostMs;
  }

  submit(job: Job): void {
    if (this.#closed) return;
    if (job.skip !== null) this.#skips.push(job);
    else this.#queue.push(job);
    this.#scheduleDrain();
  }

  /** Takes a job back if it is still queued; false once it has gone to the store. */
  withdraw(job: Job): boolean {
    return this.#queue.remove(job);
  }

  /** A started run ended: its slot is free again. */
  release(): void {
    this.#slotsInUse = Math.max(0, this.#slotsInUse - 1);
    this.#scheduleDrain();
  }

  /** Holds claims (e.g. while the store is failing) until `resume`. */
  hold(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#scheduleDrain();
  }

  /** Stops accepting jobs; returns the queued ones, which were never claimed. */
  close(): Job[] {
    this.#closed = true;
    const dropped = [...this.#skips, ...this.#queue.items(), ...this.#share.close()];
    // A loop, not push(...jobs): a burst of 130,000 overflows the argument limit.
    for (const waiting of this.#chunksWaiting) for (const job of waiting.jobs.splice(0)) dropped.push(job);
    this.#queue.clear();
    this.#skips = [];
    return dropped;
  }

  #scheduleDrain(): void {
    if (this.#drainScheduled || this.#closed) return;
    this.#drainScheduled = true;
    queueMicrotask(() => {
      this.#drainScheduled = false;
      this.#drain();
    });
  }

  #drain(): void {
    if (this.#paused || this.#closed) return;
    const batch: Job[] = this.#skips;
    this.#skips = [];
    while (this.#slotsInUse < this.#host.concurrency && this.#queue.size > 0) {
      batch.push(this.#queue.pop() as Job);
      this.#slotsInUse++;
    }
    if (batch.length === 0) return;
    this.#host.onDispatch(batch);
    const { claim: mine, whole } = this.#share.split(batch);
    if (mine.length < batch.length) {
      // Jobs left to a peer hold no slot while they wait.
      this.#slotsInUse -= batch.length - mine.length;
      if (this.#queue.size > 0) this.#scheduleDrain();
    }
    if (mine.length > WHOLE_BURST_CHUNK && whole) void this.#claimInChunks(mine);
    else if (mine.length > 0) void this.#claim(mine);
  }

  /**
   * Claims a burst one chunk after another. A chunk that fails puts it and every later chunk back
   * in the queue, as a failed batch does; the chunks already answered stand.
   */
  async #claimInChunks(batch: Job[]): Promise<void> {
    // What is not yet sent: a stop meanwhile takes it back (close), as it takes the queue. Out of
    // the set before the last chunk goes, so that chunk's answer finds the dispatcher idle.
    const waiting = { jobs: batch.slice(WHOLE_BURST_CHUNK) };
    this.#chunksWaiting.add(waiting);
    // Every chunk's leases last as long as one claim of the whole batch would have made them:
    // the last chunk's ends are written last.
    const firstSentAt = this.#host.monotonic();
    const allowanceMs = this.#endAllowanceMs(batch.length);
    let chunk = batch.slice(0, WHOLE_BURST_CHUNK);
    try {
      while (chunk.length > 0) {
        if (waiting.jobs.length === 0) this.#chunksWaiting.delete(waiting);
        // Whole milliseconds: the stores keep leases as integers (PostgreSQL refuses "28376.96").
        const elapsed = this.#host.monotonic() - firstSentAt;
        if (!(await this.#claim(chunk, Math.round(Math.max(0, allowanceMs - elapsed))))) {
          this.#putBack(waiting);
          return;
        }
        if (this.#closed) return;
        if (this.#paused) {
          // Another claim failed meanwhile: the rest waits in the queue for the store, as it would.
          this.#putBack(waiting);
          return;
        }
        chunk = waiting.jobs.slice(0, WHOLE_BURST_CHUNK);
        waiting.jobs = waiting.jobs.slice(WHOLE_BURST_CHUNK);
      }
    } finally {
      // Every way out, a stop's included: a leftover entry would keep `idle` false for ever.
      this.#chunksWaiting.delete(waiting);
    }
  }

  /** Chunks not sent go back to the queue (their slots with them). */
  #putBack(waiting: { jobs: Job[] }): void {
    const jobs = waiting.jobs;
    waiting.jobs = [];
    for (const job of jobs) {
      if (job.skip === null) this.#slotsInUse--;
      if (!this.#closed) this.submit(job);
    }
  }

  /**
   * How much longer a batch's leases are asked for, so that a burst of short runs needs no
   * renewals while its ends queue to be written; a single claim gets the plain lease. If this
   * instance dies meanwhile, its runs are reaped this much later.
   */
  #endAllowanceMs(jobs: number): number {
    if (jobs < MEASURE_FROM_JOBS) return 0;
    return Math.round(Math.min(END_ALLOWANCE_PER_CLAIM * jobs * this.#claimCostMs, MAX_END_ALLOWANCE_LEASES * this.#host.leaseMs));
  }

  /**
   * Claims a batch; false if the store failed (the batch is back in the queue). `allowanceMs`:
   * how much its leases are lengthened for its ends (by default, as its size asks).
   */
  async #claim(batch: Job[], allowanceMs = this.#endAllowanceMs(batch.length)): Promise<boolean> {
    this.#batchesInFlight++;
    const now = this.#host.now();
    const sentAt = this.#host.monotonic();
    const leaseMs = this.#host.leaseMs + allowanceMs;
    const requests = batch.map((job) => {
      const request = claimRequest(job, this.#host.instance, leaseMs, now);
      job.claimSentAt = sentAt;
      job.claimLeaseMs = request.leaseMs;
      return request;
    });
    let outcomes: ClaimOutcome[];
    try {
      outcomes = await this.#host.store.claim(requests, now);
    } catch (error) {
      this.#batchesInFlight--;
      for (const job of batch) {
        if (job.skip === null) this.#slotsInUse--;
        if (!this.#closed) this.submit(job);
      }
      this.hold();
      this.#host.onClaimError(error);
      return false;
    }
    this.#batchesInFlight--;
    if (batch.length >= MEASURE_FROM_JOBS) {
      const perJob = (this.#host.monotonic() - sentAt) / batch.length;
      this.#claimCostMs = (1 - COST_SMOOTHING) * this.#claimCostMs + COST_SMOOTHING * perJob;
    }
    for (let i = 0; i < batch.length; i++) {
      const job = batch[i] as Job;
      const outcome = outcomes[i] ?? ({ kind: 'taken' } as const);
      if (job.skip === null && outcome.kind !== 'started') this.#slotsInUse--;
      this.#host.onOutcome(job, outcome);
    }
    this.#scheduleDrain();
    return true;
  }
}
