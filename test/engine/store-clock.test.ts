import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MAX_FOLLOWED_OFFSET_MS, StoreClock } from '../../src/engine/store-clock.ts';
import { createTestClock } from '../../src/testing/index.ts';

const DAY = 86_400_000;

describe('StoreClock', () => {
  it('is never ahead of the store, however the round trips are delayed, and as close as the quickest reply (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -10 * 60_000, max: 10 * 60_000 }),
        fc.array(fc.record({ before: fc.integer({ min: 0, max: 5_000 }), after: fc.integer({ min: 0, max: 5_000 }), gap: fc.integer({ min: 0, max: 10_000 }) }), { minLength: 1, maxLength: 30 }),
        (skew, trips) => {
          const host = createTestClock();
          const clock = new StoreClock(host);
          // The store's clock is the host's plus `skew`; each request waits `before` until the
          // store reads its clock (a busy pool), and its reply `after` until it is seen.
          for (const trip of trips) {
            host.block(trip.gap);
            const sentAt = host.monotonic();
            host.block(trip.before);
            const storeNow = host.now() + skew;
            host.block(trip.after);
            clock.sample(sentAt, host.monotonic(), storeNow);
          }
          const truth = host.now() + skew;
          assert.ok(clock.now() <= truth, `ahead of the store by ${clock.now() - truth} ms`);
          const quickest = Math.min(...trips.slice(-8).map((t) => t.after));
          assert.ok(clock.now() >= truth - quickest - 1, `behind the store by ${truth - clock.now()} ms, more than the quickest reply (${quickest} ms)`);
        },
      ),
      { numRuns: 300, seed: 61 },
    );
  });

  it('a congested pool (every request queued 3 s before the store reads its clock) makes no run early', () => {
    const host = createTestClock();
    const clock = new StoreClock(host);
    for (let i = 0; i < 8; i++) {
      const sentAt = host.monotonic();
      host.block(3_000);
      const storeNow = host.now();
      host.block(2);
      clock.sample(sentAt, host.monotonic(), storeNow);
    }
    assert.ok(host.now() - clock.now() >= 0 && host.now() - clock.now() <= 2, `off by ${clock.now() - host.now()} ms`);
  });

  it("follows a step of the store's clock at once, backwards as forwards", () => {
    const host = createTestClock();
    const clock = new StoreClock(host);
    let storeSkew = 5_000;
    const trip = () => {
      const sentAt = host.monotonic();
      host.block(1);
      clock.sample(sentAt, host.monotonic(), host.now() + storeSkew);
    };
    trip();
    trip();
    assert.ok(Math.abs(clock.now() - (host.now() + 5_000)) <= 1);
    storeSkew = -60_000;
    trip();
    assert.ok(Math.abs(clock.now() - (host.now() - 60_000)) <= 1, 'a step back, after one round trip');
    storeSkew = 120_000;
    trip();
    assert.ok(Math.abs(clock.now() - (host.now() + 120_000)) <= 1, 'a step forward, after one round trip');
  });

  it("does not follow a store clock that is far off, and does not drop it when only the host's clock steps", () => {
    const host = createTestClock();
    const clock = new StoreClock(host);
    const trip = (storeNow: number) => {
      const sentAt = host.monotonic();
      host.block(1);
      clock.sample(sentAt, host.monotonic(), storeNow);
    };
    trip(host.now() + 3 * 365 * DAY); // a database host set to a wrong year
    assert.equal(clock.refused, true);
    assert.equal(clock.now(), host.now(), "this host's clock is used instead");
    assert.ok(clock.offsetMs > MAX_FOLLOWED_OFFSET_MS, 'the offset is still reported');
    trip(host.now() + 2_000); // fixed
    assert.equal(clock.refused, false);
    assert.ok(Math.abs(clock.now() - (host.now() + 2_000)) <= 1);
    host.jump(DAY); // this host's clock steps a day: nothing changes
    trip(host.now() - DAY + 2_000);
    assert.equal(clock.refused, false);
    assert.ok(Math.abs(clock.now() - (host.now() - DAY + 2_000)) <= 1);
    trip(host.now() + 10 * 365 * DAY); // a followed store clock leaps years: not followed
    assert.equal(clock.refused, true);
  });
});
