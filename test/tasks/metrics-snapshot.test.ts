import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createScheduler } from 'caretaker';
import { type MetricsSnapshot, metricsSnapshot } from 'caretaker/tasks';
import { createTestClock } from 'caretaker/testing';

describe('metricsSnapshot', () => {
  it('records process and system metrics as the run output, CPU since the previous run', async () => {
    const clock = createTestClock();
    const scheduler = createScheduler({ clock });
    scheduler.add({ name: 'metrics', schedule: { every: '1m' }, handler: metricsSnapshot() });
    await scheduler.start();
    await clock.advance(0);
    // Burn some CPU between the two snapshots; the second one must see it.
    const end = performance.now() + 30;
    while (performance.now() < end);
    await clock.advance(60_000);
    const runs = await scheduler.history({ task: 'metrics' });
    await scheduler.stop();
    assert.equal(runs.length, 2);
    const [second, first] = runs.map((r) => r.output as unknown as MetricsSnapshot);
    assert.ok(first !== undefined && second !== undefined);
    assert.equal(second.process.pid, process.pid);
    assert.ok(second.process.rssBytes > 10_000_000 && second.process.heapUsedBytes > 1_000_000);
    assert.ok(second.process.cpuUserMs + second.process.cpuSystemMs >= 25, `cpu ${JSON.stringify(second.process)}`);
    assert.ok(second.process.eventLoopUtilization > 0 && second.process.eventLoopUtilization <= 1);
    assert.equal(second.system.loadAverage.length, 3);
    assert.ok(second.system.totalMemoryBytes >= second.system.freeMemoryBytes);
  });
});
