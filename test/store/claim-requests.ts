import assert from 'node:assert/strict';
import type { ClaimOutcome, ClaimRequest, RunRecord } from '../../src/index.ts';

/** The instant the store suites claim at. */
export const NOW = Date.parse('2026-01-01T00:00:00Z');
/** The lease the store suites claim with. */
export const LEASE = 15_000;

/** A claim-request maker: a scheduled first attempt of task `t` at NOW unless `over` says otherwise; ids from `newId`. */
export function requests(newId: () => string): (over?: Partial<ClaimRequest>) => ClaimRequest {
  return (over = {}) => {
    const scheduledFor = over.scheduledFor ?? NOW;
    return {
      runId: newId(),
      task: 't',
      slot: `t:${scheduledFor}`,
      attempt: 1,
      trigger: 'schedule',
      scheduledFor,
      dueAt: scheduledFor,
      startAt: 0,
      instance: 'i1',
      skip: null,
      skippedTicks: 1,
      overlap: 'skip',
      maxConcurrent: 1,
      leaseMs: LEASE,
      ...over,
    };
  };
}

/** The run a claim started; fails the test if it did not start one. */
export function started(outcome: ClaimOutcome | undefined): RunRecord {
  assert.equal(outcome?.kind, 'started', `expected started, got ${outcome?.kind}`);
  return (outcome as Extract<ClaimOutcome, { kind: 'started' }>).run;
}
