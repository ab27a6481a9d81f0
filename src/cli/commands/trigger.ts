import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { openStore } from '../../config/open-store.ts';
import type { DaemonConfig } from '../../config/load.ts';
import { createScheduler } from '../../create-scheduler.ts';
import type { Scheduler } from '../../engine/scheduler.ts';
import type { RunRecord } from '../../store/records.ts';
import { prepareDaemon } from '../../daemon/daemon.ts';
import { parseDuration } from '../../util/duration.ts';
import { uuidv7 } from '../../util/ids.ts';
import { type CliIo, CONFIG_OPTIONS, commandConfig, recordCliChange, withStore } from '../context.ts';
import { UsageError } from '../usage-error.ts';
import { awaitRun, printRunResult, printUnfinished, whoRuns } from './run-result.ts';
import { taskArgument } from './tasks-arg.ts';

export const TRIGGER_HELP = `Usage: caretaker trigger TASK [--wait] [--local] [--timeout DURATION] [--config FILE] [--json]

Asks a running instance on the configured store (caretaker run, or your service) to run TASK
now (a manual run), and prints the run id. When no running instance runs TASK, it says so and
exits 1 at once: nothing is left waiting for a daemon that may start days later.

Options:
  --wait              wait for the run to finish and print its result; exit 1 if it did not succeed
  --local             run TASK here, in this process, and wait for it (recorded in the store
                      like any run; no daemon needed)
  --timeout DURATION  with --wait, give up after this long (default 10m; exit 1)`;

/** `caretaker trigger`. */
export async function triggerCommand(argv: readonly string[], io: CliIo, signals: NodeJS.EventEmitter = process): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { ...CONFIG_OPTIONS, wait: { type: 'boolean' }, local: { type: 'boolean' }, timeout: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) {
    io.out(TRIGGER_HELP);
    return 0;
  }
  const timeoutMs = values.timeout === undefined ? 600_000 : parseDuration(values.timeout);
  if (timeoutMs === undefined) throw new UsageError(`--timeout: received ${JSON.stringify(values.timeout)}; use a duration like "30s" or "10m"`);
  const config = commandConfig(values.config, io);
  const task = taskArgument('trigger', positionals, config);
  if (values.local === true) return runLocally(task, values.config, io, values.json === true, signals);
  const id = uuidv7();
  return withStore(config, async (store) => {
    const { live, why } = await whoRuns(store, task);
    if (!live) {
      if (values.json === true) io.out(JSON.stringify({ error: { code: 'ERR_NO_INSTANCE', message: `${why}; start one (caretaker run), or use --local` } }));
      else io.err(`${task}: ${why}; start one (caretaker run), or run it here with --local`);
      return 1;
    }
    await store.requestTrigger({ id, task, requestedAt: Date.now() });
    await recordCliChange(store, io, { action: 'trigger', task, runId: id });
    if (values.wait !== true) {
      if (values.json === true) io.out(JSON.stringify({ runId: id, task }));
      else io.out(`${task}: run ${id} requested (caretaker show ${id} shows it)`);
      return 0;
    }
    const waited = await awaitRun(store, id, task, timeoutMs);
    if (waited.kind !== 'ended') return printUnfinished(io, task, id, waited, values.timeout ?? '10m', values.json === true);
    const run = waited.run;
    return printRunResult(io, run, values.json === true);
  });
}

/**
 * `trigger --local`: the task's handler runs in this process, on a scheduler that runs only what
 * is triggered here (no ticks, no catch-up, nobody else's work), recorded in the store like any
 * run. A signal stops it gracefully (the run is recorded interrupted); a second one exits at once.
 */
async function runLocally(task: string, configFile: string | undefined, io: CliIo, json: boolean, signals: NodeJS.EventEmitter): Promise<number> {
  const { config, definitions } = await prepareDaemon({ file: commandConfig(configFile, io).file, env: io.env, only: [task] });
  if (config.store.kind === 'memory') throw new UsageError('the store is "memory": a run here would be recorded nowhere; configure sqlite or postgres');
  const definition = definitions.find((d) => d.name === task);
  if (definition === undefined) throw new UsageError(`TASK: no task "${task}" in ${config.file}`, 'ERR_TASK_NOT_FOUND');
  const scheduler = createScheduler({ store: openStore(config.store), instance: `cli:${hostname()}:${process.pid}`, runSchedules: false });
  scheduler.add(definition);
  await scheduler.start();
  let id: string | null = null;
  // Whatever the claim becomes: a run that ends, a tick recorded skipped (another run is in
  // progress), or a tick queued behind it (which only an instance that polls would pick up).
  const ended = new Promise<'ended' | 'queued'>((resolve) => {
    scheduler.on('run:finished', (run) => run.id === id && resolve('ended'));
    scheduler.on('tick:skipped', (run) => run.id === id && resolve('ended'));
    scheduler.on('run:lost', (run) => run.runId === id && resolve('ended'));
    scheduler.on('tick:queued', (event) => event.task === task && resolve('queued'));
  });
  let stopping: Promise<unknown> | null = null;
  const onSignal = (): void => {
    if (stopping !== null) process.exit(130);
    stopping = scheduler.stop({ timeout: '5s' });
  };
  signals.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  try {
    id = await scheduler.trigger(task);
    const how = await Promise.race([ended, new Promise<'stopped'>((resolve) => scheduler.once('scheduler:stopped', () => resolve('stopped')))]);
    if (how === 'queued') {
      const message = `${task}: another run of it is in progress; this one was queued behind it (overlap: queue) and runs when that one ends, on an instance that polls the store`;
      if (json) io.out(JSON.stringify({ error: { code: 'ERR_QUEUED', message } }));
      else io.err(message);
      return 1;
    }
    await stopping;
    const run = await readRun(scheduler, config, id);
    if (run === null) throw new Error(`run ${id} is not in the store`);
    return printRunResult(io, run, json);
  } finally {
    signals.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    await (stopping ?? scheduler.stop());
  }
}

/** The run's record, from the scheduler, or from the store directly once the scheduler has stopped. */
async function readRun(scheduler: Scheduler, config: DaemonConfig, id: string): Promise<RunRecord | null> {
  if (scheduler.state === 'running') return scheduler.getRun(id);
  return withStore(config, (store) => store.getRun(id));
}
