import { parseArgs } from 'node:util';
import { parseDuration } from '../../util/duration.ts';
import { uuidv7 } from '../../util/ids.ts';
import { type CliIo, CONFIG_OPTIONS, commandConfig, recordCliChange, withStore } from '../context.ts';
import { UsageError } from '../usage-error.ts';
import { existingRun, runArgument } from './run-arg.ts';
import { awaitRun, printRunResult, printUnfinished, whoRuns } from './run-result.ts';

export const RETRY_HELP = `Usage: caretaker retry RUN [--wait] [--timeout DURATION] [--config FILE] [--json]

Runs a finished run's tick again, as its next attempt (trigger retry, linked to RUN), on a
running instance that runs its task. Prints the new run's id. Exit 1 when no running instance
runs the task.

Options:
  --wait              wait for the new run to finish and print its result; exit 1 if it did not succeed
  --timeout DURATION  with --wait, give up after this long (default 10m; exit 1)`;

/** `caretaker retry`. */
export async function retryCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], options: { ...CONFIG_OPTIONS, wait: { type: 'boolean' }, timeout: { type: 'string' } }, allowPositionals: true, strict: true });
  if (values.help === true) {
    io.out(RETRY_HELP);
    return 0;
  }
  const timeoutMs = values.timeout === undefined ? 600_000 : parseDuration(values.timeout);
  if (timeoutMs === undefined) throw new UsageError(`--timeout: received ${JSON.stringify(values.timeout)}; use a duration like "30s" or "10m"`);
  const id = runArgument('retry', positionals);
  const config = commandConfig(values.config, io);
  return withStore(config, async (store) => {
    const run = await existingRun(store, id);
    if (run.status === 'running') throw new UsageError(`RUN: run ${id} of ${run.task} is still running; retry it once it has finished (or cancel it first)`, 'ERR_RUN_NOT_FINISHED');
    const { live, why } = await whoRuns(store, run.task);
    if (!live) {
      const message = `${run.task}: ${why}; start one (caretaker run), then retry`;
      if (values.json === true) io.out(JSON.stringify({ error: { code: 'ERR_NO_INSTANCE', message } }));
      else io.err(message);
      return 1;
    }
    const newId = uuidv7();
    await store.requestTrigger({ id: newId, task: run.task, requestedAt: Date.now(), retryOf: { runId: id, scheduledFor: run.scheduledFor.getTime(), attempt: run.attempt } });
    await recordCliChange(store, io, { action: 'retry', task: run.task, runId: newId, detail: { retryOf: id } });
    if (values.wait !== true) {
      if (values.json === true) io.out(JSON.stringify({ runId: newId, task: run.task, retryOf: id }));
      else io.out(`${run.task}: retry of run ${id} requested as run ${newId}`);
      return 0;
    }
    const waited = await awaitRun(store, newId, run.task, timeoutMs);
    if (waited.kind !== 'ended') return printUnfinished(io, run.task, newId, waited, values.timeout ?? '10m', values.json === true);
    return printRunResult(io, waited.run, values.json === true);
  });
}
