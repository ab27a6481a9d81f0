import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createScheduler, type RunRecord } from '../../src/index.ts';
import { taskView } from '../../src/http/task-view.ts';
import { TaskStatusReader, tickOutcomes } from '../../src/observe/task-status.ts';
import { createTestClock } from '../../src/testing/index.ts';

/** A run record with only what tickOutcomes reads set on purpose. */
function run(slot: string, attempt: number, status: RunRecord['status'], retryAt: Date | null = null, task = 'job', causedBy: string | null = null): RunRecord {
  return { id: `${slot}/${attempt}`, task, slot, attempt, status, retryAt, trigger: causedBy === null ? 'schedule' : 'retry', causedBy } as RunRecord;
}

describe('success rate counts ticks', () => {
  it('a tick is decided by its last attempt: failed then succeeded on retry is one success', () => {
    assert.deepEqual(tickOutcomes([run('t:1', 2, 'succeeded'), run('t:1', 1, 'failed', new Date(5))]), { finished: 1, succeeded: 1 });
    // The order of the records does not matter, the attempt number does.
    assert.deepEqual(tickOutcomes([run('t:1', 1, 'failed', new Date(5)), run('t:1', 2, 'succeeded')]), { finished: 1, succeeded: 1 });
  });

  it('a tick whose retries all failed is one failure, not three', () => {
    const runs = [run('t:1', 3, 'failed'), run('t:1', 2, 'timed_out', new Date(9)), run('t:1', 1, 'failed', new Date(5))];
    assert.deepEqual(tickOutcomes(runs), { finished: 1, succeeded: 0 });
  });

  it('a tick has not finished while its last attempt runs or a retry of it is due; skipped ticks never count', () => {
    assert.deepEqual(tickOutcomes([run('t:1', 2, 'running'), run('t:1', 1, 'failed', new Date(5))]), { finished: 0, succeeded: 0 });
    assert.deepEqual(tickOutcomes([run('t:2', 1, 'failed', new Date(5))]), { finished: 0, succeeded: 0 });
    assert.deepEqual(tickOutcomes([run('t:3', 1, 'skipped')]), { finished: 0, succeeded: 0 });
  });

  it("a person's retry (retry RUN, a slot of its own) counts as the next attempt of the tick it redoes", () => {
    const runs = [run('t:1', 1, 'failed'), run('m:r1', 2, 'failed', null, 'job', 't:1/1'), run('m:r2', 3, 'succeeded', null, 'job', 'm:r1/2')];
    assert.deepEqual(tickOutcomes(runs), { finished: 1, succeeded: 1 });
    assert.deepEqual(tickOutcomes([run('m:r3', 2, 'succeeded', null, 'job', 'gone-from-the-window')]), { finished: 1, succeeded: 1 }, 'its cause out of sight: a tick of its own');
  });

  it('ticks are told apart by slot (a manual run is its own tick) and by task', () => {
    const runs = [
      run('t:1', 1, 'succeeded'),
      run('t:2', 1, 'failed'),
      run('m:abc', 2, 'succeeded'),
      run('m:abc', 1, 'interrupted', new Date(1)),
      run('t:1', 1, 'cancelled', null, 'other'),
    ];
    assert.deepEqual(tickOutcomes(runs), { finished: 4, succeeded: 2 });
  });

  it('end to end: a tick retried to success shows 100% in the task status and GET /api/tasks view', async () => {
    const clock = createTestClock({ start: '2026-01-01T00:00:00Z' });
    // Retries come 500 ms after a failure (half of the 1 s backoff bound).
    const scheduler = createScheduler({ clock, random: () => 0.5 });
    let calls = 0;
    scheduler.add({
      name: 'flaky',
      schedule: { every: '1h' },
      retry: { attempts: 2, backoff: '1s' },
      handler: () => {
        calls++;
        // The first tick fails once, then succeeds; the second tick fails twice.
        if (calls === 1 || calls >= 3) throw new Error(`attempt ${calls} failed`);
        return { ok: true };
      },
    });
    await scheduler.start();
    const reader = new TaskStatusReader(scheduler, () => clock.now());
    await clock.advance(0);
    await scheduler.onIdle();
    await clock.advance(500);
    await scheduler.onIdle();
    let status = await reader.one('flaky');
    assert.deepEqual((await scheduler.history({ task: 'flaky' })).map((r) => [r.attempt, r.status]), [[2, 'succeeded'], [1, 'failed']]);
    assert.deepEqual(status?.ticks, { finished: 1, succeeded: 1 });
    assert.equal(status?.successRate, 1);
    assert.equal(status === null ? null : taskView(status).successRate, 1);

    await clock.advance(3_600_000 - 500);
    await scheduler.onIdle();
    reader.invalidate();
    status = await reader.one('flaky');
    assert.deepEqual(status?.ticks, { finished: 1, succeeded: 1 }, 'the second tick waits for its retry: not finished yet');
    await clock.advance(500);
    await scheduler.onIdle();
    reader.invalidate();
    status = await reader.one('flaky');
    assert.equal(status?.recent.length, 4, 'the duration trend still shows every attempt');
    assert.deepEqual(status?.ticks, { finished: 2, succeeded: 1 });
    assert.equal(status?.successRate, 0.5);
    assert.deepEqual(status === null ? null : taskView(status).ticks, { finished: 2, succeeded: 1 });
    await scheduler.stop();
  });
});
