import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { openStore } from '../../config/open-store.ts';
import { createScheduler } from '../../create-scheduler.ts';
import { prepareDaemon } from '../../daemon/daemon.ts';
import { parseDuration } from '../../util/duration.ts';
import { uuidv7 } from '../../util/ids.ts';
import { type CliIo, CONFIG_OPTIONS, commandConfig, withStore } from '../context.ts';
import { UsageError } from '../usage-error.ts';
import { awaitRun, printRunResult, whoRuns } from './run-result.ts';
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
export async function triggerCommand(argv: readonly string[], io: CliIo): Promise<number> {
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
  if (values.local === true) return runLocally(task, values.config, io, values.json === true);
  const id = uuidv7();
  return withStore(config, async (store) => {
    const { live, why } = await whoRuns(store, task);
    if (!live) {
      if (values.json === true) io.out(JSON.stringify({ error: { code: 'ERR_NO_INSTANCE', message: `${why}; start one (caretaker run), or use --local` } }));
      else io.err(`${task}: ${why}; start one (caretaker run), or run it here with --local`);
      return 1;
    }
    await store.requestTrigger({ id, task, requestedAt: Date.now() });
    if (values.wait !== true) {
      if (values.json === true) io.out(JSON.stringify({ runId: id, task }));
      else io.out(`${task}: run ${id} requested (caretaker show ${id} shows it)`);
      return 0;
    }
    const run = await awaitRun(store, id, timeoutMs);
    if (run === null || run.status === 'running') {
      const state = run === null ? 'no instance has taken it yet' : 'it is still running';
      if (values.json === true) io.out(JSON.stringify({ runId: id, task, status: run?.status ?? 'requested', timedOut: true }));
      else io.err(`${task}: gave up waiting after ${values.timeout ?? '10m'}: ${state}`);
      return 1;
    }
    return printRunResult(io, run, values.json === true);
  });
}

/**
 * `trigger --local`: the task's handler runs in this process, on a scheduler that runs only what
 * is triggered here (no ticks, no catch-up, nobody else's work), recorded in the store like any run.
 */
async function runLocally(task: string, configFile: string | undefined, io: CliIo, json: boolean): Promise<number> {
  const { config, definitions } = await prepareDaemon({ file: commandConfig(configFile, io).file, env: io.env });
  if (config.store.kind === 'memory') throw new UsageError('the store is "memory": a run here would be recorded nowhere; configure sqlite or postgres');
  const definition = definitions.find((d) => d.name === task);
  if (definition === undefined) throw new UsageError(`TASK: no task "${task}" in ${config.file}`, 'ERR_TASK_NOT_FOUND');
  const scheduler = createScheduler({ store: openStore(config.store), instance: `cli:${hostname()}:${process.pid}`, runSchedules: false });
  scheduler.add(definition);
  await scheduler.start();
  try {
    const id = await scheduler.trigger(task);
    const finished = new Promise<void>((resolve) => {
      const off = scheduler.on('run:finished', (run) => {
        if (run.id !== id) return;
        off();
        resolve();
      });
    });
    await finished;
    const run = await scheduler.getRun(id);
    if (run === null) throw new Error(`run ${id} vanished from the store`);
    return printRunResult(io, run, json);
  } finally {
    await scheduler.stop();
  }
}
