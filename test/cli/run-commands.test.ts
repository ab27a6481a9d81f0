/**
 * The commands that act on runs and on tasks without a daemon of their own: `trigger` (with no
 * running instance, and `--local`), `show`, `cancel`, `retry`. A SQLite store in a temp folder;
 * the "daemon" is a scheduler in this process on the same file, when there is one.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.ts';
import { Daemon } from '../../src/daemon/daemon.ts';
import { sqliteStore } from '../../src/index.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { io } from './io.ts';


describe('run commands on a store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'caretaker-run-commands-'));
  const db = join(dir, 'state.db');
  const ids = () => sqliteStore({ path: db });
  before(() => {
    writeFileSync(join(dir, 'ok.mjs'), 'export default (ctx) => ({ trigger: ctx.trigger, attempt: ctx.attempt });\n');
    writeFileSync(
      join(dir, 'flaky.mjs'),
      `import { existsSync } from 'node:fs';\nexport default (ctx) => { ctx.logger.info({ attempt: ctx.attempt }, 'looking for \\u001b[31mfixed\\u001b[0m'); if (!existsSync(new URL('./fixed', import.meta.url))) throw new Error('not yet'); return 'fixed'; };\n`,
    );
    writeFileSync(join(dir, 'slow.mjs'), 'export default (ctx) => new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)));\n');
    writeFileSync(
      join(dir, 'caretaker.config.yaml'),
      `store: { sqlite: { path: ./state.db } }
scheduler: { pollInterval: 200ms, runLogs: { maxBytes: 16KiB, flushInterval: 200ms } }
http: { enabled: false }
tasks:
  ok: { schedule: { every: 1s }, run: { module: ./ok.mjs } }
  flaky: { schedule: { every: 1h, initialDelay: 1h }, run: { module: ./flaky.mjs } }
  slow: { schedule: { every: 1h, initialDelay: 1h }, run: { module: ./slow.mjs } }
`,
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('trigger with no running instance says so at once, exits 1 and leaves no request behind', async () => {
    const cli = io(dir);
    const began = Date.now();
    assert.equal(await main(['trigger', 'flaky', '--wait'], cli), 1);
    assert.ok(Date.now() - began < 5_000, 'at once, not after the --wait timeout');
    assert.match(cli.errors.join('\n'), /flaky: no instance on this store runs task "flaky"; start one \(caretaker run\), or run it here with --local/);
    const json = io(dir);
    assert.equal(await main(['trigger', 'flaky', '--json'], json), 1);
    assert.equal((JSON.parse(json.lines[0] ?? '{}') as { error: { code: string } }).error.code, 'ERR_NO_INSTANCE');
    const store = ids();
    await store.open();
    const poll = await store.poll({ instance: 'reader', now: Date.now(), pauseVersion: 0, retryGraceMs: 1 });
    await store.close();
    assert.deepEqual(poll.triggers, [], 'nothing waits for a daemon that may start days later');
  });

  it('trigger --wait for an instance that died (still in its liveness window): the request is withdrawn once it is gone, exit 1', async () => {
    const store = ids();
    await store.open();
    try {
      // An instance that polled once, half a second apart, and then died (kill -9).
      await store.poll({ instance: 'ghost', now: Date.now(), pauseVersion: 0, retryGraceMs: 1, beat: { pollIntervalMs: 500, tasks: ['flaky'], tasksToken: 'ghost:0', tasksDigest: 'flaky' } });
      const cli = io(dir);
      const began = Date.now();
      assert.equal(await main(['trigger', 'flaky', '--wait', '--json'], cli), 1);
      assert.ok(Date.now() - began < 6_000, `noticed within seconds (${Date.now() - began} ms), not at the 10 m timeout`);
      const { error } = JSON.parse(cli.lines.at(-1) ?? '{}') as { error: { code: string; message: string } };
      assert.equal(error.code, 'ERR_NO_INSTANCE');
      assert.match(error.message, /withdrawn: no running instance runs task "flaky" \(last: ghost, seen/);
      const poll = await store.poll({ instance: 'reader', now: Date.now(), pauseVersion: 0, retryGraceMs: 1 });
      assert.deepEqual(poll.triggers, [], 'nothing left to run when a daemon starts days later');
    } finally {
      await store.close();
    }
  });

  it('trigger --local runs the task here, records it, and runs nothing else', async () => {
    const cli = io(dir);
    assert.equal(await main(['trigger', 'ok', '--local', '--json'], cli), 0);
    const run = JSON.parse(cli.lines.at(-1) ?? '{}') as { status: string; trigger: string; instance: string; output: unknown };
    assert.deepEqual([run.status, run.trigger, run.output], ['succeeded', 'manual', { trigger: 'manual', attempt: 1 }]);
    assert.match(run.instance, /^cli:/);
    const history = io(dir);
    assert.equal(await main(['history', '--json'], history), 0);
    const runs = JSON.parse(history.lines[0] ?? '[]') as { task: string; trigger: string }[];
    assert.deepEqual(runs.map((r) => [r.task, r.trigger]), [['ok', 'manual']], 'no tick of the 1 s task ran in the CLI');
  });

  it('trigger --local: a signal stops the run gracefully, recorded interrupted; a task whose module is broken elsewhere does not matter', async () => {
    writeFileSync(join(dir, 'broken.mjs'), 'throw new Error("this module is broken");\n');
    writeFileSync(join(dir, 'local.yaml'), `store: { sqlite: { path: ./state.db } }
http: { enabled: false }
tasks:
  slow: { schedule: { every: 1h, initialDelay: 1h }, run: { module: ./slow.mjs } }
  broken: { schedule: { every: 1h }, run: { module: ./broken.mjs } }
`);
    const signals = new EventEmitter();
    const cli = io(dir);
    const running = main(['trigger', 'slow', '--local', '--json', '--config', 'local.yaml'], cli, signals);
    // The handler waits for its abort signal: once it runs, a SIGINT stops it.
    const store = ids();
    await store.open();
    try {
      for (let i = 0; i < 50 && (await store.listRuns({ task: 'slow', status: 'running', limit: 1 })).runs.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await store.close();
    }
    signals.emit('SIGINT');
    assert.equal(await running, 1);
    const run = JSON.parse(cli.lines.at(-1) ?? '{}') as { status: string; error: { code: string } };
    assert.deepEqual([run.status, run.error.code], ['interrupted', 'ERR_SHUTDOWN']);
  });

  describe('with a running instance', () => {
    let daemon: Daemon;
    before(async () => {
      daemon = await Daemon.start({ file: join(dir, 'caretaker.config.yaml'), env: {}, logger: silentLogger });
      await new Promise((resolve) => setTimeout(resolve, 400)); // its first poll is its heartbeat
    });
    after(async () => daemon.stop(1_000));

    it('show prints a run whole; retry runs its tick again as the next attempt, linked to it', async () => {
      const first = io(dir);
      assert.equal(await main(['trigger', 'flaky', '--wait', '--json'], first), 1);
      const failed = JSON.parse(first.lines[0] ?? '{}') as { id: string; status: string };
      assert.equal(failed.status, 'failed');
      const shown = io(dir);
      assert.equal(await main(['show', failed.id], shown), 0);
      const text = shown.lines.join('\n');
      assert.match(text, new RegExp(`^run +${failed.id}$`, 'm'));
      assert.match(text, /^status +failed$/m);
      assert.match(text, /^trigger +manual, attempt 1$/m);
      assert.match(text, /^error: not yet$/m);
      assert.match(text, /^Error: not yet\n +at /m, 'with its stack');
      assert.doesNotMatch(text, /^log:/m, 'the log only when asked');
      const logged = io(dir);
      assert.equal(await main(['show', failed.id, '--logs'], logged), 0);
      const log = logged.lines.join('\n');
      // The escape sequence a handler logged does not reach the terminal.
      assert.match(log, /^log:\n\d{4}-\d\d-\d\dT[\d:.]+Z INFO  looking for \[31mfixed \[0m {"attempt":1}$/m);
      const asJson = io(dir);
      assert.equal(await main(['show', failed.id, '--logs', '--json'], asJson), 0);
      const { log: jsonLog } = JSON.parse(asJson.lines[0] ?? '{}') as { log: { lines: { message: string }[]; dropped: number } };
      assert.deepEqual([jsonLog.lines.map((l) => l.message), jsonLog.dropped], [['looking for \u001b[31mfixed\u001b[0m'], 0]);
      writeFileSync(join(dir, 'fixed'), '');
      const retried = io(dir);
      assert.equal(await main(['retry', failed.id, '--wait', '--json'], retried), 0);
      const run = JSON.parse(retried.lines[0] ?? '{}') as { status: string; trigger: string; attempt: number; causedBy: string; output: unknown };
      assert.deepEqual([run.status, run.trigger, run.attempt, run.causedBy, run.output], ['succeeded', 'retry', 2, failed.id, 'fixed']);
    });

    it('backfill runs a past range on the daemon, lists its progress, refuses bad ranges naming the flag; a done one cannot be cancelled', async () => {
      const now = Date.now();
      const requested = io(dir);
      assert.equal(await main(['backfill', 'ok', '--from', new Date(now - 4_000).toISOString(), '--to', new Date(now - 1_000).toISOString(), '--json'], requested), 0, requested.errors.join('\n'));
      const { backfill } = JSON.parse(requested.lines[0] ?? '{}') as { backfill: { id: string; progress: { total: number }; requestedBy: string } };
      assert.ok(backfill.progress.total >= 3 && backfill.progress.total <= 4, String(backfill.progress.total));
      assert.match(backfill.requestedBy, /^cli:/);
      let status = '';
      for (let i = 0; i < 100 && status !== 'done'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const listed = io(dir);
        assert.equal(await main(['backfill', 'ok', '--list', '--json'], listed), 0);
        status = (JSON.parse(listed.lines[0] ?? '{}') as { backfills: { id: string; status: string }[] }).backfills.find((b) => b.id === backfill.id)?.status ?? '';
      }
      assert.equal(status, 'done');
      const runs = (await daemon.scheduler.history({ task: 'ok', trigger: 'backfill', limit: 100 })).filter((r) => r.slot.startsWith(`b:${backfill.id}:`));
      assert.equal(runs.length, backfill.progress.total);
      assert.ok(runs.every((r) => r.status === 'succeeded'));
      const table = io(dir);
      assert.equal(await main(['backfill', 'ok', '--list'], table), 0);
      assert.match(table.lines.join('\n'), new RegExp(`${backfill.id} .* done +${backfill.progress.total}/${backfill.progress.total} started, ${backfill.progress.total} succeeded`));
      const done = io(dir);
      assert.equal(await main(['backfill', '--cancel', backfill.id], done), 1);
      assert.match(done.errors.join('\n'), /is done already/);
      const bad = async (args: string[], pattern: RegExp) => {
        const cli = io(dir);
        assert.equal(await main(['backfill', 'ok', ...args], cli), 2, args.join(' '));
        assert.match(cli.errors.join('\n'), pattern);
      };
      await bad(['--from', 'yesterday', '--to', new Date(now).toISOString()], /--from: received "yesterday"; use an instant/);
      await bad(['--from', new Date(now - 86_400_000).toISOString(), '--to', new Date(now - 1_000).toISOString()], /--to: .*more than backfillLimit \(1000\)/);
      await bad(['--from', new Date(now).toISOString(), '--to', new Date(now + 60_000).toISOString()], /--to: .*in the past/);
      await bad(['--to', new Date(now).toISOString()], /needs --from and --to/);
      const unknown = io(dir);
      assert.equal(await main(['backfill', '--cancel', 'nope'], unknown), 2);
      assert.match(unknown.errors.join('\n'), /no backfill with id "nope"/);
      // Refused requests stored nothing.
      const listed = io(dir);
      assert.equal(await main(['backfill', 'ok', '--list', '--json'], listed), 0);
      assert.equal((JSON.parse(listed.lines[0] ?? '{}') as { backfills: unknown[] }).backfills.length, 1);
    });

    it('trigger --local while a run of the task is in progress elsewhere: the tick is recorded skipped, said so, exit 1', async () => {
      const requested = io(dir);
      assert.equal(await main(['trigger', 'slow', '--json'], requested), 0);
      const { runId } = JSON.parse(requested.lines[0] ?? '{}') as { runId: string };
      for (let i = 0; i < 40 && (await daemon.scheduler.getRun(runId))?.status !== 'running'; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      const local = io(dir);
      assert.equal(await main(['trigger', 'slow', '--local', '--json'], local), 1);
      const run = JSON.parse(local.lines.at(-1) ?? '{}') as { status: string; skipReason: string };
      assert.deepEqual([run.status, run.skipReason], ['skipped', 'overlap']);
      await daemon.scheduler.cancel(runId);
    });

    it('cancel cancels a running run wherever it runs; a finished one is refused with exit 1', async () => {
      const requested = io(dir);
      assert.equal(await main(['trigger', 'slow', '--json'], requested), 0);
      const { runId } = JSON.parse(requested.lines[0] ?? '{}') as { runId: string };
      let status = '';
      for (let i = 0; i < 40 && status !== 'running'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        status = (await daemon.scheduler.getRun(runId))?.status ?? '';
      }
      const cancel = io(dir);
      assert.equal(await main(['cancel', runId], cancel), 0, cancel.errors.join('\n'));
      for (let i = 0; i < 40 && status !== 'cancelled'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        status = (await daemon.scheduler.getRun(runId))?.status ?? '';
      }
      assert.equal(status, 'cancelled');
      const again = io(dir);
      assert.equal(await main(['cancel', runId], again), 1);
      assert.match(again.errors.join('\n'), /is not running \(it is cancelled\)/);
      const unknown = io(dir);
      assert.equal(await main(['show', 'no-such-run'], unknown), 2);
      assert.match(unknown.errors.join('\n'), /no run with id "no-such-run"/);
    });
  });
});
