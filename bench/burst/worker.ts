/**
 * One Caretaker replica for the burst benchmark, in its own process: `count` tasks every hour,
 * all anchored on one instant, so every task is due at that instant on every replica. Each
 * handler start and each end the store confirmed is kept locally and sent to the parent in one
 * message when asked (`{ type: 'report' }`): a hundred thousand IPC messages would measure IPC.
 * With a PostgreSQL target the replica counts the statements its pool sends.
 *
 * Options: one JSON argument, a {@link BurstWorkerOptions}.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { createScheduler, postgresStore, sqliteStore } from 'caretaker';
import { preciseNow as now } from '../lib/stats.ts';

export interface BurstWorkerOptions {
  readonly instance: string;
  /** A SQLite file path or a PostgreSQL URL. */
  readonly target: string;
  readonly count: number;
  /** The instant every task is due (epoch ms). */
  readonly at: number;
  /** How long each handler works, ms. */
  readonly workMs: number;
}

/** Everything one replica saw, column-wise. */
export interface BurstReport {
  readonly type: 'report';
  readonly instance: string;
  /** Task index of each handler start. */
  readonly task: number[];
  /** Handler start minus the tick's instant, ms. */
  readonly lateness: number[];
  readonly attempt: number[];
  /** For each end the store confirmed: when it was confirmed minus when the handler returned, ms. */
  readonly endWrite: number[];
  /** When the last end was confirmed (epoch ms), or 0. */
  readonly lastEndAt: number;
  /** Statements sent so far (PostgreSQL), by wall-clock second: [second, count] pairs. */
  readonly statements: [number, number][];
  readonly rssBytes: number;
  readonly errors: string[];
}

/** How far a replica is, cheap to ask while the burst is on (no store query). */
export interface BurstProgress {
  readonly type: 'progress';
  /** Handlers started and returned here, any attempt. */
  readonly started: number;
  readonly returned: number;
  /** Ends of runs started here that the store confirmed. */
  readonly ended: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as BurstWorkerOptions;
now();
const task: number[] = [];
const lateness: number[] = [];
const attempt: number[] = [];
const endWrite: number[] = [];
const returnedAt = new Map<string, number>();
const errors = new Set<string>();
let lastEndAt = 0;
const statementsBySecond = new Map<number, number>();
const count = () => {
  const second = Math.floor(Date.now() / 1000);
  statementsBySecond.set(second, (statementsBySecond.get(second) ?? 0) + 1);
};

function pgStore(url: string) {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on('error', () => {});
  // Every statement goes through query(), on the pool or on a client checked out of it.
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { query: unknown }).query = (...args: unknown[]) => {
    count();
    return query(...args);
  };
  const connect = pool.connect.bind(pool) as (...args: unknown[]) => Promise<pg.PoolClient>;
  // pool.query checks a client out with a callback: only the promise form is the store's own.
  (pool as unknown as { connect: unknown }).connect = async (...args: unknown[]) => {
    if (args.length > 0) return connect(...args);
    const client = await connect();
    const clientQuery = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: unknown }).query = (...args: unknown[]) => {
      count();
      return clientQuery(...args);
    };
    return client;
  };
  return { store: postgresStore({ pool }), end: () => pool.end() };
}

const backend = options.target.startsWith('postgres') ? pgStore(options.target) : { store: sqliteStore({ path: options.target }), end: async () => {} };
const scheduler = createScheduler({ store: backend.store, instance: options.instance, lease: '5s' });
scheduler.on('error', ({ error, context }) => {
  const message = error instanceof Error ? error.message : String(error);
  // Each distinct error once, as it happens: the report only counts them.
  if (!errors.has(message)) process.stderr.write(`[${options.instance}] ${context} error: ${message}\n`);
  errors.add(message);
});
scheduler.on('run:finished', (run) => {
  const returned = returnedAt.get(run.id);
  if (returned === undefined) return;
  const confirmed = now();
  endWrite.push(confirmed - returned);
  lastEndAt = Math.max(lastEndAt, confirmed);
});
const anchor = new Date(options.at);
for (let i = 0; i < options.count; i++) {
  scheduler.add({
    name: `t${i}`,
    schedule: { every: '1h', anchor },
    catchUp: 'none',
    retry: { attempts: 3, backoff: '100ms' },
    handler: async (ctx) => {
      task.push(i);
      lateness.push(now() - ctx.scheduledFor.getTime());
      attempt.push(ctx.attempt);
      if (options.workMs > 0) await sleep(options.workMs);
      returnedAt.set(ctx.runId, now());
    },
  });
}
await scheduler.start();

process.on('message', (m: { type: string }) => {
  if (m.type === 'progress') {
    process.send?.({ type: 'progress', started: task.length, returned: returnedAt.size, ended: endWrite.length } satisfies BurstProgress);
  } else if (m.type === 'report') {
    process.send?.({
      type: 'report',
      instance: options.instance,
      task,
      lateness,
      attempt,
      endWrite,
      lastEndAt,
      statements: [...statementsBySecond],
      rssBytes: process.memoryUsage.rss(),
      errors: [...errors],
    } satisfies BurstReport);
  } else if (m.type === 'stop') {
    void scheduler
      .stop({ timeout: '5s' })
      .then(() => backend.end())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`stop failed: ${String(error)}\n`);
          process.exit(1);
        },
      );
  }
});
// The benchmark that started this replica is gone (it crashed, or was killed): so is the replica.
process.on('disconnect', () => process.exit(1));
process.send?.({ type: 'ready' });
