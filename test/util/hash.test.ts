import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jitterOffset } from '../../src/engine/schedules/jitter.ts';
import { fnv1a32, stableFraction } from '../../src/util/hash.ts';

describe('stable hashing and jitter', () => {
  it('is deterministic (the same on every replica) and within bounds', () => {
    assert.equal(fnv1a32('cache-cleanup@1767225600000'), fnv1a32('cache-cleanup@1767225600000'));
    for (let tick = 0; tick < 1000; tick++) {
      const offset = jitterOffset('t', tick * 60_000, 30_000);
      assert.ok(offset >= 0 && offset < 30_000);
      assert.equal(offset, jitterOffset('t', tick * 60_000, 30_000));
    }
    assert.equal(jitterOffset('t', 1, 0), 0);
  });

  it('spreads consecutive ticks and tasks roughly uniformly', () => {
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) buckets[Math.floor(stableFraction(`task-${i % 100}@${i * 1000}`) * 10)]!++;
    for (const count of buckets) assert.ok(count > 850 && count < 1150, `bucket ${count}`);
  });
});
