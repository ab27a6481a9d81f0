/**
 * Command tasks leave no process behind: a wrapper shell's grandchild that ignores SIGTERM is
 * gone when the run ends, whether the run timed out, was cancelled, replaced or stopped, or the
 * wrapper exited by itself with the grandchild still in the background. Real processes.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { type CommandOutput, CommandFailedError, commandHandler } from '../../src/config/command-handler.ts';
import { taskDefinitions } from '../../src/config/handlers.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { RunSpec } from '../../src/config/run-spec.ts';
import { killDelayMs } from '../../src/config/process-group.ts';
import { createScheduler, memoryStore, type RunRecord, type Scheduler } from '../../src/index.ts';
import { fakeContext } from '../tasks/context.ts';
import { killTrees, leftOf, OWN_GROUP, skipUnlessLinux, type Tree, TreeDir } from './process-tree.ts';

const GRACE_MS = 300;
/** Longer than GRACE_MS: the stop deadline is not what ends the tree. */
const STOP_TIMEOUT = '1s';
/** Each test: generous for real processes on a busy machine, yet a hang fails instead of stalling the run. */
const EACH = { timeout: 10_000 };
const trees = new TreeDir();
after(() => trees.remove());
afterEach(killTrees);

/** A scheduler running the config task `tree` (the waiting wrapper) with `options`. */
async function schedulerWith(options: Record<string, unknown>): Promise<Scheduler> {
  const file = join(trees.dir, 'caretaker.config.json');
  const run = { command: trees.waiting(), shell: true };
  writeFileSync(file, JSON.stringify({ store: 'memory', tasks: { tree: { schedule: { every: '1d', initialDelay: '1d' }, abortGrace: `${GRACE_MS}ms`, ...options, run } } }));
  const scheduler = createScheduler({ store: memoryStore() });
  for (const definition of await taskDefinitions(loadConfig({ file, env: {} }).tasks)) scheduler.add(definition);
  await scheduler.start();
  return scheduler;
}

/** Resolves when run `id` is recorded, with what of `tree` was still running at that moment. */
function recorded(scheduler: Scheduler, id: string, tree: Tree): Promise<{ run: RunRecord; left: string[] }> {
  return new Promise((resolve) => {
    scheduler.on('run:finished', (run) => {
      if (run.id === id) resolve({ run, left: leftOf(tree) });
    });
  });
}

describe('command tasks end their whole process group when the run ends', { skip: skipUnlessLinux }, () => {
  it('the command leads a process group of its own', EACH, async () => {
    const scheduler = await schedulerWith({});
    try {
      await scheduler.trigger('tree');
      const tree = await trees.next();
      assert.notEqual(tree.pgid, OWN_GROUP, 'the command shares the scheduler process group');
      assert.notEqual(tree.pgid, tree.pid, 'the grandchild is in the wrapper group');
    } finally {
      await scheduler.stop({ timeout: STOP_TIMEOUT });
    }
  });

  for (const [name, options, act, status] of [
    ['timeout', { timeout: '1s' }, async () => {}, 'timed_out'],
    ['cancel', {}, (s: Scheduler, id: string) => s.cancel(id), 'cancelled'],
    // The replacing run starts a tree too: it is taken here, so the next test cannot mistake it for its own.
    ['overlap: replace', { overlap: 'replace' }, (s: Scheduler) => Promise.all([s.trigger('tree'), trees.next()]), 'cancelled'],
  ] as const) {
    it(`${name}: the wrapper and its grandchild that ignores SIGTERM are gone when the run is recorded ${status}`, EACH, async () => {
      const scheduler = await schedulerWith(options);
      try {
        const id = await scheduler.trigger('tree');
        const tree = await trees.next();
        const ended = recorded(scheduler, id, tree);
        await act(scheduler, id);
        const { run, left } = await ended;
        assert.equal(run.status, status);
        assert.deepEqual(left, [], 'still running when the run was recorded');
      } finally {
        await scheduler.stop({ timeout: STOP_TIMEOUT });
      }
    });
  }

  it('scheduler stop: nothing of the tree is left when stop() resolves; the run is recorded interrupted', EACH, async () => {
    const scheduler = await schedulerWith({});
    let stopped = false;
    try {
      const id = await scheduler.trigger('tree');
      const tree = await trees.next();
      const report = await scheduler.stop({ timeout: STOP_TIMEOUT });
      stopped = true;
      assert.deepEqual(leftOf(tree), [], 'still running after stop()');
      assert.deepEqual(report.interrupted.map((r) => r.id), [id]);
    } finally {
      if (!stopped) await scheduler.stop({ timeout: STOP_TIMEOUT });
    }
  });
});

describe('command tasks: a program that exits leaves nothing running in the background', { skip: skipUnlessLinux }, () => {
  type CommandSpec = Extract<RunSpec, { kind: 'command' }>;
  const spec = (line: string): CommandSpec => ({ kind: 'command', argv: [line], shell: true, cwd: trees.dir, env: {}, maxOutputBytes: 1024 });
  const run = (line: string, abortGraceMs = GRACE_MS) => commandHandler(spec(line), { abortGraceMs })(fakeContext()) as Promise<CommandOutput>;

  it('exit 0 with a grandchild that ignores SIGTERM: it gets SIGKILL before the run succeeds', EACH, async () => {
    const startedAt = Date.now();
    const pending = run(trees.exiting(0));
    const tree = await trees.next();
    const output = await pending;
    const left = leftOf(tree);
    assert.deepEqual([output.exitCode, output.stdout], [0, 'done\n']);
    assert.deepEqual(left, [], 'still running when the run settled');
    assert.ok(Date.now() - startedAt < killDelayMs(GRACE_MS) + 3_000);
  });

  it('a failure with a grandchild that ignores SIGTERM: it is gone before the run fails', EACH, async () => {
    const pending = run(trees.exiting(3));
    const tree = await trees.next();
    const error = await pending.then(() => assert.fail('expected a failure'), (e: unknown) => e);
    const left = leftOf(tree);
    assert.ok(error instanceof CommandFailedError, String(error));
    assert.match(error.message, / exited with 3: leaving$/);
    assert.deepEqual(left, [], 'still running when the run failed');
  });

  it('SIGTERM first: a grandchild that honours it ends the run without waiting for SIGKILL', EACH, async () => {
    const graceMs = 4_000;
    const pending = run(trees.exiting(0, 'obey'), graceMs);
    const tree = await trees.next();
    const readyAt = Date.now();
    await pending;
    const took = Date.now() - readyAt;
    assert.equal(trees.termed(tree), true, 'the grandchild got SIGTERM');
    assert.deepEqual(leftOf(tree), []);
    assert.ok(took < killDelayMs(graceMs) - 1_000, `settled ${took} ms after the grandchild started: it waited for SIGKILL`);
  });
});
