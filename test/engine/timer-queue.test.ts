import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Clock } from '../../src/engine/clock.ts';
import { type ClockJump, timerEntry, TimerQueue } from '../../src/engine/timer-queue.ts';
import { createTestClock, type TestClock } from '../../src/testing/index.ts';

/** A test clock that records every native timer the queue arms. */
function recordingClock(): { clock: TestClock; armed: number[]; live: () => number } {
  const clock = createTestClock({ start: '2026-01-01T00:00:00Z' });
  const armed: number[] = [];
  let live = 0;
  const recording: TestClock = Object.assign(Object.create(clock) as TestClock, {
    setTimer(cb: () => void, ms: number) {
      armed.push(ms);
      live++;
      const handle = clock.setTimer(() => {
        live--;
        cb();
      }, ms);
      return {
        cancel: () => {
          live--;
          handle.cancel();
        },
      };
    },
  });
  return { clock: recording, armed, live: () => live };
}

function queue(clock: Clock, maxSleepMs = 60_000, jumps: ClockJump[] = []) {
  return new TimerQueue(clock, { unref: false, maxSleepMs, jumpThresholdMs: 1_000, prepareMs: 0, onJump: (j) => jumps.push(j), onWakeEnd: () => {} });
}

/** A queue that wakes for bursts `burstLeadMs` early. */
function burstQueue(clock: Clock, burstLeadMs: (count: number) => number) {
  return new TimerQueue(clock, { unref: false, maxSleepMs: 60_000, jumpThresholdMs: 1_000, prepareMs: 0, onJump: () => {}, onWakeEnd: () => {}, burstLeadMs });
}

describe('TimerQueue', () => {
  it('fires entries in due order with a single armed timer, however many are queued', async () => {
    const { clock, live } = recordingClock();
    const q = queue(clock);
    q.start();
    const fired: number[] = [];
    const start = clock.now();
    for (let i = 0; i < 1000; i++) {
      const at = start + ((i * 7919) % 1000) * 10;
      q.atWall(timerEntry(() => fired.push(at)), at);
    }
    await clock.settle();
    assert.equal(live(), 1);
    await clock.advance(20_000);
    assert.equal(fired.length, 1000);
    assert.deepEqual(fired, [...fired].sort((a, b) => a - b));
    assert.equal(live(), 0);
  });

  it('chunks waits longer than its maximum sleep (and than 2^31-1 ms)', async () => {
    const { clock, armed } = recordingClock();
    const q = queue(clock, 60_000);
    q.start();
    let fired = false;
    q.after(timerEntry(() => (fired = true)), 40 * 86_400_000);
    await clock.advance(39 * 86_400_000);
    assert.equal(fired, false);
    await clock.advance(86_400_000);
    assert.equal(fired, true);
    assert.ok(armed.every((ms) => ms <= 60_000), 'every armed delay is within maxSleep');
    const unlimited = recordingClock();
    const q2 = queue(unlimited.clock, Number.POSITIVE_INFINITY);
    q2.start();
    q2.after(timerEntry(() => {}), 40 * 86_400_000);
    await unlimited.clock.settle();
    assert.ok(unlimited.armed.every((ms) => ms <= 2 ** 31 - 1));
  });

  it('re-keys wall entries when the wall clock jumps, and keeps elapsed-time entries', async () => {
    const clock = createTestClock({ start: '2026-01-01T00:00:00Z' });
    const jumps: ClockJump[] = [];
    const q = queue(clock, 1_000, jumps);
    q.start();
    const fired: string[] = [];
    q.atWall(timerEntry(() => fired.push('wall')), clock.now() + 3_600_000);
    q.after(timerEntry(() => fired.push('elapsed')), 10_000);
    clock.jump(3_600_000);
    await clock.advance(1_000);
    assert.deepEqual(fired, ['wall']);
    assert.equal(jumps.length, 1);
    assert.ok(Math.abs((jumps[0]?.deltaMs ?? 0) - 3_600_000) < 1);
    await clock.advance(9_000);
    assert.deepEqual(fired, ['wall', 'elapsed']);
  });

  it('does not fire a wall entry early after the clock steps back', async () => {
    const clock = createTestClock({ start: '2026-01-01T00:00:00Z' });
    const q = queue(clock, 1_000);
    q.start();
    const target = clock.now() + 5_000;
    let firedAt = 0;
    q.atWall(timerEntry(() => (firedAt = clock.now())), target);
    clock.jump(-60_000);
    await clock.advance(10_000);
    assert.equal(firedAt, 0);
    await clock.advance(60_000);
    assert.ok(firedAt >= target);
  });

  it('cancels entries and disarms when empty; stop leaves nothing armed', async () => {
    const { clock, live } = recordingClock();
    const q = queue(clock);
    q.start();
    const e = timerEntry(() => assert.fail('cancelled entry fired'));
    q.after(e, 1_000);
    await clock.settle();
    assert.equal(live(), 1);
    q.cancel(e);
    assert.equal(live(), 0);
    q.after(timerEntry(() => {}), 1_000);
    await clock.settle();
    q.stop();
    assert.equal(live(), 0);
    assert.equal(q.armed, false);
  });

  it('fires a burst (32 or more entries at one instant) early by its lead, whole; a lone entry and a small instant on time', async () => {
    const { clock } = recordingClock();
    let leadMs = 2_000;
    const q = burstQueue(clock, (count) => (count >= 32 ? leadMs : 0));
    q.start();
    const start = clock.now();
    const fired = new Map<number, number[]>();
    const at = (instant: number, n: number) => {
      for (let i = 0; i < n; i++) q.atWall(timerEntry(() => fired.set(instant, [...(fired.get(instant) ?? []), clock.now() - start])), instant);
    };
    at(start + 10_000, 40); // a burst
    at(start + 9_000, 5); // small, due after the burst fires: it waits for its own instant
    at(start + 20_000, 31); // not a burst
    await clock.advance(7_000);
    assert.equal(fired.get(start + 10_000), undefined, 'not before its lead');
    await clock.advance(1_100);
    // The burst fired at about 10 s − 2 s − the fire cost (0.04 ms × 40), all 40 at once.
    const burst = fired.get(start + 10_000) ?? [];
    assert.equal(burst.length, 40);
    assert.ok(burst.every((t) => t >= 7_990 && t <= 8_000), `burst fired at ${burst[0]} ms`);
    assert.equal(fired.get(start + 9_000), undefined, 'an earlier small instant still waits for its own time');
    await clock.advance(1_000);
    assert.ok((fired.get(start + 9_000) ?? []).every((t) => t === 9_000));
    // A change of lead (more peers share the burst) is taken into account when asked.
    leadMs = 500;
    at(start + 30_000, 40);
    q.reconsiderBursts();
    await clock.advance(30_000 - 9_100 - 1_000);
    assert.deepEqual(fired.get(start + 20_000)?.length, 31);
    assert.ok((fired.get(start + 20_000) ?? []).every((t) => t === 20_000), 'a small instant is not early');
    assert.equal(fired.get(start + 30_000), undefined);
    await clock.advance(1_000);
    assert.ok((fired.get(start + 30_000) ?? []).every((t) => t >= 29_490 && t <= 29_500));
  });

  it('an exact entry at a burst instant fires at its own time, not ahead with the burst', async () => {
    const { clock } = recordingClock();
    const q = burstQueue(clock, () => 1_000);
    q.start();
    const start = clock.now();
    const firedAt: number[] = [];
    let exactAt = Number.NaN;
    for (let i = 0; i < 40; i++) q.atWall(timerEntry(() => firedAt.push(clock.now() - start)), start + 5_000);
    const exact = timerEntry(() => (exactAt = clock.now() - start));
    exact.exact = true;
    q.atWall(exact, start + 5_000);
    await clock.advance(4_500);
    assert.equal(firedAt.length, 40, 'the burst fired ahead');
    assert.ok(Number.isNaN(exactAt), 'the exact entry waits');
    await clock.advance(1_000);
    assert.equal(exactAt, 5_000);
  });
});

