/**
 * The shared /proc scan behind command tasks: which processes belong to a command (pure, on a
 * made-up table), and what reaping many commands at once costs (real processes, counted scans).
 */
import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CommandOutput, commandHandler } from '../../src/config/command-handler.ts';
import { commandProcesses, killDelayMs } from '../../src/config/process-group.ts';
import { type ProcessEntry, ProcessSnapshot, scanCount, scanPending } from '../../src/config/process-table.ts';
import type { RunSpec } from '../../src/config/run-spec.ts';
import { fakeContext } from '../tasks/context.ts';
import { killTrees, leftOf, skipUnlessLinux, TreeDir } from './process-tree.ts';

describe('the processes of a command, in one scan', () => {
  const LEADER = 100;
  const p = (pid: number, ppid: number, pgrp: number, sid: number, start: string, state = 'S'): ProcessEntry => ({ pid, ppid, pgrp, sid, state, start });
  const table = new ProcessSnapshot(
    new Map(
      [
        p(1, 0, 1, 1, '1'),
        p(LEADER, 50, LEADER, LEADER, '1000'),
        p(101, LEADER, 101, LEADER, '1001'), // GNU timeout: a group of its own in the session
        p(102, 101, 101, LEADER, '1002'), // its child
        p(103, 1, 103, 103, '1003'), // setsid, orphaned: known from an earlier scan
        p(104, 103, 103, 103, '1004'), // its child, never seen before
        p(105, 1, 105, 105, '9999'), // pid 105 was known with start 1005: reused by another process
        p(106, 105, 105, 105, '10000'), // the other process's child
        p(107, LEADER, LEADER, LEADER, '1007', 'Z'), // a zombie has ended
        p(200, 1, 200, 200, '2000'), // unrelated
      ].map((e) => [e.pid, e]),
    ),
  );
  const known = new Map([
    [103, '1003'],
    [105, '1005'],
  ]);

  it('its session, its group, the processes seen before with the same start time, and all their descendants', () => {
    const pids = commandProcesses(table, LEADER, known).map((e) => e.pid);
    assert.deepEqual(pids.sort((a, b) => a - b), [LEADER, 101, 102, 103, 104]);
  });
});

describe('reaping many commands at once shares one /proc scan', { skip: skipUnlessLinux }, () => {
  const trees = new TreeDir();
  after(() => trees.remove());
  afterEach(killTrees);

  it('20 commands exit together, each leaving a child that ignores SIGTERM: at most 40 scans, none once all have ended', { timeout: 30_000 }, async () => {
    const COMMANDS = 20;
    const graceMs = 2_000;
    const spec: Extract<RunSpec, { kind: 'command' }> = { kind: 'command', argv: [trees.exiting(0)], shell: true, cwd: trees.dir, env: {}, maxOutputBytes: 1024 };
    const before = scanCount();
    const cpu = process.cpuUsage();
    const runs = Array.from({ length: COMMANDS }, () => commandHandler(spec, { abortGraceMs: graceMs })(fakeContext()) as Promise<CommandOutput>);
    const started = await Promise.all(runs.map(() => trees.next()));
    await Promise.all(runs);
    const scans = scanCount() - before;
    const used = process.cpuUsage(cpu);
    assert.deepEqual(started.flatMap(leftOf), [], 'still running when the runs settled');
    // A scan asked for just before the last command ended may still run; nothing after it.
    const idleBy = Date.now() + 1_000;
    while (scanPending() && Date.now() < idleBy) await sleep(10);
    assert.equal(scanPending(), false, 'a scan is still armed with no command alive');
    // One scan every 20 ms per command, as before, would be 20 × 75 in the 1.5 s until SIGKILL.
    const perCommand = Math.ceil(killDelayMs(graceMs) / 20);
    assert.ok(scans <= 40, `${scans} scans (one per command every 20 ms would be ${COMMANDS * perCommand})`);
    // Spawning included; those 1,500 scans took over 2 s of CPU with a hundred processes on the host.
    const cpuMs = (used.user + used.system) / 1000;
    assert.ok(cpuMs < 1_000, `${Math.round(cpuMs)} ms of CPU`);
  });
});
