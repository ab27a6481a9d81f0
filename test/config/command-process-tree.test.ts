/**
 * Command tasks leave no process behind: a wrapper shell's grandchild that ignores SIGTERM is
 * gone when the run ends, whether the run timed out, was cancelled, replaced or stopped, or the
 * wrapper exited by itself with the grandchild still in the background; so are processes that
 * moved out of the command's process group (GNU timeout, `set -m`, setpgrp) or, once seen, out of
 * its session (setsid). Real processes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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
import { killMarked, killTrees, leftOf, MARK_VARIABLE, moved, marked, newMark, OWN_GROUP, skipUnlessLinux, TreeDir } from './process-tree.ts';

const GRACE_MS = 300;
/** Longer than GRACE_MS: the stop deadline is not what ends the tree. */
const STOP_TIMEOUT = '1s';
/** Each test: generous for real processes on a busy machine, yet a hang fails instead of stalling the run. */
const EACH = { timeout: 10_000 };
const trees = new TreeDir();
after(() => trees.remove());
afterEach(() => {
  killTrees();
  killMarked();
});

/** A scheduler running the config task `tree` (by default the waiting wrapper) with `options`. */
async function schedulerWith(options: Record<string, unknown>, run: Record<string, unknown> = { command: trees.waiting(), shell: true }): Promise<Scheduler> {
  const file = join(trees.dir, 'caretaker.config.json');
  writeFileSync(file, JSON.stringify({ store: 'memory', tasks: { tree: { schedule: { every: '1d', initialDelay: '1d' }, abortGrace: `${GRACE_MS}ms`, ...options, run } } }));
  const scheduler = createScheduler({ store: memoryStore() });
  for (const definition of await taskDefinitions(loadConfig({ file, env: {} }).tasks)) scheduler.add(definition);
  await scheduler.start();
  return scheduler;
}

/** Resolves when run `id` is recorded, with what `left` said was still running at that moment. */
function recorded(scheduler: Scheduler, id: string, left: () => unknown[]): Promise<{ run: RunRecord; left: unknown[] }> {
  return new Promise((resolve) => {
    scheduler.on('run:finished', (run) => {
      if (run.id === id) resolve({ run, left: left() });
    });
  });
}

type Act = (scheduler: Scheduler, id: string) => Promise<unknown>;
/** Ways a run is ended from outside, with the status it is recorded with. */
const ENDINGS: readonly (readonly [string, Record<string, unknown>, Act, string])[] = [
  ['timeout', { timeout: '1s' }, async () => {}, 'timed_out'],
  ['cancel', {}, (s, id) => s.cancel(id), 'cancelled'],
];

/**
 * Triggers the task `tree` running `run`, waits for `started` (which answers what of it still
 * runs), ends the run with `act`, and checks the run is recorded `status` with nothing left.
 */
async function endedBy(options: Record<string, unknown>, run: Record<string, unknown> | undefined, act: Act, status: string, started: () => Promise<() => unknown[]>): Promise<void> {
  const scheduler = await schedulerWith(options, run);
  try {
    const id = await scheduler.trigger('tree');
    const ended = recorded(scheduler, id, await started());
    await act(scheduler, id);
    const { run: record, left } = await ended;
    assert.equal(record.status, status);
    assert.deepEqual(left, [], 'still running when the run was recorded');
  } finally {
    await scheduler.stop({ timeout: STOP_TIMEOUT });
  }
}

/** As `endedBy`, ended by the scheduler's stop: nothing left when stop() resolves, the run recorded interrupted. */
async function stoppedWith(run: Record<string, unknown> | undefined, started: () => Promise<() => unknown[]>): Promise<void> {
  const scheduler = await schedulerWith({}, run);
  let stopped = false;
  try {
    const id = await scheduler.trigger('tree');
    const left = await started();
    const report = await scheduler.stop({ timeout: STOP_TIMEOUT });
    stopped = true;
    assert.deepEqual(left(), [], 'still running after stop()');
    assert.deepEqual(report.interrupted.map((r) => r.id), [id]);
  } finally {
    if (!stopped) await scheduler.stop({ timeout: STOP_TIMEOUT });
  }
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

  const tree = async () => {
    const started = await trees.next();
    return () => leftOf(started);
  };
  for (const [name, options, act, status] of [
    ...ENDINGS,
    // The replacing run starts a tree too: it is taken here, so the next test cannot mistake it for its own.
    ['overlap: replace', { overlap: 'replace' }, (s: Scheduler) => Promise.all([s.trigger('tree'), trees.next()]), 'cancelled'],
  ] as const) {
    it(`${name}: the wrapper and its grandchild that ignores SIGTERM are gone when the run is recorded ${status}`, EACH, () => endedBy(options, undefined, act, status, tree));
  }

  it('scheduler stop: nothing of the tree is left when stop() resolves; the run is recorded interrupted', EACH, () => stoppedWith(undefined, tree));
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

/**
 * Processes that move out of the command's process group, in the ways users meet: into a group of
 * their own (GNU timeout, `set -m`, setpgrp; still in the command's session) or into a session of
 * their own (setsid). `running` keeps the wrapper waiting for it; `exiting` leaves it in the
 * background and exits: at once once it has moved (no periodic look can have seen it, only the
 * session finds it), or for setsid, which leaves the session too, after two looks (one a second)
 * have seen it.
 */
const MOVED = `until [ "$(cut -d' ' -f5 /proc/$!/stat)" = "$!" ]; do sleep 0.01; done; echo done`;
const hasPerl = spawnSync('perl', ['-e', '1']).status === 0;
const ESCAPES = [
  { name: 'GNU timeout', running: 'timeout 3600 sleep 100; echo done', exiting: `timeout 3600 sleep 100 & ${MOVED}`, skip: false },
  { name: 'a set -m background job', running: 'set -m; sleep 100 & wait', exiting: `set -m; sleep 100 & ${MOVED}`, skip: false },
  {
    name: 'a perl setpgrp child',
    running: "perl -e 'setpgrp(0,0); sleep 100'; echo done",
    exiting: `perl -e 'setpgrp(0,0); sleep 100' & ${MOVED}`,
    skip: hasPerl ? false : 'perl is not installed',
  },
  { name: 'a setsid child', running: 'setsid sleep 100; echo done', exiting: 'setsid sleep 100 & sleep 2.5; echo done', skip: false },
] as const;

/** `bash -c line`, every process of it marked with `mark`. */
const bash = (line: string, mark: string) => ({ command: ['bash', '-c', line], env: { [MARK_VARIABLE]: mark } });
const pids = (left: readonly { pid: number }[]) => left.map((m) => m.pid);

describe('command tasks end the processes that moved out of their group or session', { skip: skipUnlessLinux }, () => {
  for (const escape of ESCAPES) {
    /** Once a process of it has moved out of the command's group: what still runs of it. */
    const moving = (mark: string) => async () => {
      await moved(mark);
      return () => pids(marked(mark));
    };
    for (const [name, options, act, status] of ENDINGS) {
      it(`${escape.name}, ${name}: gone when the run is recorded ${status}`, { ...EACH, skip: escape.skip }, () => {
        const mark = newMark();
        return endedBy(options, bash(escape.running, mark), act, status, moving(mark));
      });
    }

    it(`${escape.name}, scheduler stop: gone when stop() resolves`, { ...EACH, skip: escape.skip }, () => {
      const mark = newMark();
      return stoppedWith(bash(escape.running, mark), moving(mark));
    });

    it(`${escape.name}, left in the background by a command that exits 0: gone before the run succeeds`, { ...EACH, skip: escape.skip }, async () => {
      const mark = newMark();
      const output = await runBash(escape.exiting, mark);
      const left = pids(marked(mark));
      assert.deepEqual([output.exitCode, output.stdout], [0, 'done\n']);
      assert.deepEqual(left, [], 'still running when the run settled');
    });
  }
});

/** Runs `bash -c line` as a command task would, every process of it marked with `mark`. */
function runBash(line: string, mark: string): Promise<CommandOutput> {
  const spec: Extract<RunSpec, { kind: 'command' }> = { kind: 'command', argv: ['bash', '-c', line], shell: false, cwd: trees.dir, env: { [MARK_VARIABLE]: mark }, maxOutputBytes: 1024 };
  return commandHandler(spec, { abortGraceMs: GRACE_MS })(fakeContext()) as Promise<CommandOutput>;
}
