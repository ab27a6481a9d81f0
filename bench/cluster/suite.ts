import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SuiteOptions, SuiteResult } from '../lib/suite.ts';
import { type Headline, versus } from '../lib/summary.ts';
import { fmt, type Table } from '../lib/table.ts';
import { dropDatabase, freshDatabase, statementsSoFar } from './databases.ts';
import { flushRedis, REDIS_URL, redisCommandsSoFar } from './redis.ts';
import { runFor as runFleetFor, secondTicks, startFleet, statementRate, type TickFigures, tickFigures, tickReport } from './fleet.ts';
import type { Library, WorkerOptions } from './worker.ts';

const REPLICAS = 4;
type Backend = 'SQLite' | 'PostgreSQL';

export interface TickRow extends TickFigures {
  readonly library: string;
  readonly backend: string;
  readonly interval: number;
  /** Store statements (PostgreSQL) or Redis commands per tick interval, all replicas together. */
  readonly perTick?: number;
  readonly perTickUnit?: string;
}

/** Wall-clock sleep until `instant` (epoch ms). */
const until = (instant: number) => sleep(Math.max(0, instant - Date.now()));

/** A scratch store for one Caretaker measurement: a SQLite file or a fresh PostgreSQL database. */
async function scratch(backend: Backend, name: string): Promise<{ target: string; dispose: () => Promise<void> }> {
  if (backend === 'SQLite') {
    const dir = mkdtempSync(join(tmpdir(), 'caretaker-bench-'));
    return { target: join(dir, `${name}.db`), dispose: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const db = `caretaker_bench_${name}`;
  return { target: await freshDatabase(db), dispose: () => dropDatabase(db) };
}

/** Runs the fleet of {@link REPLICAS} from start to stop. */
const runFor = (options: Omit<WorkerOptions, 'instance'>, ms: number) => runFleetFor(REPLICAS, options, ms);

function tickRow(library: string, backend: string, interval: number, report: ReturnType<typeof tickReport>, extra: Partial<TickRow> = {}): TickRow {
  return {
    library,
    backend,
    interval,
    ...tickFigures(report),
    ...extra,
  };
}

/** Caretaker: one task every second on four replicas; every tick between the first and last whole second counts. */
async function caretakerTicks(backend: Backend, seconds: number, log: (l: string) => void): Promise<TickRow> {
  log(`  ticks: caretaker on ${backend}, ${REPLICAS} replicas, ${seconds} s`);
  const store = await scratch(backend, 'ticks');
  try {
    const run = await runFor({ library: 'caretaker', target: store.target, tasks: { count: 1, every: '1s' } }, seconds * 1000);
    return tickRow('caretaker', backend, 1000, secondTicks(run));
  } finally {
    await store.dispose();
  }
}

/** kill -9 of the replica running a long handler; how long until another replica re-runs it. */
async function caretakerKill(backend: Backend, log: (l: string) => void): Promise<Record<string, number>> {
  log(`  kill: caretaker on ${backend}, default lease`);
  const store = await scratch(backend, 'kill');
  try {
    const at = Date.now() + 4_000;
    const fleet = await startFleet(REPLICAS, { library: 'caretaker', target: store.target, tasks: { at, workMs: 120_000 } });
    while (fleet.runs.length === 0) await sleep(20);
    const first = fleet.runs[0]!;
    const victim = fleet.children[Number(first.instance.slice(1))]!;
    const killedAt = Date.now();
    victim.kill('SIGKILL');
    const deadline = killedAt + 60_000;
    while (fleet.runs.length < 2 && Date.now() < deadline) await sleep(20);
    await fleet.stop();
    const retry = fleet.runs[1];
    return {
      rerunAfterMs: retry === undefined ? Number.NaN : retry.at - killedAt,
      rerunOnOtherReplica: retry !== undefined && retry.instance !== first.instance ? 1 : 0,
      executions: fleet.runs.length,
    };
  } finally {
    await store.dispose();
  }
}

/** A peer on four replicas: BullMQ every second on Redis, pg-boss and graphile-worker every minute on PostgreSQL. */
async function peerTicks(library: Exclude<Library, 'caretaker'>, ticks: number, log: (l: string) => void): Promise<TickRow> {
  if (library === 'bullmq') {
    log(`  ticks: bullmq on Redis, ${REPLICAS} replicas, ${ticks} s`);
    await flushRedis();
    const c0 = await redisCommandsSoFar();
    const { fleet, readyAt, stoppedAt } = await runFor({ library, target: REDIS_URL }, ticks * 1000);
    const commands = (await redisCommandsSoFar()) - c0;
    await flushRedis();
    // BullMQ aligns `every` to its own grid; read it off the first execution.
    const phase = (fleet.runs.map((r) => r.nominal).sort((a, b) => a - b)[0] ?? 0) % 1000;
    const first = Math.ceil(readyAt / 1000) * 1000 + 1000 + phase;
    const last = Math.floor(stoppedAt / 1000) * 1000 - 1000 + phase;
    const report = tickReport(fleet.runs, first, last, 1000);
    return tickRow(library, 'Redis', 1000, report, { perTick: commands / ((stoppedAt - readyAt) / 1000), perTickUnit: 'Redis commands' });
  }
  // Minute-grained: a short run with no tick and a run spanning `ticks` minute boundaries, on one database.
  log(`  ticks: ${library} on PostgreSQL, ${REPLICAS} replicas, ${ticks} minute ticks (and a run without one, to count statements)`);
  const name = `caretaker_bench_${library.replace('-', '_')}`;
  const target = await freshDatabase(name);
  try {
    await runFor({ library, target }, 2_000); // installs its schema
    let minute = Math.ceil(Date.now() / 60_000) * 60_000;
    await until(minute + 2_000);
    const s0 = await statementsSoFar(name);
    const a = await runFor({ library, target }, Math.max(0, minute + 15_000 - Date.now()));
    const s1 = await statementsSoFar(name);
    minute = Math.ceil(Date.now() / 60_000) * 60_000;
    await until(minute + 2_000);
    const b = await runFor({ library, target }, Math.max(0, minute + ticks * 60_000 + 5_000 - Date.now()));
    const s2 = await statementsSoFar(name);
    const rate = (s2 - s1 - (s1 - s0)) / ((b.stoppedAt - b.readyAt - (a.stoppedAt - a.readyAt)) / 1000);
    const report = tickReport(b.fleet.runs, minute + 60_000, minute + ticks * 60_000, 60_000);
    return tickRow(library, 'PostgreSQL', 60_000, report, { perTick: rate * 60, perTickUnit: 'statements' });
  } finally {
    await dropDatabase(name);
  }
}

const ms = (v: number | undefined, digits = 1) => (v === undefined || !Number.isFinite(v) ? '–' : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : fmt.ms(v, digits));

/**
 * The cluster benchmark: Caretaker on four replica processes sharing SQLite and PostgreSQL,
 * beside BullMQ, pg-boss and graphile-worker running the same periodic task on four workers.
 */
export async function clusterSuite({ quick, log }: SuiteOptions): Promise<SuiteResult> {
  const tickSeconds = quick ? 15 : 60;
  const ticks: TickRow[] = [];
  for (const backend of ['SQLite', 'PostgreSQL'] as const) ticks.push(await caretakerTicks(backend, tickSeconds, log));

  log('  statements: caretaker on PostgreSQL, idle and one task every second');
  const [shortMs, longMs] = quick ? [3_000, 13_000] : [5_000, 35_000];
  const idleDb = await scratch('PostgreSQL', 'idle');
  const idleRate = (await statementRate('caretaker_bench_idle', REPLICAS, { library: 'caretaker', target: idleDb.target, tasks: { count: 1, every: '1h' } }, shortMs, longMs)).perSecond;
  await idleDb.dispose();
  const tickDb = await scratch('PostgreSQL', 'tickstmts');
  const tickRate = (await statementRate('caretaker_bench_tickstmts', REPLICAS, { library: 'caretaker', target: tickDb.target, tasks: { count: 1, every: '1s' } }, shortMs, longMs)).perSecond;
  await tickDb.dispose();
  const pgRow = ticks.find((r) => r.backend === 'PostgreSQL');
  if (pgRow !== undefined) ticks[ticks.indexOf(pgRow)] = { ...pgRow, perTick: tickRate, perTickUnit: 'statements' };

  for (const peer of ['bullmq', 'pg-boss', 'graphile-worker'] as const) {
    ticks.push(await peerTicks(peer, peer === 'bullmq' ? tickSeconds : quick ? 1 : 2, log));
  }

  const kill: Record<string, Record<string, number>> = {};
  for (const backend of ['SQLite', 'PostgreSQL'] as const) kill[backend] = await caretakerKill(backend, log);

  const ours = (backend: string) => ticks.find((r) => r.library === 'caretaker' && r.backend === backend);
  const tables: Table[] = [
    {
      title: `One periodic task on ${REPLICAS} replica processes (handler start − nominal instant, all executions)`,
      header: ['library (store)', 'interval', 'ticks', 'executions', 'missed', 'duplicated', 'p50', 'p99', 'max', 'store load per tick', 'p99 vs caretaker (PostgreSQL)'],
      rows: ticks.map((r) => [
        `${r.library} (${r.backend})`,
        r.interval === 1000 ? '1 s' : '1 min',
        String(r.ticks),
        String(r.executions),
        String(r.missed),
        String(r.duplicated),
        ms(r.p50, 2),
        ms(r.p99, 2),
        ms(r.max, 1),
        r.perTick === undefined ? '–' : `${r.perTick.toFixed(1)} ${r.perTickUnit ?? ''}`,
        fmt.ratio(r.p99 / (ours('PostgreSQL')?.p99 ?? Number.NaN)),
      ]),
      note:
        `Statements are transactions counted by pg_stat_database on a database of the library's own, per tick interval in steady state ` +
        `(polling included), from two runs that differ only in length. Caretaker idle (one task, hourly): ${idleRate.toFixed(2)} statements/s for all ${REPLICAS} replicas.`,
    },
    {
      title: 'kill -9 of the replica running a long handler (default lease 15 s)',
      header: ['store', 're-run after the kill', 'on another replica', 'executions'],
      rows: Object.entries(kill).map(([backend, r]) => [backend, ms(r.rerunAfterMs), r.rerunOnOtherReplica === 1 ? 'yes' : 'no', String(r.executions)]),
      note: 'For reference (measured earlier, not in this run): BullMQ re-ran a killed job after 37 s; agenda locks it for 10 min; graphile-worker for 4 h.',
    },
  ];
  return { tables, raw: { ticks, idleStatementsPerSecond: idleRate, kill }, headlines: clusterHeadlines(ticks) };
}

/** The cluster's rows of the combined summary: Caretaker's worst store against the best peer, per figure. */
export function clusterHeadlines(ticks: readonly TickRow[]): Headline[] {
  const caretakerRows = ticks.filter((r) => r.library === 'caretaker');
  const peerRows = ticks.filter((r) => r.library !== 'caretaker');
  const name = (r: TickRow) => `${r.library} (${r.backend}, every ${r.interval === 1000 ? '1 s' : '1 min'})`;
  return [
    versus(`lateness p99, one task on ${REPLICAS} replicas`, caretakerRows.map((r) => r.p99), peerRows.map((r) => ({ name: name(r), value: r.p99 })), (v) => ms(v, 2)),
    versus(
      `missed + duplicated ticks, one task on ${REPLICAS} replicas`,
      caretakerRows.map((r) => r.missed + r.duplicated),
      peerRows.map((r) => ({ name: name(r), value: r.missed + r.duplicated })),
      String,
    ),
    versus(
      `PostgreSQL statements per tick, ${REPLICAS} replicas`,
      [caretakerRows.find((r) => r.backend === 'PostgreSQL')?.perTick],
      peerRows.filter((r) => r.backend === 'PostgreSQL').map((r) => ({ name: name(r), value: r.perTick })),
      (v) => v.toFixed(1),
    ),
  ];
}
