import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.ts';
import { Daemon } from '../../src/daemon/daemon.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { io } from './io.ts';


describe('caretaker CLI on a config and its store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'caretaker-cli-'));
  let daemon: Daemon;
  before(async () => {
    writeFileSync(join(dir, 'ok.mjs'), 'export default (ctx) => ({ task: ctx.task, attempt: ctx.attempt });\n');
    writeFileSync(join(dir, 'fail.mjs'), 'export default () => { throw new Error("disk full"); };\n');
    writeFileSync(
      join(dir, 'caretaker.config.yaml'),
      `store: { sqlite: { path: ./state.db } }
scheduler: { pollInterval: 200ms }
http: { port: 0 }
tasks:
  hourly: { schedule: { every: 1h, initialDelay: 1h }, run: { module: ./ok.mjs } }
  broken: { schedule: { every: 1h, initialDelay: 1h }, run: { module: ./fail.mjs } }
`,
    );
    daemon = await Daemon.start({ file: join(dir, 'caretaker.config.yaml'), env: {}, logger: silentLogger });
  });
  after(async () => {
    await daemon.stop('5s');
    rmSync(dir, { recursive: true, force: true });
  });

  it('the daemon serves the admin API on its http address, on this machine only', async () => {
    const url = daemon.http?.server.url ?? '';
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const body = (await (await fetch(new URL('api/tasks', url))).json()) as { tasks: { name: string }[] };
    assert.deepEqual(body.tasks.map((t) => t.name).sort(), ['broken', 'hourly']);
  });

  it('validate: a summary and exit 0', async () => {
    const cli = io(dir);
    assert.equal(await main(['validate'], cli), 0);
    assert.match(cli.lines[0] ?? '', /valid; 2 tasks on sqlite/);
  });

  it('trigger --wait runs the task on the daemon sharing the store and reports its result', async () => {
    const cli = io(dir);
    assert.equal(await main(['trigger', 'hourly', '--wait', '--json'], cli), 0);
    const run = JSON.parse(cli.lines[0] ?? '{}') as { status: string; trigger: string; output: unknown; instance: string };
    assert.equal(run.status, 'succeeded');
    assert.equal(run.trigger, 'manual');
    assert.deepEqual(run.output, { task: 'hourly', attempt: 1 });
    assert.equal(run.instance, daemon.scheduler.instance, 'the daemon ran it, not the CLI');
  });

  it('trigger --wait exits 1 when the run fails, and prints its error', async () => {
    const cli = io(dir);
    assert.equal(await main(['trigger', 'broken', '--wait'], cli), 1);
    assert.match(cli.lines.join('\n'), /broken: failed .*\n.*error: disk full/);
  });

  it('history lists those runs newest first; --json for scripts', async () => {
    const cli = io(dir);
    assert.equal(await main(['history', '--json', '--limit', '5'], cli), 0);
    const runs = JSON.parse(cli.lines[0] ?? '[]') as { task: string; status: string }[];
    assert.deepEqual(runs.slice(0, 2).map((r) => `${r.task}:${r.status}`), ['broken:failed', 'hourly:succeeded']);
    const table = io(dir);
    assert.equal(await main(['history', 'hourly'], table), 0);
    assert.match(table.lines[0] ?? '', /^SCHEDULED FOR\s+TASK\s+STATUS/);
    assert.match(table.lines[1] ?? '', /hourly\s+succeeded\s+manual/);
  });

  it('pause and resume reach the daemon; list shows it', async () => {
    assert.equal(await main(['pause', 'hourly'], io(dir)), 0);
    const listed = io(dir);
    assert.equal(await main(['list', '--json'], listed), 0);
    const tasks = JSON.parse(listed.lines[0] ?? '[]') as { name: string; paused: boolean }[];
    assert.deepEqual(tasks.map((t) => `${t.name}:${t.paused}`), ['hourly:true', 'broken:false']);
    const deadline = Date.now() + 5_000;
    while (daemon.scheduler.task('hourly')?.paused !== true && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(daemon.scheduler.task('hourly')?.paused, true, 'the daemon saw the pause');
    assert.equal(await main(['resume', 'hourly'], io(dir)), 0);
  });

  it('pause --note: the daemon and list show it, the table without control characters; a bad note exits 2 and pauses nothing', async () => {
    const paused = io(dir);
    // An escape sequence in a note (it may come from the API) must not reach an operator's terminal.
    assert.equal(await main(['pause', 'hourly', '--note', 'vacuum running \u001b[31mred\u001b[0m (ops-7)'], paused), 0);
    assert.match(paused.lines[0] ?? '', /^hourly paused: vacuum running/);
    const listed = io(dir);
    assert.equal(await main(['list', '--json'], listed), 0);
    const [hourly] = JSON.parse(listed.lines[0] ?? '[]') as { name: string; pauseNote: string | null; pausedAt: string | null }[];
    assert.equal(hourly?.pauseNote, 'vacuum running \u001b[31mred\u001b[0m (ops-7)');
    assert.ok(hourly?.pausedAt !== null && Math.abs(Date.parse(hourly?.pausedAt ?? '') - Date.now()) < 60_000);
    const table = io(dir);
    assert.equal(await main(['list'], table), 0);
    const row = table.lines.find((l) => l.startsWith('hourly')) ?? '';
    assert.match(row, /paused: vacuum running \[31mred \[0m \(ops-7\)/);
    assert.ok(!row.includes('\u001b'), `no escape in ${JSON.stringify(row)}`);
    const deadline = Date.now() + 5_000;
    while (daemon.scheduler.task('hourly')?.pauseNote === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(daemon.scheduler.task('hourly')?.pauseNote, 'vacuum running \u001b[31mred\u001b[0m (ops-7)', 'the daemon saw the note');
    assert.equal(await main(['resume', 'hourly'], io(dir)), 0);
    // Both changes are in the audit, as this OS user from the CLI.
    const changes = (await daemon.scheduler.store.listAudit({ task: 'hourly', limit: 2 })).entries;
    assert.deepEqual(
      changes.map((e) => [e.source, e.action, e.detail]),
      [
        ['cli', 'resume', null],
        ['cli', 'pause', { note: 'vacuum running \u001b[31mred\u001b[0m (ops-7)' }],
      ],
    );
    assert.match(changes[0]?.actor ?? '', /^cli:./);
    const bad = io(dir);
    assert.equal(await main(['pause', 'hourly', '--note', 'n'.repeat(501)], bad), 2);
    assert.match(bad.errors[0] ?? '', /--note: shorten it to at most 500 characters/);
    const refused = io(dir);
    assert.equal(await main(['resume', 'hourly', '--note', 'x'], refused), 2, 'resume takes no note');
    const after = io(dir);
    assert.equal(await main(['list', '--json'], after), 0);
    assert.equal((JSON.parse(after.lines[0] ?? '[]') as { paused: boolean }[])[0]?.paused, false);
  });

  it('set changes a task at run time: the daemon takes it, list shows it; a bad value exits 2 naming the flag and stores nothing; reset undoes it', async () => {
    const set = io(dir);
    assert.equal(await main(['set', 'hourly', '--schedule', '*/20 * * * *', '--tz', 'Europe/Berlin', '--timeout', '90s', '--attempts', '3'], set), 0, set.errors.join('\n'));
    assert.match(set.lines[0] ?? '', /^hourly changed: schedule, timeout, retry/);
    const deadline = Date.now() + 10_000;
    while (daemon.scheduler.task('hourly')?.timeoutMs !== 90_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const info = daemon.scheduler.task('hourly');
    assert.deepEqual([info?.schedule, info?.timeoutMs, info?.settings.retry.attempts], [{ cron: '*/20 * * * *', timezone: 'Europe/Berlin' }, 90_000, 3]);
    assert.match(info?.overrides?.by ?? '', /^cli:./);
    const listed = io(dir);
    assert.equal(await main(['list'], listed), 0);
    assert.match(listed.lines.find((l) => l.startsWith('hourly')) ?? '', /changed: schedule, timeout, retry/);
    const bad = io(dir);
    assert.equal(await main(['set', 'hourly', '--timeout', 'soon'], bad), 2);
    assert.match(bad.errors.join('\n'), /--timeout: received "soon"/);
    const wrong = io(dir);
    assert.equal(await main(['set', 'hourly', '--schedule', '*/20 * * * *', '--overlap', 'sometimes'], wrong), 2);
    assert.match(wrong.errors.join('\n'), /--overlap: received "sometimes"/);
    const sloppy = io(dir);
    assert.equal(await main(['set', 'hourly', '--attempts', '0x10'], sloppy), 2);
    assert.match(sloppy.errors.join('\n'), /--attempts: received "0x10"/);
    const proto = io(dir);
    assert.equal(await main(['set', 'hourly', '--unset', '__proto__'], proto), 2);
    assert.match(proto.errors.join('\n'), /--unset: received "__proto__"; use one of schedule/);
    assert.equal((await daemon.scheduler.store.listOverrides())[0]?.overrides.fields.timeout, '90s', 'nothing stored by the refused ones');
    assert.equal(await main(['set', 'hourly', '--unset', 'timeout'], io(dir)), 0);
    assert.deepEqual(Object.keys((await daemon.scheduler.store.listOverrides())[0]?.overrides.fields ?? {}), ['schedule', 'retry']);
    const reset = io(dir);
    assert.equal(await main(['reset', 'hourly'], reset), 0);
    assert.equal(reset.lines[0], 'hourly: back to its definition');
    while (daemon.scheduler.task('hourly')?.overrides !== null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(daemon.scheduler.task('hourly')?.schedule, { every: '1h', initialDelay: '1h' });
    const changes = (await daemon.scheduler.store.listAudit({ task: 'hourly', limit: 3 })).entries.map((e) => e.action);
    assert.deepEqual(changes, ['reset', 'override', 'override']);
  });

  it('usage mistakes exit 2 with one line naming the argument and the fix', async () => {
    const cli = io(dir);
    assert.equal(await main(['trigger', 'hourlyy'], cli), 2);
    assert.match(cli.errors[0] ?? '', /TASK: no task "hourlyy".*did you mean "hourly"/);
    const limit = io(dir);
    assert.equal(await main(['history', '--limit', 'lots'], limit), 2);
    assert.match(limit.errors[0] ?? '', /--limit: received "lots"; use a whole number/);
  });

  it('validate on a broken config prints one line per problem and exits 2', async () => {
    const bad = mkdtempSync(join(tmpdir(), 'caretaker-cli-bad-'));
    writeFileSync(join(bad, 'caretaker.config.yaml'), 'tasks:\n  x:\n    schedule: { every: soon }\n    retry: { attempts: 0 }\n    run: { command: [] }\n');
    const cli = io(bad);
    assert.equal(await main(['validate'], cli), 2);
    assert.equal(cli.errors[0], `caretaker: 3 problems in ${join(bad, 'caretaker.config.yaml')}:`);
    assert.deepEqual(cli.errors.slice(1).map((l) => l.trim().split(':')[0]).sort(), ['tasks.x.retry.attempts', 'tasks.x.run.command', 'tasks.x.schedule.every']);
    rmSync(bad, { recursive: true, force: true });
  });
});
