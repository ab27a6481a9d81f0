import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { retryDelay, shouldRetry } from '../../src/engine/retry.ts';
import { ABORT_CAUSES, canTransition, endStatus } from '../../src/engine/run-state.ts';
import { RUN_STATUSES } from '../../src/store/records.ts';

describe('run state machine', () => {
  it('maps settlements and abort causes to final statuses', () => {
    assert.equal(endStatus('returned', null), 'succeeded');
    assert.equal(endStatus('threw', null), 'failed');
    assert.equal(endStatus('threw', 'timeout'), 'timed_out');
    assert.equal(endStatus('abandoned', 'timeout'), 'timed_out');
    assert.equal(endStatus('returned', 'timeout'), 'timed_out', 'a timeout is strict');
    assert.equal(endStatus('threw', 'cancel'), 'cancelled');
    assert.equal(endStatus('abandoned', 'replace'), 'cancelled');
    assert.equal(endStatus('threw', 'shutdown'), 'interrupted');
    assert.equal(endStatus('abandoned', 'lease-lost'), 'interrupted');
    assert.equal(endStatus('returned', 'shutdown'), 'succeeded', 'work that completed is recorded as done');
    assert.throws(() => endStatus('abandoned', null), /invariant/);
    assert.equal(endStatus('declined', null), 'skipped');
    assert.equal(endStatus('declined', 'cancel'), 'cancelled', 'a cancel before the decline wins');
  });

  it('only running runs change state; final states are final', () => {
    for (const from of RUN_STATUSES) {
      for (const to of RUN_STATUSES) {
        // A claimed run its condition or its defer declined ends skipped.
        const expected = from === 'running' && to !== 'running';
        assert.equal(canTransition(from, to), expected, `${from} -> ${to}`);
      }
    }
    for (const cause of ABORT_CAUSES) assert.ok(canTransition('running', endStatus('threw', cause)));
  });
});

describe('retry policy', () => {
  const policy = { attempts: 4, backoffMs: 1000, maxBackoffMs: 5000, factor: 2, retryOn: null };

  it('full jitter: delays are uniform in [0, min(cap, base·factor^(n-1)))', () => {
    assert.equal(retryDelay(policy, 1, () => 0), 0);
    assert.equal(retryDelay(policy, 1, () => 0.999999), 999);
    assert.equal(retryDelay(policy, 2, () => 0.5), 1000);
    assert.equal(retryDelay(policy, 3, () => 0.5), 2000);
    assert.equal(retryDelay(policy, 10, () => 0.999999), 4999, 'capped');
    fc.assert(fc.property(fc.integer({ min: 1, max: 40 }), fc.double({ min: 0, max: 0.9999999, noNaN: true }), (attempt, r) => {
      const d = retryDelay(policy, attempt, () => r);
      assert.ok(d >= 0 && d < 5000);
    }));
  });

  it('retries failures, timeouts and interruptions while attempts remain; never cancellations', () => {
    assert.equal(shouldRetry(policy, 'failed', 1, new Error()), true);
    assert.equal(shouldRetry(policy, 'timed_out', 3, new Error()), true);
    assert.equal(shouldRetry(policy, 'interrupted', 2, new Error()), true);
    assert.equal(shouldRetry(policy, 'failed', 4, new Error()), false);
    assert.equal(shouldRetry(policy, 'cancelled', 1, new Error()), false);
    assert.equal(shouldRetry(policy, 'succeeded', 1, null), false);
  });

  it('asks retryOn, and treats a throwing retryOn as no', () => {
    const only = { ...policy, retryOn: (e: unknown) => (e as Error).message === 'transient' };
    assert.equal(shouldRetry(only, 'failed', 1, new Error('transient')), true);
    assert.equal(shouldRetry(only, 'failed', 1, new Error('permanent')), false);
    const broken = { ...policy, retryOn: () => { throw new Error('oops'); } };
    assert.equal(shouldRetry(broken, 'failed', 1, new Error()), false);
  });
});
