/**
 * The daemon in this process: how much it logs per run on a terminal, what a SIGHUP reload says
 * needs a restart, and how a task's options sit over the config's defaults.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { runCommand } from '../../src/cli/commands/run.ts';
import type { CliIo } from '../../src/cli/context.ts';
import { Daemon } from '../../src/daemon/daemon.ts';
import type { RunRecord } from '../../src/index.ts';
import { sqliteStore } from '../../src/index.ts';
import { silentLogger } from '../../src/util/logger.ts';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function workDir(config: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'caretaker-daemon-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'ok.mjs'), 'export default () => ({ ok: true, sample: { a: [1, 2, 3], b: { c: "d" } } });\n');
  writeFileSync(join(dir, 'fail.mjs'), 'export default () => { throw new Error("disk full"); };\n');
  writeFileSync(join(dir, 'slow.mjs'), "import { setTimeout as sleep } from 'node:timers/promises';\nexport default (ctx) => sleep(2_500, undefined, { signal: ctx.signal });\n");
  const file = join(dir, 'caretaker.config.yaml');
  writeFileSync(file, config);
  return { dir, file };
}

async function runs(db: string, task: string): Promise<readonly RunRecord[]> {
  const store = sqliteStore({ path: db });
  await store.open();
  try {
    return (await store.listRuns({ task, limit: 1000 })).runs;
  } finally {
    await store.close();
  }
}

/** `caretaker run` for `ms` with a pretty log (as on a terminal) captured line by line. */
async function runFor(dir: string, ms: number, ...args: string[]): Promise<string[]> {
  const lines: string[] = [];
  let pending = '';
  const stdout = new Writable({
    write(chunk: Buffer, _encoding, done) {
      pending += chunk.toString();
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      lines.push(...parts);
      done();
    },
  });
  const io: CliIo = { out: () => {}, err: () => {}, cwd: dir, env: {}, stdout: stdout as unknown as NodeJS.WriteStream };
  const signals = new EventEmitter();
  const timer = setTimeout(() => signals.emit('SIGTERM'), ms);
  const code = await runCommand(['--log-format', 'pretty', '--stop-timeout', '1s', ...args], io, signals);
  clearTimeout(timer);
  assert.equal(code, 0, lines.join('\n'));
  return lines;
}

describe('log volume on a terminal', () => {
  const CONFIG = `store: { sqlite: { path: ./state.db } }
http: { enabled: false }
scheduler: { pollInterval: 200ms }
tasks:
  tick: { schedule: { every: 1s }, run: { module: ./ok.mjs } }
  slow: { schedule: { every: 1s }, run: { module: ./slow.mjs } }
`;

  it('at info: one line per run (its end), one line for a streak of overlap skips, nothing spread over lines', async () => {
    const w = workDir(CONFIG);
    const lines = await runFor(w.dir, 4_500);
    assert.deepEqual(lines.filter((l) => !l.startsWith('[')), [], 'every entry is one line');
    const tickRuns = (await runs(join(w.dir, 'state.db'), 'tick')).filter((r) => r.status !== 'skipped');
    const tickLines = lines.filter((l) => /: tick /.test(l));
    assert.ok(tickRuns.length >= 3, `${tickRuns.length} runs`);
    assert.equal(tickLines.length, tickRuns.length, lines.join('\n'));
    for (const line of tickLines) assert.match(line, /^\[[\d:.]+\] INFO: tick succeeded in \d+ms$/);
    const slowSkips = (await runs(join(w.dir, 'state.db'), 'slow')).filter((r) => r.status === 'skipped');
    assert.ok(slowSkips.length >= 2, `${slowSkips.length} overlap skips`);
    assert.equal(lines.filter((l) => /slow tick skipped \(overlap\)/.test(l)).length, 1, lines.join('\n'));
    // Start (scheduler, daemon), runs, overlap once, stop (signal, scheduler, summary): no more.
    const slowRuns = (await runs(join(w.dir, 'state.db'), 'slow')).filter((r) => r.status !== 'skipped');
    assert.ok(lines.length <= 2 + tickRuns.length + slowRuns.length + 1 + 3, lines.join('\n'));
  });

  it('at debug (or log.level in the config): starts and skips too, each entry still one line with its fields', async () => {
    const w = workDir(CONFIG.replace('tasks:', 'log: { level: debug }\ntasks:'));
    const lines = await runFor(w.dir, 2_500);
    assert.deepEqual(lines.filter((l) => !l.startsWith('[')), [], 'every entry is one line');
    const started = lines.filter((l) => / DEBUG: tick started /.test(l));
    assert.ok(started.length >= 2, lines.join('\n'));
    assert.match(started[0] ?? '', /"runId":"[0-9a-f-]+"/);
    assert.ok(lines.some((l) => /INFO: tick succeeded in \d+ms \{.*"output":\{"ok":true/.test(l)), lines.join('\n'));
  });
});

describe('SIGHUP reload', () => {
  const V1 = `store: { sqlite: { path: ./state.db } }
http: { enabled: false }
scheduler: { pollInterval: 200ms, stopTimeout: 5s }
defaults: { timeout: 1m }
tasks:
  t: { schedule: { every: 1h, initialDelay: 1h }, run: { module: ./ok.mjs } }
`;

  it('names the restart-only sections that differ from those the daemon runs on, and only those', async () => {
    const w = workDir(V1);
    const daemon = await Daemon.start({ file: w.file, env: {}, logger: silentLogger });
    const reload = async (text: string) => {
      writeFileSync(w.file, text);
      const report = await daemon.reload({});
      assert.ok(report !== null);
      return report;
    };
    try {
      assert.deepEqual((await reload(V1)).needsRestart, []);
      assert.deepEqual((await reload(V1.replace('200ms', '300ms'))).needsRestart, ['scheduler']);
      // Back to what runs: nothing to restart for, though it differs from the last reload.
      assert.deepEqual((await reload(V1)).needsRestart, []);
      const stopTimeout = await reload(V1.replace('stopTimeout: 5s', 'stopTimeout: 9s'));
      assert.deepEqual(stopTimeout.needsRestart, [], 'the stop timeout is read when stopping');
      assert.equal(daemon.config.scheduler.stopTimeout, 9_000);
      const defaults = await reload(V1.replace('timeout: 1m', 'timeout: 2m'));
      assert.deepEqual({ needsRestart: defaults.needsRestart, updated: defaults.updated }, { needsRestart: [], updated: ['t'] });
      assert.deepEqual((await reload(V1.replace('http: { enabled: false }', 'http: { enabled: false }\nlog: { level: warn }'))).needsRestart, ['log']);
    } finally {
      await daemon.stop('5s');
    }
  });
});

describe('SIGHUP reload with smart scheduling', () => {
  it('adds a dependent task before its upstream, reverses a chain without a passing cycle, and drops a removed when', async () => {
    const head = `store: { sqlite: { path: ./state.db } }
http: { enabled: false }
scheduler: { pollInterval: 200ms }
tasks:
`;
    const w = workDir(`${head}  a: { schedule: { every: 1h, initialDelay: 1h }, when: { module: ./ok.mjs }, run: { module: ./ok.mjs } }\n`);
    const daemon = await Daemon.start({ file: w.file, env: {}, logger: silentLogger });
    const reload = async (text: string) => {
      writeFileSync(w.file, head + text);
      const report = await daemon.reload({});
      assert.ok(report !== null, 'reloaded');
      return report;
    };
    try {
      assert.equal(daemon.scheduler.task('a')?.hasCondition, true);
      // c runs after b, which is new too and listed after it.
      const added = await reload(`  c: { after: b, run: { module: ./ok.mjs } }\n  b: { after: a, run: { module: ./ok.mjs } }\n  a: { schedule: { every: 1h, initialDelay: 1h }, run: { module: ./ok.mjs } }\n`);
      assert.deepEqual([...added.added].sort(), ['b', 'c']);
      assert.equal(daemon.scheduler.task('a')?.hasCondition, false, 'a when removed from the config is removed');
      assert.deepEqual(daemon.scheduler.task('b')?.downstream, ['c']);
      // The chain reversed: a after b after c. One at a time in file order, a passing cycle would refuse it.
      await reload(`  a: { after: b, run: { module: ./ok.mjs } }\n  b: { after: c, run: { module: ./ok.mjs } }\n  c: { schedule: { every: 1h, initialDelay: 1h }, run: { module: ./ok.mjs } }\n`);
      assert.deepEqual([daemon.scheduler.task('a')?.after?.upstreams[0]?.task, daemon.scheduler.task('b')?.after?.upstreams[0]?.task, daemon.scheduler.task('c')?.after], ['b', 'c', null]);
      // A cycle in the file changes nothing.
      writeFileSync(w.file, `${head}  a: { after: b, run: { module: ./ok.mjs } }\n  b: { after: a, run: { module: ./ok.mjs } }\n`);
      assert.equal(await daemon.reload({}), null);
      assert.equal(daemon.scheduler.task('c')?.after, null);
    } finally {
      await daemon.stop('5s');
    }
  });
});

describe('task options over the config defaults', () => {
  it('retry merges field by field: a task setting only retry.backoff keeps the default attempts', async () => {
    const w = workDir(`store: { sqlite: { path: ./state.db } }
http: { enabled: false }
defaults: { retry: { attempts: 3 } }
tasks:
  flaky: { schedule: { every: 1h, initialDelay: 1h }, retry: { backoff: 10ms }, run: { module: ./fail.mjs } }
`);
    const daemon = await Daemon.start({ file: w.file, env: {}, logger: silentLogger });
    try {
      const failed: RunRecord[] = [];
      const done = new Promise<void>((resolve) => {
        daemon.scheduler.on('run:finished', (run) => {
          failed.push(run);
          if (run.retryAt === null) resolve();
        });
      });
      await daemon.scheduler.trigger('flaky');
      await done;
      assert.deepEqual(failed.map((r) => `${r.attempt}:${r.status}`), ['1:failed', '2:failed', '3:failed']);
    } finally {
      await daemon.stop('5s');
    }
  });
});
