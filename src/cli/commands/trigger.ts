import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { RunRecord } from '../../store/records.ts';
import { parseDuration } from '../../util/duration.ts';
import { uuidv7 } from '../../util/ids.ts';
import { type CliIo, CONFIG_OPTIONS, commandConfig, withStore } from '../context.ts';
import { UsageError } from '../usage-error.ts';
import { runJson } from './history.ts';
import { taskArgument } from './tasks-arg.ts';

export const TRIGGER_HELP = `Usage: caretaker trigger TASK [--wait] [--timeout DURATION] [--config FILE] [--json]

Asks the daemon sharing the configured store to run TASK now (a manual run). Prints the run id.

Options:
  --wait              wait for the run to finish and print its result; exit 1 if it did not succeed
  --timeout DURATION  with --wait, give up after this long (default 10m; exit 1)`;

const POLL_MS = 250;

/** `caretaker trigger`. */
export async function triggerCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { ...CONFIG_OPTIONS, wait: { type: 'boolean' }, timeout: { type: 'string' } },
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
  const id = uuidv7();
  return withStore(config, async (store) => {
    await store.requestTrigger({ id, task, requestedAt: Date.now() });
    if (values.wait !== true) {
      if (values.json === true) io.out(JSON.stringify({ runId: id, task }));
      else io.out(`${task}: run ${id} requested; a running daemon picks it up (caretaker history ${task} shows it)`);
      return 0;
    }
    const deadline = Date.now() + timeoutMs;
    let run: RunRecord | null = null;
    while (Date.now() < deadline) {
      run = await store.getRun(id);
      if (run !== null && run.status !== 'running') break;
      await sleep(POLL_MS);
    }
    if (run === null || run.status === 'running') {
      const why = run === null ? 'no daemon picked it up (is caretaker run running on this store?)' : 'it is still running';
      if (values.json === true) io.out(JSON.stringify({ runId: id, task, status: run?.status ?? 'requested', timedOut: true }));
      else io.err(`${task}: gave up waiting after ${values.timeout ?? '10m'}: ${why}`);
      return 1;
    }
    if (values.json === true) io.out(JSON.stringify(runJson(run)));
    else {
      io.out(`${task}: ${run.status}${run.durationMs !== null ? ` in ${run.durationMs} ms` : ''} on ${run.instance ?? '?'} (run ${run.id})`);
      if (run.error !== null) io.out(`error: ${run.error.message}`);
      if (run.output !== null) io.out(`output: ${JSON.stringify(run.output)}`);
      if (run.retryAt !== null) io.out(`a retry is scheduled for ${run.retryAt.toISOString()}`);
    }
    return run.status === 'succeeded' ? 0 : 1;
  });
}
