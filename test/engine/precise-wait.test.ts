/**
 * PreciseWait (decisions 001 and 036): the native timer until the last milliseconds, then a hold
 * that does not yield, so no collection set off by a turn's allocations lands on the instant; never
 * early, never stuck on a clock that does not move while it is read.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Clock } from '../../src/engine/clock.ts';
import { HOLD_WAIT_MS, PreciseWait } from '../../src/engine/precise-wait.ts';
import { createTestClock } from '../../src/testing/index.ts';

/** A virtual clock whose time also moves by `stepMs` on every read (as real time does while code runs), with turns. */
function creeping(stepMs: number) {
  const base = createTestClock({ start: 0 });
  let reads = 0;
  let turns = 0;
  const clock: Clock = {
    now: () => {
      reads++;
      base.block(stepMs);
      return base.now();
    },
    monotonic: () => base.monotonic(),
    setTimer: (cb, ms, o) => base.setTimer(cb, ms, o),
    nextTurn: (cb) => {
      turns++;
      queueMicrotask(cb);
    },
  };
  return { clock, base, reads: () => reads, turns: () => turns };
}

describe('PreciseWait', () => {
  it('releases at the instant, never before it, holding the last milliseconds without a turn (fast-check over instants and clock speeds)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: HOLD_WAIT_MS * 1000 }), fc.double({ min: 0.0005, max: 0.5, noNaN: true }), async (aheadUs, stepMs) => {
        const { clock, base, turns } = creeping(stepMs);
        const instant = base.now() + aheadUs / 1000;
        let releasedAt: number | null = null;
        new PreciseWait(clock).until(instant, () => (releasedAt = base.now()));
        await base.settle();
        assert.notEqual(releasedAt, null, 'released');
        assert.ok((releasedAt as unknown as number) >= instant, `not before the instant (${releasedAt} < ${instant})`);
        // The first read may already be past the instant: it yields a turn, and the next read releases.
        assert.ok((releasedAt as unknown as number) - instant <= 2 * stepMs + 1e-9, 'by the read after the first one at or after it');
        assert.ok(turns() <= 1, 'one turn before the hold (never from inside the caller), none during it');
      }),
      { numRuns: 200 },
    );
  });

  it('a clock that does not move while it is read is not waited on for ever: the hold gives up and yields turns until time moves', async () => {
    const base = createTestClock({ start: 0 });
    let turns = 0;
    const clock: Clock = { now: () => base.now(), monotonic: () => base.monotonic(), setTimer: (cb, ms, o) => base.setTimer(cb, ms, o), nextTurn: (cb) => void setImmediate(() => (turns++, cb())) };
    let released = false;
    const wait = new PreciseWait(clock).until(1, () => (released = true));
    for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(released, false, 'not before the instant');
    assert.ok(turns > 0, 'it yields');
    await base.advance(1);
    for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(released, true, 'released once time reaches the instant');
    wait.cancel();
  });

  it('a cancelled wait releases nothing', async () => {
    const { clock, base } = creeping(0.01);
    let released = false;
    const wait = new PreciseWait(clock).until(base.now() + 50, () => (released = true));
    wait.cancel();
    await base.advance(100);
    assert.equal(released, false);
  });
});
