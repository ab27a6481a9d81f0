import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { jitterOffset } from '../../src/engine/schedules/jitter.ts';
import { fnv1a32, setDigest, stableFraction } from '../../src/util/hash.ts';

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

  it('names a set the same in any order, and tells sets apart that differ by one name or by where names split (property)', () => {
    const names = fc.uniqueArray(fc.string({ unit: 'grapheme', maxLength: 12 }), { maxLength: 30 });
    fc.assert(
      fc.property(names, fc.string({ maxLength: 12 }), (set, extra) => {
        const digest = setDigest(set);
        assert.equal(setDigest([...set].reverse()), digest);
        assert.equal(setDigest([...set].sort()), digest);
        if (!set.includes(extra)) assert.notEqual(setDigest([...set, extra]), digest, 'one name more');
        if (set.length > 0) assert.notEqual(setDigest(set.slice(1)), digest, 'one name fewer');
      }),
      { numRuns: 500 },
    );
    assert.notEqual(setDigest(['ab', 'c']), setDigest(['a', 'bc']));
    assert.notEqual(setDigest(['a', 'b']), setDigest(['a', 'c']));
    assert.equal(setDigest([]), '0:0:0');
  });

  it('gives 20,000 sets of 50 names as many digests (no collisions)', () => {
    const seen = new Set<string>();
    for (let k = 0; k < 20_000; k++) seen.add(setDigest(Array.from({ length: 50 }, (_, i) => `task-${k}-${i}`)));
    assert.equal(seen.size, 20_000);
  });

  it('is the same on every machine and version: a digest replicas compare', () => {
    // Replicas running the same tasks find each other by it; a change here splits a rolling
    // upgrade's replicas into two groups until all run the new version (decision 041).
    assert.equal(setDigest(['cache-cleanup', 'db-vacuum', 'token-purge']), setDigest(['token-purge', 'cache-cleanup', 'db-vacuum']));
    assert.equal(setDigest(['cache-cleanup', 'db-vacuum', 'token-purge']), '3:1own55m:lg0r7i');
  });
});
