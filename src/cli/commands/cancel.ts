import { parseArgs } from 'node:util';
import { type CliIo, CONFIG_OPTIONS, commandConfig, recordCliChange, withStore } from '../context.ts';
import { existingRun, runArgument } from './run-arg.ts';

export const CANCEL_HELP = `Usage: caretaker cancel RUN [--config FILE] [--json]

Asks the instance running RUN to cancel it: its signal is aborted and the run is recorded
cancelled. Exit 1 when the run is not running.`;

/** `caretaker cancel`. */
export async function cancelCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], options: CONFIG_OPTIONS, allowPositionals: true, strict: true });
  if (values.help === true) {
    io.out(CANCEL_HELP);
    return 0;
  }
  const id = runArgument('cancel', positionals);
  const config = commandConfig(values.config, io);
  return withStore(config, async (store) => {
    const run = await existingRun(store, id);
    const result = await store.requestCancel(id, Date.now());
    if (result === 'requested') await recordCliChange(store, io, { action: 'cancel', task: run.task, runId: id });
    if (values.json === true) io.out(JSON.stringify({ runId: id, task: run.task, result: result === 'requested' ? 'requested' : 'not-running', status: run.status }));
    else if (result === 'requested') io.out(`${run.task}: cancel of run ${id} requested; ${run.instance ?? 'its instance'} aborts it at its next poll`);
    else io.err(`${run.task}: run ${id} is not running (it is ${run.status}); only a running run can be cancelled`);
    return result === 'requested' ? 0 : 1;
  });
}
