import { type ChildResult, medianOfChildren, runChild } from '../lib/child.ts';
import type { SuiteOptions, SuiteResult } from '../lib/suite.ts';
import { caretakerOnly, type Candidate } from '../lib/summary.ts';
import { fmt, type Table } from '../lib/table.ts';
import { dropDatabase, freshDatabase } from '../cluster/databases.ts';
import { secondTicks, statementRate, type TickFigures, tickFigures } from '../cluster/fleet.ts';

const CHILD = new URL('./child.ts', import.meta.url);

type Figures = Record<string, number>;

/** One task count: the memory-store process and the SQLite-store process. */
interface TaskPoint {
  readonly count: number;
  readonly memory: ChildResult<Figures>;
  readonly sqlite: ChildResult<Figures>;
}

/** One replica count on PostgreSQL: a task every second, and an idle fleet (one hourly task). */
interface ReplicaPoint extends TickFigures {
  readonly replicas: number;
  /** Store statements per tick, all replicas, steady state. */
  readonly statementsPerTick: number;
  readonly idleStatementsPerSecond: number;
  /** CPU of all replicas per second of wall time, ticking and idle. */
  readonly cpuMsPerSecond: number;
  readonly idleCpuMsPerSecond: number;
  /** Resident memory of all replicas at the end of the ticking window. */
  readonly rssBytes: number;
}

async function taskPoint(count: number, repeat: number, idleSeconds: number, log: (l: string) => void): Promise<TaskPoint> {
  const child = (store: 'memory' | 'sqlite') =>
    medianOfChildren(repeat, () => {
      log(`  tasks: ${count.toLocaleString('en')} on the ${store} store`);
      return runChild<Figures>(CHILD, [store, JSON.stringify({ count, idleSeconds })], { timeoutMs: 300_000 });
    });
  return { count, memory: await child('memory'), sqlite: await child('sqlite') };
}

/** Statement rates and lateness of `replicas` Caretaker processes on a database of their own. */
async function replicaPoint(replicas: number, shortMs: number, longMs: number, log: (l: string) => void): Promise<ReplicaPoint> {
  const measure = async (every: string) => {
    const db = `caretaker_bench_scale_${every}`;
    const target = await freshDatabase(db);
    try {
      return await statementRate(db, replicas, { library: 'caretaker', target, tasks: { count: 1, every } }, shortMs, longMs);
    } finally {
      await dropDatabase(db);
    }
  };
  log(`  replicas: ${replicas} on PostgreSQL, one task every second, ${longMs / 1000} s`);
  const ticking = await measure('1s');
  log(`  replicas: ${replicas} on PostgreSQL, idle (one hourly task), ${longMs / 1000} s`);
  const idle = await measure('1h');
  const perSecond = (run: typeof ticking.long) => run.cpuMs / ((run.stoppedAt - run.readyAt) / 1000);
  return {
    replicas,
    ...tickFigures(secondTicks(ticking.long)),
    statementsPerTick: ticking.perSecond,
    idleStatementsPerSecond: idle.perSecond,
    cpuMsPerSecond: perSecond(ticking.long),
    idleCpuMsPerSecond: perSecond(idle.long),
    rssBytes: ticking.long.rssBytes,
  };
}

const thousands = (n: number) => `${n / 1000}k`;
const perSecond = (v: number) => `${v.toFixed(2)} ms/s`;
const mib = (v: number) => `${(v / 2 ** 20).toFixed(0)} MiB`;
const figure = (outcome: ChildResult<Figures>, key: string): number | undefined => (outcome.ok ? outcome.value[key] : undefined);
const cell = (outcome: ChildResult<Figures>, key: string, format: (v: number) => string) => {
  const v = figure(outcome, key);
  return v === undefined ? '–' : format(v);
};

/**
 * Caretaker alone, as its cost grows: 1k → 100k tasks in one process (memory and SQLite stores),
 * and 1 → 8 replicas on one PostgreSQL database.
 */
export async function scaleSuite({ quick, log }: SuiteOptions): Promise<SuiteResult> {
  const counts = quick ? [1_000, 10_000] : [1_000, 10_000, 100_000];
  const repeat = quick ? 1 : 3;
  const idleSeconds = quick ? 5 : 10;
  const tasks: TaskPoint[] = [];
  for (const count of counts) tasks.push(await taskPoint(count, repeat, idleSeconds, log));

  const replicaCounts = quick ? [1, 2, 4] : [1, 2, 4, 8];
  const [shortMs, longMs] = quick ? [3_000, 11_000] : [5_000, 30_000];
  const replicas: ReplicaPoint[] = [];
  for (const n of replicaCounts) replicas.push(await replicaPoint(n, shortMs, longMs, log));

  const ms = (digits: number) => (v: number) => fmt.ms(v, digits);
  const failure = (p: TaskPoint) => (!p.memory.ok ? p.memory.reason : !p.sqlite.ok ? p.sqlite.reason : undefined);
  const tables: Table[] = [
    {
      title: `Tasks in one process (a fresh process per point and store${repeat > 1 ? `, median of ${repeat}` : ''})`,
      header: ['tasks', 'add + start', 'heap / task', 'RSS / task', 'idle CPU', 'SQLite first start', 'SQLite restart', 'SQLite idle CPU', 'SQLite file / task', 'failed'],
      rows: tasks.map((p) => [
        p.count.toLocaleString('en'),
        cell(p.memory, 'ms', ms(0)),
        cell(p.memory, 'heapPerTask', fmt.bytes),
        cell(p.memory, 'rssPerTask', fmt.bytes),
        cell(p.memory, 'cpuMsPerSecond', perSecond),
        cell(p.sqlite, 'startMs', ms(0)),
        cell(p.sqlite, 'restartMs', ms(0)),
        cell(p.sqlite, 'cpuMsPerSecond', perSecond),
        cell(p.sqlite, 'fileBytesPerTask', fmt.bytes),
        failure(p) ?? '–',
      ]),
      note:
        `Daily tasks, the first due in an hour, a second apart. "add + start": adding every task and start() on the memory store. ` +
        `Idle CPU: CPU time per second of wall time over ${idleSeconds} s with no task due. SQLite first start: start() on a new file, ` +
        `which registers every task in it; restart: start() again on that file.`,
    },
    {
      title: `Replicas on one PostgreSQL database (one task every second; steady-state window ${(longMs - shortMs) / 1000} s, lateness over ${longMs / 1000} s)`,
      header: ['replicas', 'ticks', 'missed', 'duplicated', 'p50', 'p99', 'statements / tick', 'idle statements / s', 'CPU (ticking)', 'CPU (idle)', 'RSS (all)'],
      rows: replicas.map((r) => [
        String(r.replicas),
        String(r.ticks),
        String(r.missed),
        String(r.duplicated),
        fmt.ms(r.p50, 2),
        fmt.ms(r.p99, 2),
        r.statementsPerTick.toFixed(1),
        r.idleStatementsPerSecond.toFixed(2),
        perSecond(r.cpuMsPerSecond),
        perSecond(r.idleCpuMsPerSecond),
        mib(r.rssBytes),
      ]),
      note:
        'Lateness: handler start − nominal instant. Statements are transactions counted by pg_stat_database, from two runs that differ ' +
        'only in length; CPU is all replicas together per second of wall time; idle: one hourly task.',
    },
  ];

  const byCount = (store: 'memory' | 'sqlite', key: string): Candidate[] => tasks.map((p) => ({ name: thousands(p.count), value: figure(p[store], key) }));
  const byReplicas = (key: (r: ReplicaPoint) => number): Candidate[] => replicas.map((r) => ({ name: `×${r.replicas}`, value: key(r) }));
  const span = (what: string, points: readonly number[], format: (n: number) => string) => `${what} ${format(points[0] ?? 0)} → ${format(points.at(-1) ?? 0)}`;
  const taskSpan = span('tasks', counts, thousands);
  const replicaSpan = span('replicas', replicaCounts, (n) => `×${n}`);
  const headlines = [
    caretakerOnly(`add + start, memory store (${taskSpan})`, byCount('memory', 'ms'), ms(0)),
    caretakerOnly(`heap per task (${taskSpan})`, byCount('memory', 'heapPerTask'), fmt.bytes),
    caretakerOnly(`idle CPU per second, memory store (${taskSpan})`, byCount('memory', 'cpuMsPerSecond'), perSecond),
    caretakerOnly(`SQLite first start, registers every task (${taskSpan})`, byCount('sqlite', 'startMs'), ms(0)),
    caretakerOnly(`lateness p99, PostgreSQL (${replicaSpan})`, byReplicas((r) => r.p99), ms(2)),
    caretakerOnly(`missed + duplicated ticks, PostgreSQL (${replicaSpan})`, byReplicas((r) => r.missed + r.duplicated), String),
    caretakerOnly(`statements per tick, all replicas (${replicaSpan})`, byReplicas((r) => r.statementsPerTick), (v) => v.toFixed(1)),
    caretakerOnly(`idle statements per second, all replicas (${replicaSpan})`, byReplicas((r) => r.idleStatementsPerSecond), (v) => v.toFixed(2)),
    caretakerOnly(`CPU of all replicas, one task every second (${replicaSpan})`, byReplicas((r) => r.cpuMsPerSecond), perSecond),
  ];
  return { tables, raw: { tasks, replicas, idleSeconds, windows: { shortMs, longMs } }, headlines };
}
