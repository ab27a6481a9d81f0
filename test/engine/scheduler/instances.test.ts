import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryStore } from '../../../src/index.ts';
import { instanceAlive } from '../../../src/store/port.ts';
import { createTestClock } from '../../../src/testing/index.ts';
import { harness } from '../../helpers.ts';
import { silentLogger } from '../../../src/util/logger.ts';

describe('instance heartbeats', () => {
  it('every poll says the instance is alive and which tasks it runs; stop retires it', async () => {
    const clock = createTestClock();
    const store = memoryStore();
    const h = harness({ clock, store, instance: 'worker-1', pollInterval: '2s' });
    h.scheduler.add({ name: 'a', schedule: { every: '1h' }, handler: () => {} });
    await h.scheduler.start();
    await clock.advance(100);
    let [state] = await store.listInstances();
    assert.deepEqual([state?.instance, state?.tasks, state?.pollIntervalMs], ['worker-1', ['a'], 2_000]);
    h.scheduler.add({ name: 'b', schedule: { every: '1h' }, handler: () => {} });
    h.scheduler.remove('a');
    await clock.advance(2_000);
    [state] = await store.listInstances();
    assert.deepEqual(state?.tasks, ['b'], 'the next poll sends the changed task set');
    assert.equal(state?.seenAt.getTime(), clock.now() - 100, 'seen at the last poll');
    assert.ok(state !== undefined && instanceAlive(state, clock.now()));
    await h.scheduler.stop();
    [state] = await store.listInstances();
    assert.equal(state?.stoppedAt?.getTime(), clock.now(), 'stop retires the instance at once');
  });

  it('two processes under one name: the list each sends wins back its row, and a warning names the problem', async () => {
    const clock = createTestClock();
    const store = memoryStore();
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (_: unknown, message?: string) => void warnings.push(message ?? ''), child: () => logger };
    const a = harness({ clock, store, instance: 'same', pollInterval: '1s', logger });
    const b = harness({ clock, store, instance: 'same', pollInterval: '1s' });
    a.scheduler.add({ name: 'fast', schedule: { every: '1h' }, handler: () => {} });
    b.scheduler.add({ name: 'other', schedule: { every: '1h' }, handler: () => {} });
    await a.scheduler.start();
    await clock.advance(500);
    await b.scheduler.start(); // overwrites the row's task list
    await clock.advance(1_000); // a's next beat finds it is not its list
    await b.scheduler.stop();
    await clock.advance(2_000);
    const [state] = await store.listInstances();
    assert.deepEqual(state?.tasks, ['fast'], "a's list is back");
    assert.ok(instanceAlive(state!, clock.now()));
    assert.ok(warnings.some((w) => /another process uses the instance name "same"/.test(w)));
    await a.scheduler.stop();
  });
});
