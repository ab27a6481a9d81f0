import { parseArgs } from 'node:util';
import { type CliIo, CONFIG_OPTIONS, commandConfig, recordCliChange, withStore } from '../context.ts';
import { pauseNote } from '../../engine/pause-note.ts';
import { InvalidOptionError } from '../../util/errors.ts';
import { UsageError } from '../usage-error.ts';
import { taskArgument } from './tasks-arg.ts';

export const PAUSE_HELP = `Usage: caretaker pause TASK [--note TEXT] [--config FILE] [--json]

Pauses a task on every instance sharing the store: its ticks are recorded as skipped (paused)
until it is resumed. --note says why (at most 500 characters), shown by list, the API and the
dashboard; pausing a paused task again replaces its note.`;

export const RESUME_HELP = `Usage: caretaker resume TASK [--config FILE] [--json]

Resumes a paused task on every instance sharing the store, from its next tick; its pause note
is cleared.`;

/** `caretaker pause` and `caretaker resume`. */
export async function pauseCommand(paused: boolean, argv: readonly string[], io: CliIo): Promise<number> {
  const options = paused ? { ...CONFIG_OPTIONS, note: { type: 'string' } } as const : CONFIG_OPTIONS;
  const { values, positionals } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  if (values.help === true) {
    io.out(paused ? PAUSE_HELP : RESUME_HELP);
    return 0;
  }
  const given = (values as { note?: string }).note;
  let note: string | null = null;
  try {
    note = pauseNote({ note: given });
  } catch (error) {
    if (error instanceof InvalidOptionError) throw new UsageError(`--note: ${error.issues.map((i) => i.fix).join('; ')}`);
    throw error;
  }
  const config = commandConfig(values.config, io);
  const task = taskArgument(paused ? 'pause' : 'resume', positionals, config);
  const known = await withStore(config, async (store) => {
    const found = await store.setPaused(task, paused, Date.now(), note);
    if (found) await recordCliChange(store, io, paused ? { action: 'pause', task, detail: { note } } : { action: 'resume', task });
    return found;
  });
  if (!known) throw new UsageError(`TASK: "${task}" has never been registered in the store; start the daemon once (caretaker run) first`);
  if (values.json === true) io.out(JSON.stringify(paused ? { task, paused, note } : { task, paused }));
  else io.out(`${task} ${paused ? 'paused' : 'resumed'}${note === null ? '' : `: ${note}`}`);
  return 0;
}
