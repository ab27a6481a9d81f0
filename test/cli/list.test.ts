/**
 * `caretaker list` shows every task's next run: `every`, `cron` and `at` tasks, on a fresh store
 * (as if the daemon started now) and on a store a running daemon uses (exactly the instants the
 * daemon itself has armed, jitter included).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { CliIo } from '../../src/cli/context.ts';
import { main } from '../../src/cli/main.ts';
import { Daemon } from '../../src/daemon/daemon.ts';
import { nextRuns } from '../../src/engine/schedules/index.ts';
import { silentLogger } from '../../src/util/logger.ts';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const CONFIG = `store: { sqlite: { path: ./state.db } }
http: { enabled: false }
tasks:
  hourly: { schedule: { every: 1h, initialDelay: 5m }, jitter: 1m, run: { module: ./ok.mjs } }
  now: { schedule: { every: 1h }, run: { module: ./ok.mjs } }
  aligned: { schedule: { every: 1h, anchor: '2020-01-01T00:30:00Z' }, run: { module: ./ok.mjs } }
  nightly: { schedule: { cron: '0 2 * * *', timezone: Europe/Berlin }, run: { module: ./ok.mjs } }
  once: { schedule: { at: '2040-01-01T00:00:00Z' }, run: { module: ./ok.mjs } }
`;

function workDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'caretaker-list-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'ok.mjs'), 'export default () => ({ ok: true });\n');
  writeFileSync(join(dir, 'caretaker.config.yaml'), CONFIG);
  return dir;
}

interface Listed {
  readonly name: string;
  readonly nextRunAt: string | null;
  readonly nextRunEstimated: boolean;
  readonly registered: boolean;
  readonly lastRun: { readonly status: string } | null;
}

async function list(dir: string, ...args: string[]): Promise<{ code: number; lines: string[]; errors: string[] }> {
  const lines: string[] = [];
  const errors: string[] = [];
  const io: CliIo = { out: (l) => lines.push(l), err: (l) => errors.push(l), cwd: dir, env: {}, stdout: process.stdout };
  return { code: await main(['list', ...args], io), lines, errors };
}

async function listJson(dir: string): Promise<Map<string, Listed>> {
  const result = await list(dir, '--json');
  assert.equal(result.code, 0, result.errors.join('\n'));
  return new Map((JSON.parse(result.lines[0] ?? '[]') as Listed[]).map((t) => [t.name, t]));
}

const time = (iso: string | null | undefined) => (iso === null || iso === undefined ? null : Date.parse(iso));

describe('caretaker list: the next run of every task', () => {
  it('on a fresh store: every task has one; an unanchored "every" is shown as if the daemon started now', async () => {
    const dir = workDir();
    const before = Date.now();
    const tasks = await listJson(dir);
    const after = Date.now();
    const hourly = tasks.get('hourly') as Listed;
    assert.equal(hourly.nextRunEstimated, true);
    // Start + initialDelay, plus up to a minute of jitter.
    const hourlyAt = time(hourly.nextRunAt) as number;
    assert.ok(hourlyAt >= before + 300_000 && hourlyAt < after + 360_000, hourly.nextRunAt ?? 'null');
    const nowAt = time(tasks.get('now')?.nextRunAt) as number;
    assert.ok(nowAt >= before && nowAt <= after, 'no initialDelay: at start');
    assert.deepEqual(tasks.get('aligned')?.nextRunAt, nextRuns({ every: '1h', anchor: '2020-01-01T00:30:00Z' }, { count: 1, from: after })[0]?.toISOString());
    assert.equal(tasks.get('aligned')?.nextRunEstimated, false);
    assert.deepEqual(tasks.get('nightly')?.nextRunAt, nextRuns({ cron: '0 2 * * *', timezone: 'Europe/Berlin' }, { count: 1 })[0]?.toISOString());
    assert.equal(tasks.get('once')?.nextRunAt, '2040-01-01T00:00:00.000Z');
    const table = await list(dir);
    assert.match(table.lines.find((l) => l.startsWith('hourly')) ?? '', /every 1h\s+\d{4}-\d\d-\d\dT[\d:.]+Z \(if started now\)\s+never ran$/);
    assert.doesNotMatch(table.lines.join('\n'), /–/, 'no task without a next run');
  });

  it('on the store of a running daemon: exactly the instants the daemon has armed, after its runs', async () => {
    const dir = workDir();
    const daemon = await Daemon.start({ file: join(dir, 'caretaker.config.yaml'), env: {}, logger: silentLogger });
    try {
      // "now" runs at start; its next run is an interval after that tick, not after now.
      const deadline = Date.now() + 5_000;
      while (daemon.scheduler.task('now')?.lastRun?.status !== 'succeeded' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const tasks = await listJson(dir);
      for (const info of daemon.scheduler.tasks()) {
        const listed = tasks.get(info.name) as Listed;
        assert.equal(listed.registered, true);
        assert.equal(listed.nextRunEstimated, false, info.name);
        assert.equal(listed.nextRunAt, info.nextRunAt?.toISOString() ?? null, `${info.name}: list and the daemon agree`);
      }
      assert.equal(tasks.get('now')?.lastRun?.status, 'succeeded');
    } finally {
      await daemon.stop('5s');
    }
    // Stopped: the store still holds the anchors, so the cadence (and the listed instants) stay.
    const stopped = await listJson(dir);
    assert.equal(stopped.get('hourly')?.nextRunEstimated, false);
    assert.ok((time(stopped.get('hourly')?.nextRunAt) as number) > Date.now());
  });
});
