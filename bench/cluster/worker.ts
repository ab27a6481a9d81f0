/**
 * One replica of a periodic-task library, in its own process, for the cluster benchmark. Every
 * handler start is reported to the parent over IPC with the instant the library meant it for;
 * SIGTERM stops the library gracefully (closing its connections) and exits; a `{ type: 'usage' }`
 * message is answered with the process's CPU time and resident memory.
 *
 * Options: one JSON argument, a {@link WorkerOptions}.
 */
import { preciseNow as now } from '../lib/stats.ts';

export type Library = 'caretaker' | 'pg-boss' | 'graphile-worker' | 'bullmq';

export interface WorkerOptions {
  readonly library: Library;
  readonly instance: string;
  /** A SQLite file path or a PostgreSQL URL (Caretaker), a PostgreSQL URL (pg-boss, graphile-worker) or a Redis URL (BullMQ). */
  readonly target: string;
  /** Caretaker only: `{ count, every }` tasks, or an `at` task with a long handler. */
  readonly tasks?: { readonly count: number; readonly every: string } | { readonly at: number; readonly workMs: number };
  readonly lease?: string;
}

/** What a worker tells the parent when a handler starts. */
export interface RunMessage {
  readonly type: 'run';
  readonly instance: string;
  readonly task: string;
  /** The instant the library scheduled this execution for, epoch ms. */
  readonly nominal: number;
  /** Handler start, epoch ms with sub-millisecond precision. */
  readonly at: number;
  readonly attempt: number;
}

/** A worker's answer to `{ type: 'usage' }`: its CPU time since it started and its resident memory. */
export interface UsageMessage {
  readonly type: 'usage';
  readonly cpuMs: number;
  readonly rssBytes: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as WorkerOptions;
now();
const report = (task: string, nominal: number, attempt = 1): void => {
  process.send?.({ type: 'run', instance: options.instance, task, nominal, at: now(), attempt } satisfies RunMessage);
};

/** Ticks on whole multiples of the interval, so every replica and the parent agree on them. */
const EPOCH = '1970-01-01T00:00:00.000Z';

async function caretaker(): Promise<() => Promise<void>> {
  const { createScheduler, postgresStore, sqliteStore } = await import('caretaker');
  const store = options.target.startsWith('postgres') ? postgresStore({ url: options.target }) : sqliteStore({ path: options.target });
  const scheduler = createScheduler({ store, instance: options.instance, ...(options.lease !== undefined ? { lease: options.lease } : {}) });
  const tasks = options.tasks ?? { count: 1, every: '1s' };
  if ('every' in tasks) {
    for (let i = 0; i < tasks.count; i++) {
      scheduler.add({ name: `task-${i}`, schedule: { every: tasks.every, anchor: EPOCH }, catchUp: 'none', handler: (ctx) => report(ctx.task, ctx.scheduledFor.getTime(), ctx.attempt) });
    }
  } else {
    scheduler.add({
      name: 'long',
      schedule: { at: new Date(tasks.at) },
      retry: { attempts: 3, backoff: '100ms' },
      handler: async (ctx) => {
        report(ctx.task, ctx.scheduledFor.getTime(), ctx.attempt);
        await new Promise((resolve) => setTimeout(resolve, tasks.workMs));
      },
    });
  }
  await scheduler.start();
  return async () => {
    await scheduler.stop({ timeout: '2s' });
  };
}

async function pgBoss(): Promise<() => Promise<void>> {
  const { PgBoss } = await import('pg-boss');
  const boss = new PgBoss({ connectionString: options.target });
  boss.on('error', (error) => process.stderr.write(`pg-boss: ${String(error)}\n`));
  await boss.start();
  await boss.createQueue('tick').catch(() => undefined);
  await boss.schedule('tick', '* * * * *');
  // pg-boss's job carries no nominal instant; its cron is minute-grained, so the minute it started in is.
  await boss.work('tick', async () => report('tick', Math.floor(now() / 60_000) * 60_000));
  return () => boss.stop({ graceful: true });
}

async function graphileWorker(): Promise<() => Promise<void>> {
  const { run } = await import('graphile-worker');
  const runner = await run({
    connectionString: options.target,
    concurrency: 1,
    noHandleSignals: true,
    crontab: '* * * * * tick',
    taskList: {
      tick: async (payload) => {
        report('tick', Date.parse((payload as { _cron: { ts: string } })._cron.ts));
      },
    },
  });
  return () => runner.stop();
}

async function bullmq(): Promise<() => Promise<void>> {
  const { Queue, Worker } = await import('bullmq');
  const url = new URL(options.target);
  const connection = { host: url.hostname, port: Number(url.port || 6379) };
  const queue = new Queue('tick', { connection });
  await queue.upsertJobScheduler('tick', { every: 1_000 }, { name: 'tick' });
  // The instant BullMQ meant the job for: when it was created plus the delay it was given.
  const worker = new Worker('tick', async (job) => report('tick', job.timestamp + (job.opts.delay ?? 0)), { connection, concurrency: 1 });
  await worker.waitUntilReady();
  return async () => {
    await worker.close();
    await queue.close();
  };
}

const starters: Record<Library, () => Promise<() => Promise<void>>> = { caretaker, 'pg-boss': pgBoss, 'graphile-worker': graphileWorker, bullmq };
const stop = await (starters[options.library] ?? (() => Promise.reject(new Error(`unknown library ${options.library}`))))();
process.on('SIGTERM', () => {
  void stop().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`stop failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
});
process.on('message', (m: { type: string }) => {
  if (m.type !== 'usage') return;
  const { userCPUTime, systemCPUTime } = process.resourceUsage();
  process.send?.({ type: 'usage', cpuMs: (userCPUTime + systemCPUTime) / 1000, rssBytes: process.memoryUsage.rss() } satisfies UsageMessage);
});
process.send?.({ type: 'ready' });
