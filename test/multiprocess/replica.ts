/**
 * One replica for the multi-process tests: a scheduler in its own process on a shared store.
 * Options come as one JSON argument; events go to the parent over IPC. SIGTERM stops it
 * gracefully; SIGKILL is the crash the tests inflict.
 */
import { existsSync } from 'node:fs';
import { createScheduler, type NotifyOptions, postgresStore, sqliteStore, type TaskDefinition } from '../../src/index.ts';

interface ReplicaOptions {
  readonly instance: string;
  readonly store: { readonly sqlite: string } | { readonly postgres: string; readonly schema: string };
  readonly lease?: string;
  readonly pollInterval?: string;
  /** Boot, then start the scheduler only when the parent sends `{ type: 'go' }`: start at a chosen instant. */
  readonly hold?: boolean;
  /** How long SIGTERM waits for running handlers. @defaultValue '5s' */
  readonly stopTimeout?: string;
  /** Alerts, as `createScheduler` takes them (webhook and command channels only: options are JSON). */
  readonly notify?: NotifyOptions;
  /** `ignoreAbort`: the handler works on through its abort signal (a stubborn or uninterruptible one); `fail`: it throws after its work. */
  /** `whenFile`: the task's `when` condition is that this file exists. */
  readonly tasks: readonly (Omit<TaskDefinition, 'handler' | 'when'> & { readonly workMs: number; readonly ignoreAbort?: boolean; readonly fail?: boolean; readonly whenFile?: string })[];
}

const options = JSON.parse(process.argv[2] ?? '{}') as ReplicaOptions;
const send = (message: object) => process.send?.(message);
const store = 'sqlite' in options.store ? sqliteStore({ path: options.store.sqlite }) : postgresStore({ url: options.store.postgres, schema: options.store.schema });
const scheduler = createScheduler({
  store,
  instance: options.instance,
  ...(options.lease !== undefined ? { lease: options.lease } : {}),
  ...(options.pollInterval !== undefined ? { pollInterval: options.pollInterval } : {}),
  ...(options.notify !== undefined ? { notify: options.notify } : {}),
});
for (const { workMs, ignoreAbort, fail, whenFile, ...task } of options.tasks) {
  scheduler.add({
    ...task,
    ...(whenFile !== undefined ? { when: () => existsSync(whenFile) || `no ${whenFile}` } : {}),
    handler: async (ctx) => {
      send({ type: 'started', task: ctx.task, runId: ctx.runId, scheduledFor: ctx.scheduledFor.getTime(), attempt: ctx.attempt, at: Date.now() });
      try {
        if (workMs > 0) await new Promise((resolve, reject) => {
          const timer = setTimeout(resolve, workMs);
          if (ignoreAbort !== true) ctx.signal.addEventListener('abort', () => { clearTimeout(timer); reject(ctx.signal.reason); }, { once: true });
        });
      } finally {
        send({ type: 'ended', task: ctx.task, runId: ctx.runId, at: Date.now(), aborted: ctx.signal.aborted });
      }
      if (fail === true) throw new Error(`failed on ${options.instance}`);
      return { instance: options.instance };
    },
  });
}
scheduler.on('notification:sent', (e) => send({ type: 'notification:sent', eventId: e.eventId, channel: e.channel, at: Date.now() }));
scheduler.on('error', (e) => send({ type: 'error', message: String((e.error as Error)?.message ?? e.error), context: e.context, at: Date.now() }));
process.on('SIGTERM', () => {
  void scheduler.stop({ timeout: options.stopTimeout ?? '5s' }).then((report) => {
    send({ type: 'stopped', interrupted: report.interrupted.map((r) => r.task).sort(), finished: report.finished.map((r) => r.task).sort() });
    process.exit(0);
  });
});
// `{ type: 'busy', busy }`: the service says it is busy (or quiet again), for `defer`.
process.on('message', (m) => {
  const message = m as { type?: string; busy?: boolean };
  if (message.type === 'busy') scheduler.setBusy(message.busy === true);
});
if (options.hold === true) {
  await new Promise<void>((resolve) => {
    process.on('message', (m) => (m as { type?: string }).type === 'go' && resolve());
    send({ type: 'booted' });
  });
}
const startingAt = Date.now();
await scheduler.start();
send({ type: 'ready', instance: options.instance, startingAt, readyAt: Date.now() });
