import { type ChildProcess, fork } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { percentile } from '../lib/stats.ts';
import { statementsSoFar } from './databases.ts';
import type { RunMessage, UsageMessage, WorkerOptions } from './worker.ts';

const WORKER = new URL('./worker.ts', import.meta.url);

/** Replica processes of one library and every handler start they reported. */
export interface Fleet {
  readonly runs: RunMessage[];
  readonly children: readonly ChildProcess[];
  /** CPU time (ms, user + system, since each started) and resident memory (bytes) of the live replicas, summed. */
  usage(): Promise<{ cpuMs: number; rssBytes: number }>;
  /** SIGTERM to every live replica; resolves when all have exited. */
  stop(): Promise<void>;
}

function startWorker(options: WorkerOptions, runs: RunMessage[]): Promise<ChildProcess> {
  const child = fork(WORKER, [JSON.stringify(options)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: ['--no-warnings'] });
  return new Promise((resolve, reject) => {
    child.on('message', (m: { type: string }) => {
      if (m.type === 'ready') resolve(child);
      else if (m.type === 'run') runs.push(m as RunMessage);
    });
    child.once('exit', (code) => reject(new Error(`${options.library} replica ${options.instance} exited with ${code} before it was ready`)));
  });
}

/** One replica's resource usage, asked over IPC; zero if it exits first. */
function askUsage(child: ChildProcess): Promise<{ cpuMs: number; rssBytes: number }> {
  return new Promise((resolve) => {
    const done = (usage: { cpuMs: number; rssBytes: number }) => {
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(usage);
    };
    const onMessage = (m: { type: string }) => {
      if (m.type === 'usage') done(m as UsageMessage);
    };
    const onExit = () => done({ cpuMs: 0, rssBytes: 0 });
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send({ type: 'usage' });
  });
}

/** Starts `count` replicas (r0, r1, …) with the same options and waits until each is ready. */
export async function startFleet(count: number, options: Omit<WorkerOptions, 'instance'>): Promise<Fleet> {
  const runs: RunMessage[] = [];
  const children = await Promise.all(Array.from({ length: count }, (_, i) => startWorker({ ...options, instance: `r${i}` }, runs)));
  const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;
  const exited = children.map((c) => new Promise<void>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve()))));
  return {
    runs,
    children,
    async usage() {
      const replies = await Promise.all(children.filter(alive).map(askUsage));
      return { cpuMs: replies.reduce((sum, u) => sum + u.cpuMs, 0), rssBytes: replies.reduce((sum, u) => sum + u.rssBytes, 0) };
    },
    async stop() {
      for (const c of children) if (alive(c)) c.kill('SIGTERM');
      await Promise.all(exited);
    },
  };
}

/** What a series of handler starts says about ticks `interval` apart from `first` to `last`. */
export function tickReport(runs: readonly RunMessage[], first: number, last: number, interval: number): { ticks: number; missed: number; duplicated: number; lateness: number[] } {
  const perTick = new Map<number, number>();
  for (const r of runs) perTick.set(r.nominal, (perTick.get(r.nominal) ?? 0) + 1);
  let ticks = 0;
  let missed = 0;
  let duplicated = 0;
  for (let t = first; t <= last; t += interval) {
    ticks++;
    const n = perTick.get(t) ?? 0;
    if (n === 0) missed++;
    duplicated += Math.max(0, n - 1);
  }
  const lateness = runs.filter((r) => r.nominal >= first && r.nominal <= last).map((r) => r.at - r.nominal);
  return { ticks, missed, duplicated, lateness };
}

/** One fleet run from ready to stop: what it reported, the wall-clock window, and its CPU within the window. */
export interface FleetRun {
  readonly fleet: Fleet;
  readonly readyAt: number;
  readonly stoppedAt: number;
  /** CPU time all replicas spent between ready and stop, ms. */
  readonly cpuMs: number;
  /** Resident memory of all replicas just before the stop, bytes. */
  readonly rssBytes: number;
}

/** Runs `count` replicas for `ms` after they are all ready, then stops them. */
export async function runFor(count: number, options: Omit<WorkerOptions, 'instance'>, ms: number): Promise<FleetRun> {
  const fleet = await startFleet(count, options);
  const readyAt = Date.now();
  const start = await fleet.usage();
  await sleep(Math.max(0, readyAt + ms - Date.now()));
  const end = await fleet.usage();
  const stoppedAt = Date.now();
  await fleet.stop();
  return { fleet, readyAt, stoppedAt, cpuMs: end.cpuMs - start.cpuMs, rssBytes: end.rssBytes };
}

/**
 * Statements per second a fleet costs in steady state: two runs that differ only in length, on
 * one database; start-up and shut-down cost the same in both and cancel out. Also returns the
 * longer run, whose window is the steady state measured.
 */
export async function statementRate(
  db: string,
  count: number,
  options: Omit<WorkerOptions, 'instance'>,
  shortMs: number,
  longMs: number,
): Promise<{ perSecond: number; long: FleetRun }> {
  await runFor(count, options, 1_000); // installs the schema and registers the tasks
  const s0 = await statementsSoFar(db);
  const a = await runFor(count, options, shortMs);
  const s1 = await statementsSoFar(db);
  const b = await runFor(count, options, longMs);
  const s2 = await statementsSoFar(db);
  const seconds = (b.stoppedAt - b.readyAt - (a.stoppedAt - a.readyAt)) / 1000;
  return { perSecond: (s2 - s1 - (s1 - s0)) / seconds, long: b };
}

/** A per-second task's ticks in a fleet run: every whole second from one after ready to one before stop. */
export function secondTicks(run: FleetRun): ReturnType<typeof tickReport> {
  const first = Math.ceil(run.readyAt / 1000) * 1000 + 1000;
  const last = Math.floor(run.stoppedAt / 1000) * 1000 - 1000;
  return tickReport(run.fleet.runs, first, last, 1000);
}

/** What a tick report comes to: counts and lateness percentiles (ms) over every execution. */
export interface TickFigures {
  readonly ticks: number;
  readonly executions: number;
  readonly missed: number;
  readonly duplicated: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export function tickFigures(report: ReturnType<typeof tickReport>): TickFigures {
  return {
    ticks: report.ticks,
    executions: report.lateness.length,
    missed: report.missed,
    duplicated: report.duplicated,
    p50: percentile(report.lateness, 50),
    p99: percentile(report.lateness, 99),
    max: Math.max(...report.lateness),
  };
}
