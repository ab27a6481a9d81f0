import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryStore } from '../../../src/index.ts';
import { instanceAlive } from '../../../src/store/port.ts';
import { createTestClock } from '../../../src/testing/index.ts';
import { harness } from '../../helpers.ts';

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
});
