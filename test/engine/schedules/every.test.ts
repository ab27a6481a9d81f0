import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { EveryDefinition, EverySchedule } from '../../../src/engine/schedules/every.ts';

const T0 = Date.UTC(2026, 0, 1);

describe('every', () => {
  it('ticks at anchor + k·interval, strictly after the given instant', () => {
    const s = new EverySchedule(60_000, T0);
    assert.equal(s.nextAfter(T0 - 1), T0);
    assert.equal(s.nextAfter(T0), T0 + 60_000);
    assert.equal(s.nextAfter(T0 + 59_999), T0 + 60_000);
    assert.equal(s.nextAfter(T0 + 60_000), T0 + 120_000);
    assert.equal(s.nextAfter(T0 - 10 * 86_400_000), T0);
  });

  it('finds the last tick strictly before an instant', () => {
    const s = new EverySchedule(60_000, T0);
    assert.equal(s.previousBefore(T0), null);
    assert.equal(s.previousBefore(T0 + 1), T0);
    assert.equal(s.previousBefore(T0 + 60_000), T0);
    assert.equal(s.previousBefore(T0 + 60_001), T0 + 60_000);
  });

  it('ends where a Date ends', () => {
    const s = new EverySchedule(86_400_000, 8.64e15 - 86_400_000);
    assert.equal(s.nextAfter(8.64e15 - 86_400_000), 8.64e15);
    assert.equal(s.nextAfter(8.64e15), null);
  });

  it('never drifts: the k-th tick is exactly anchor + k·interval', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 86_400_000 }), fc.integer({ min: 0, max: 5_000 }), (interval, k) => {
        const s = new EverySchedule(interval, T0);
        let tick = s.nextAfter(T0 - 1);
        for (let i = 0; i < Math.min(k, 50) && tick !== null; i++) tick = s.nextAfter(tick);
        assert.equal(tick, T0 + Math.min(k, 50) * interval);
        // Jumping straight there agrees with stepping.
        assert.equal(s.nextAfter(T0 + k * interval - 1), T0 + k * interval);
        assert.equal(s.previousBefore(T0 + k * interval + 1), T0 + k * interval);
      }),
    );
  });

  it('anchors new tasks at first sight plus initialDelay, and keeps a persisted anchor', () => {
    const def = new EveryDefinition(3_600_000, 300_000, null);
    assert.equal(def.initialAnchor(T0), T0 + 300_000);
    assert.equal(def.bind(null, T0).anchor, T0 + 300_000);
    // After a restart the persisted anchor wins, so the cadence is kept.
    assert.equal(def.bind(T0 - 7_200_000 + 5, T0).nextAfter(T0), T0 + 5);
    const fixed = new EveryDefinition(3_600_000, 0, T0);
    assert.equal(fixed.bind(123, T0 + 90 * 60_000).nextAfter(T0 + 90 * 60_000), T0 + 2 * 3_600_000);
    assert.notEqual(fixed.key, def.key);
  });
});
