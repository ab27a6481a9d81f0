import { parseArgs } from 'node:util';
import { type CliIo, CONFIG_OPTIONS, commandConfig, withStore } from '../context.ts';
import { UsageError } from '../usage-error.ts';
import { taskArgument } from './tasks-arg.ts';

export const PAUSE_HELP = `Usage: caretaker pause|resume TASK [--config FILE] [--json]

Pauses or resumes a task on every instance sharing the store. While paused, its ticks are
recorded as skipped (paused).`;

/** `caretaker pause` and `caretaker resume`. */
export async function pauseCommand(paused: boolean, argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], options: CONFIG_OPTIONS, allowPositionals: true, strict: true });
  if (values.help === true) {
    io.out(PAUSE_HELP.replace('pause|resume', paused ? 'pause' : 'resume'));
    return 0;
  }
  const config = commandConfig(values.config, io);
  const task = taskArgument(paused ? 'pause' : 'resume', positionals, config);
  const known = await withStore(config, (store) => store.setPaused(task, paused, Date.now()));
  if (!known) throw new UsageError(`TASK: "${task}" has never been registered in the store; start the daemon once (caretaker run) first`);
  if (values.json === true) io.out(JSON.stringify({ task, paused }));
  else io.out(`${task} ${paused ? 'paused' : 'resumed'}`);
  return 0;
}
