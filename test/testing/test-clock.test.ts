import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTestClock } from '../../src/testing/index.ts';

describe('createTestClock', () => {
  it('starts where told and moves only when advanced', async () => {
    const clock = createTestClock({ start: '2026-05-01T10:00:00Z' });
    assert.equal(new Date(clock.now()).toISOString(), '2026-05-01T10:00:00.000Z');
    assert.equal(clock.monotonic(), 0);
    await clock.advance(1500);
    assert.equal(new Date(clock.now()).toISOString(), '2026-05-01T10:00:01.500Z');
    assert.equal(clock.monotonic(), 1500);
    await clock.advanceTo('2026-05-01T11:00:00Z');
    assert.equal(clock.monotonic(), 3_600_000);
  });

  it('fires timers in order, each at its own instant, settling promise chains in between', async () => {
    const clock = createTestClock();
    const log: string[] = [];
    clock.setTimer(() => log.push(`b@${clock.monotonic()}`), 200);
    clock.setTimer(() => {
      log.push(`a@${clock.monotonic()}`);
      void Promise.resolve().then(() => log.push('a.then'));
      clock.setTimer(() => log.push(`c@${clock.monotonic()}`), 50);
    }, 100);
    const cancelled = clock.setTimer(() => log.push('never'), 120);
    cancelled.cancel();
    await clock.advance(1000);
    assert.deepEqual(log, ['a@100', 'a.then', 'c@150', 'b@200']);
    assert.equal(clock.pendingTimers, 0);
  });

  it('fires an already-due timer without time moving, like Node', async () => {
    const clock = createTestClock();
    let fired = false;
    clock.setTimer(() => (fired = true), 0);
    await clock.settle();
    assert.equal(fired, true);
    assert.equal(clock.monotonic(), 0);
  });

  it('jump moves only the wall clock; block moves both without firing', async () => {
    const clock = createTestClock();
    let fired = 0;
    clock.setTimer(() => fired++, 1000);
    clock.jump(3_600_000);
    assert.equal(clock.monotonic(), 0);
    assert.equal(fired, 0);
    clock.block(5000);
    assert.equal(clock.monotonic(), 5000);
    assert.equal(fired, 0, 'a blocked loop fires nothing');
    await clock.advance(0);
    assert.equal(fired, 1, 'the overdue timer fires late');
  });

  it('sleep resolves in virtual time and rejects on abort', async () => {
    const clock = createTestClock();
    let done = false;
    const sleeping = clock.sleep(500).then(() => (done = true));
    await clock.advance(499);
    assert.equal(done, false);
    await clock.advance(1);
    await sleeping;
    const controller = new AbortController();
    const aborted = clock.sleep(10_000, controller.signal);
    controller.abort(new Error('stop'));
    await assert.rejects(aborted, /stop/);
    assert.equal(clock.pendingTimers, 0);
    await assert.rejects(clock.sleep(1, AbortSignal.abort(new Error('already'))), /already/);
  });

  it('rejects bad input with the argument named', async () => {
    assert.throws(() => createTestClock({ start: 'yesterday' }), /createTestClock: start: received "yesterday"/);
    const clock = createTestClock();
    await assert.rejects(clock.advance(-1), /advance: ms: received -1/);
    await assert.rejects(clock.advanceTo('soon'), /advanceTo: instant: received "soon"/);
    assert.throws(() => clock.block(Number.NaN), /block: ms: received NaN/);
  });
});
