/**
 * Many tasks due at one instant on several replica processes: is every tick run exactly once,
 * shared across the replicas, started on time, and its end written soon after the handler
 * returned? Each task runs every hour, anchored on the measured instant, with `retry: { attempts:
 * 3 }` and a 5 s lease, so a run reaped while its end waits to be written would run again.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { dropDatabase, freshDatabase } from '../cluster/databases.ts';
import { percentile } from '../lib/stats.ts';
import type { SuiteOptions, SuiteResult } from '../lib/suite.ts';
import type { Headline } from '../lib/summary.ts';
import type { Table } from '../lib/table.ts';
import type { BurstProgress, BurstReport, BurstWorkerOptions } from './worker.ts';

const WORKER = new URL('./worker.ts', import.meta.url);
type Backend = 'SQLite' | 'PostgreSQL';

/** One measured burst. */
export interface BurstFigures {
  readonly tasks: number;
  readonly replicas: number;
  readonly executions: number;
  readonly missed: number;
  /** Ticks whose handler started more than once (any attempt). */
  readonly ranTwice: number;
  readonly skipped: number;
  readonly interrupted: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** The smallest share of the burst one replica ran, 0–1. */
  readonly minShare: number;
  readonly replicasUsed: number;
  /** When the end was confirmed minus when the handler returned, ms. */
  readonly endWriteP99: number;
  readonly endWriteMax: number;
  /** Last end confirmed minus the instant, ms. */
  readonly lastEnd: number;
  /** Store statements per run during the burst (PostgreSQL; NaN for SQLite). */
  readonly statementsPerRun: number;
  /** Largest resident memory of one replica after the burst, bytes. */
  readonly rssBytes: number;
  readonly errors: number;
}

async function scratch(backend: Backend): Promise<{ target: string; dispose: () => Promise<void> }> {
  if (backend === 'SQLite') {
    const dir = mkdtempSync(join(tmpdir(), 'caretaker-burst-'));
    return { target: join(dir, 'burst.db'), dispose: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const db = 'caretaker_bench_burst';
  return { target: await freshDatabase(db), dispose: () => dropDatabase(db) };
}

function startWorker(options: BurstWorkerOptions): Promise<ChildProcess> {
  // The daemon's young-generation cap (npm start sets it; the README's Memory section): with V8's
  // default (64 MiB semi-spaces) a burst's survivors made scavenges of 100–290 ms, run by helper
  // threads that four replicas and PostgreSQL fight over on two cores.
  const child = fork(WORKER, [JSON.stringify(options)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: ['--no-warnings', '--max-semi-space-size=16'] });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`replica ${options.instance} exited with ${code} before it was ready`));
    child.once('exit', onExit);
    child.once('message', () => {
      child.off('exit', onExit);
      resolve(child);
    });
  });
}

/**
 * Asks a replica for a message of `type`; null when it exits, or has not answered in time, first
 * (a replica that died must not hang the benchmark, nor crash it and leave the others running).
 */
function ask<T extends { readonly type: string }>(child: ChildProcess, type: T['type'], timeoutMs = 10_000): Promise<T | null> {
  return new Promise((resolve) => {
    const done = (answer: T | null) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(answer);
    };
    const onMessage = (m: { type: string }) => {
      if (m.type === type) done(m as T);
    };
    const onExit = () => done(null);
    const timer = setTimeout(() => done(null), timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
    if (child.exitCode !== null || child.signalCode !== null || !child.connected) return done(null);
    child.send({ type }, (error) => {
      if (error !== null) done(null);
    });
  });
}

async function stopAll(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const kill = setTimeout(() => c.kill('SIGKILL'), 15_000);
          c.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          // A replica that closed its channel and is on its way out: the exit comes all the same.
          c.send({ type: 'stop' }, () => {});
        }),
    ),
  );
}

/** How the burst's tick ended up in the store, by status. */
async function statuses(backend: Backend, target: string, slot: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (backend === 'PostgreSQL') {
    const client = new pg.Client({ connectionString: target });
    await client.connect();
    try {
      const { rows } = await client.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM caretaker.caretaker_runs WHERE slot = $1 GROUP BY status', [slot]);
      for (const r of rows) out.set(r.status, Number(r.n));
    } catch {
      // The schema is not there yet.
    } finally {
      await client.end();
    }
    return out;
  }
  const { DatabaseSync } = await import('node:sqlite');
  const db = new DatabaseSync(target, { readOnly: true, timeout: 5_000 });
  try {
    for (const r of db.prepare('SELECT status, count(*) AS n FROM caretaker_runs WHERE slot = ? GROUP BY status').all(slot) as { status: string; n: number }[]) out.set(r.status, r.n);
  } catch {
    // The file or the schema is not there yet.
  } finally {
    db.close();
  }
  return out;
}

/** One burst of `tasks` on `replicas` fresh processes, from start to stop. */
export async function measureBurst(backend: Backend, replicas: number, tasks: number, log: (l: string) => void): Promise<BurstFigures> {
  // Replicas learn of each other on their polls (every 5 s on PostgreSQL, 1 s on SQLite) and
  // share a burst once the list has not changed for two polls. Until a replica has measured a
  // claim, it wakes for a burst 1.5 × 0.15 ms per task ahead of the instant, and it decides then
  // whether to share: the peers must have settled (16 s after the last one started) before that.
  const needed = 16_000 + tasks * 0.3;
  let margin = 20_000 + tasks * 0.6;
  for (let attempt = 0; attempt < 3; attempt++, margin *= 2) {
    const store = await scratch(backend);
    const children: ChildProcess[] = [];
    try {
      const at = Math.ceil((Date.now() + margin) / 1000) * 1000;
      // The first replica creates the schema alone; the others then start together.
      children.push(await startWorker({ instance: 'r0', target: store.target, count: tasks, at, workMs: 10 }));
      children.push(...(await Promise.all(Array.from({ length: replicas - 1 }, (_, i) => startWorker({ instance: `r${i + 1}`, target: store.target, count: tasks, at, workMs: 10 })))));
      const readyIn = at - Date.now();
      if (readyIn < needed) {
        log(`    replicas were ready only ${readyIn} ms before the instant; again with more time`);
        continue;
      }
      const slot = `t:${at}`;
      const deadline = at + 90_000;
      // While the burst is on, the replicas say how far they are: a status query every 500 ms
      // scanned the runs table and took a CPU the replicas and the store were measured on. Done
      // when no handler is running and nothing moved for three answers in a row, once every run
      // has ended or 10 s after the instant (a tick recorded skipped has no end of its own).
      let quiet = 0;
      let last = '';
      while (quiet < 3 && Date.now() <= deadline) {
        await sleep(500);
        const progress = await Promise.all(children.map((c) => ask<BurstProgress>(c, 'progress')));
        if (progress.includes(null)) break; // a replica is gone: the store says the rest
        const answers = progress as BurstProgress[];
        const ended = answers.reduce((sum, p) => sum + p.ended, 0);
        const busy = answers.reduce((sum, p) => sum + p.started - p.returned, 0);
        const now = `${answers.reduce((sum, p) => sum + p.started, 0)}:${ended}`;
        quiet = busy === 0 && now === last && (ended >= tasks || Date.now() > at + 10_000) ? quiet + 1 : 0;
        last = now;
      }
      // Then the store has the last word: every run ended, none left running (a lapsed lease
      // is reaped and retried), three polls in a row.
      let settled = 0;
      let counts = new Map<string, number>();
      const settleBy = Math.max(deadline, Date.now() + 30_000);
      while (settled < 3) {
        await sleep(500);
        counts = await statuses(backend, store.target, slot);
        let final = 0;
        for (const [status, n] of counts) if (status !== 'running') final += n;
        // Wait for retries that a lapsed lease would cause (100 ms backoff) before counting.
        settled = final >= tasks && (counts.get('running') ?? 0) === 0 ? settled + 1 : 0;
        if (settled < 3 && Date.now() > settleBy) {
          log(`    not settled ${Math.round((Date.now() - at) / 1000)} s after the instant: ${JSON.stringify([...counts])}`);
          break;
        }
      }
      // A report of 25,000 runs per array takes a while to build and send on a loaded machine.
      const reports = await Promise.all(children.map((c) => ask<BurstReport>(c, 'report', 60_000)));
      if (reports.includes(null)) throw new Error('a replica exited or stopped answering before it reported');
      return figures(tasks, replicas, at, reports as BurstReport[], counts, backend);
    } finally {
      await stopAll(children);
      await store.dispose();
    }
  }
  throw new Error('the replicas never started in time');
}

function figures(tasks: number, replicas: number, at: number, reports: readonly BurstReport[], counts: Map<string, number>, backend: Backend): BurstFigures {
  const starts = new Map<number, number>();
  const firstLateness: number[] = [];
  const endWrites: number[] = [];
  const perReplica: number[] = [];
  let executions = 0;
  let lastEndAt = 0;
  let statements = 0;
  let rss = 0;
  let errors = 0;
  for (const r of reports) {
    executions += r.task.length;
    perReplica.push(r.task.length);
    r.task.forEach((t, i) => {
      starts.set(t, (starts.get(t) ?? 0) + 1);
      if (r.attempt[i] === 1) firstLateness.push(r.lateness[i] as number);
    });
    endWrites.push(...r.endWrite);
    lastEndAt = Math.max(lastEndAt, r.lastEndAt);
    const from = Math.floor((at - 5_000) / 1000);
    const to = Math.floor((r.lastEndAt + 1_000) / 1000);
    for (const [second, n] of r.statements) if (second >= from && second <= to) statements += n;
    rss = Math.max(rss, r.rssBytes);
    errors += r.errors.length;
  }
  let ranTwice = 0;
  for (const n of starts.values()) if (n > 1) ranTwice++;
  return {
    tasks,
    replicas,
    executions,
    missed: tasks - starts.size,
    ranTwice,
    skipped: counts.get('skipped') ?? 0,
    interrupted: counts.get('interrupted') ?? 0,
    p50: percentile(firstLateness, 50),
    p99: percentile(firstLateness, 99),
    max: firstLateness.length === 0 ? Number.NaN : Math.max(...firstLateness),
    minShare: Math.min(...perReplica) / tasks,
    replicasUsed: perReplica.filter((n) => n > 0).length,
    endWriteP99: percentile(endWrites, 99),
    endWriteMax: endWrites.length === 0 ? Number.NaN : Math.max(...endWrites),
    lastEnd: lastEndAt - at,
    statementsPerRun: backend === 'PostgreSQL' ? statements / tasks : Number.NaN,
    rssBytes: rss,
    errors,
  };
}

/** The median of each figure over `repeat` bursts (each figure on its own). */
async function medianBurst(repeat: number, backend: Backend, replicas: number, tasks: number, log: (l: string) => void): Promise<BurstFigures> {
  const runs: BurstFigures[] = [];
  for (let i = 0; i < repeat; i++) {
    log(`  burst: ${tasks.toLocaleString('en')} tasks on ${replicas} ${backend} replica${replicas === 1 ? '' : 's'} (${i + 1}/${repeat})`);
    const run = await measureBurst(backend, replicas, tasks, log);
    log(`    p99 ${run.p99.toFixed(0)} ms, ran twice ${run.ranTwice}, interrupted ${run.interrupted}, skipped ${run.skipped}, min share ${(run.minShare * 100).toFixed(0)}%, last end ${run.lastEnd.toFixed(0)} ms`);
    runs.push(run);
  }
  const keys = Object.keys(runs[0] as BurstFigures) as (keyof BurstFigures)[];
  // Counts of things that must be zero report the worst run, not the median.
  const worst = new Set<keyof BurstFigures>(['missed', 'ranTwice', 'skipped', 'interrupted', 'errors']);
  return Object.fromEntries(keys.map((k) => [k, worst.has(k) ? Math.max(...runs.map((r) => r[k])) : percentile(runs.map((r) => r[k]), 50)])) as unknown as BurstFigures;
}

const ms = (v: number) => (Number.isFinite(v) ? `${v < 10 ? v.toFixed(1) : Math.round(v).toLocaleString('en')} ms` : '–');

export async function burstSuite({ quick, log }: SuiteOptions): Promise<SuiteResult> {
  const repeat = quick ? 1 : 3;
  const cases: [Backend, number, number][] = quick
    ? [
        ['PostgreSQL', 4, 10_000],
        ['SQLite', 4, 10_000],
      ]
    : [
        ['PostgreSQL', 4, 10_000],
        ['PostgreSQL', 4, 100_000],
        ['SQLite', 1, 10_000],
        ['SQLite', 4, 10_000],
      ];
  const rows: (BurstFigures & { backend: Backend })[] = [];
  for (const [backend, replicas, tasks] of cases) rows.push({ backend, ...(await medianBurst(repeat, backend, replicas, tasks, log)) });
  const tables: Table[] = [
    {
      title: `Tasks due at one instant (every 1 h, retry attempts 3, lease 5 s, handler 10 ms; ${quick ? 'one run' : 'medians of 3, zero-counts from the worst run'})`,
      header: ['store', 'replicas', 'tasks', 'ran', 'missed', 'ran twice', 'skipped', 'interrupted', 'start p50', 'start p99', 'start max', 'least share', 'end written p99', 'end written max', 'last end', 'statements / run', 'RSS / replica'],
      rows: rows.map((r) => [
        r.backend,
        String(r.replicas),
        r.tasks.toLocaleString('en'),
        r.executions.toLocaleString('en'),
        String(r.missed),
        String(r.ranTwice),
        String(r.skipped),
        String(r.interrupted),
        ms(r.p50),
        ms(r.p99),
        ms(r.max),
        `${(r.minShare * 100).toFixed(0)}%`,
        ms(r.endWriteP99),
        ms(r.endWriteMax),
        ms(r.lastEnd),
        Number.isFinite(r.statementsPerRun) ? r.statementsPerRun.toFixed(3) : '–',
        `${Math.round(r.rssBytes / 2 ** 20)} MiB`,
      ]),
      note:
        'start: handler start − the instant, first attempts. end written: when the store confirmed a run’s end − when its handler returned. ' +
        'statements: every statement the replicas’ pools sent from 5 s before the instant until 1 s after the last end (polls and heartbeats included).',
    },
  ];
  const headlines: Headline[] = rows
    .filter((r) => r.backend === 'PostgreSQL')
    .map((r) => ({
      figure: `burst of ${r.tasks.toLocaleString('en')} on ${r.replicas} PostgreSQL replicas, start p99`,
      caretaker: { text: ms(r.p99), value: r.p99 },
      peer: null,
    }));
  return { tables, raw: { bursts: rows }, headlines };
}
