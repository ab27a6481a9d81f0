import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { createScheduler, type RunRecord } from '../../src/index.ts';

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/** Resolves with the first payload of an event. */
function first<T>(subscribe: (listener: (payload: T) => void) => () => void): Promise<T> {
  return new Promise((resolve) => {
    const off = subscribe((payload) => {
      off();
      resolve(payload);
    });
  });
}

describe('real timers and handles (system clock)', () => {
  it('runs on the real clock, and stop() leaves no timer or handle behind', async () => {
    await sleep(0);
    const before = process.getActiveResourcesInfo();
    const scheduler = createScheduler({ lease: '3s' });
    scheduler.add({ name: 'long', schedule: { every: '1h' }, handler: (ctx) => sleep(60_000, undefined, { signal: ctx.signal }) });
    scheduler.add({ name: 'fast', schedule: { every: '20ms' }, handler: () => 'tick' });
    scheduler.add({ name: 'later', schedule: { every: '1h', initialDelay: '30m' }, timeout: '10m', handler: () => {} });
    const fastRuns: RunRecord[] = [];
    scheduler.on('run:finished', (r) => r.task === 'fast' && fastRuns.push(r));
    const started = first<RunRecord>((l) => scheduler.on('run:started', (r) => r.task === 'long' && l(r)));
    await scheduler.start();
    await started;
    while (fastRuns.length < 3) await sleep(20);
    assert.ok(timers() > before.filter((r) => r === 'Timeout').length, 'timers are armed while running');
    const report = await scheduler.stop({ timeout: '5s' });
    // A 'fast' tick claimed a few ms ahead of its instant when stop() came is recorded interrupted
    // without its handler ever starting; only 'long' was stopped mid-run.
    const stoppedMidRun = report.interrupted.filter((r) => r.startedAt !== null);
    assert.deepEqual(stoppedMidRun.map((r) => [r.task, r.status, r.error?.code]), [['long', 'interrupted', 'ERR_SHUTDOWN']]);
    assert.ok(report.interrupted.every((r) => r.task === 'long' || (r.task === 'fast' && r.startedAt === null)));
    await sleep(0);
    assert.deepEqual(process.getActiveResourcesInfo(), before);
    // Generous bounds: real time is the point here, not precision.
    const ran = fastRuns.filter((r) => r.startedAt !== null);
    assert.ok(ran.length >= 3);
    assert.ok(ran.every((r) => r.latenessMs !== null && r.latenessMs >= 0 && r.latenessMs < 1000), JSON.stringify(ran.map((r) => r.latenessMs)));
  });

  it('arms exactly one timer for 10,000 tasks', async () => {
    await sleep(0);
    const baseline = timers();
    const scheduler = createScheduler();
    for (let i = 0; i < 10_000; i++) scheduler.add({ name: `t-${i}`, schedule: { every: '1h', initialDelay: `${1 + (i % 50)}m` }, handler: () => {} });
    await scheduler.start();
    await sleep(0);
    assert.equal(timers() - baseline, 1);
    await scheduler.stop();
    await sleep(0);
    assert.equal(timers(), baseline);
  });

  it('with unref: true, the scheduler never keeps the process alive by itself', async () => {
    await sleep(0);
    const baseline = timers();
    const scheduler = createScheduler({ unref: true });
    scheduler.add({ name: 'u', schedule: { every: '1h', initialDelay: '1h' }, handler: () => {} });
    await scheduler.start();
    await sleep(0);
    assert.equal(timers(), baseline, 'an unref-ed timer does not count as keeping the loop alive');
    await scheduler.stop();
  });
});
