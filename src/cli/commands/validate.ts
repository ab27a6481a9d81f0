import { parseArgs } from 'node:util';
import { describeStore } from '../../config/open-store.ts';
import { InvalidOptionError } from '../../util/errors.ts';
import { type CliIo, CONFIG_OPTIONS, commandConfig } from '../context.ts';

export const VALIDATE_HELP = `Usage: caretaker validate [--config FILE] [--json]

Checks a config file without starting anything: every problem on its own line, naming the
field and the fix. Exit 0 when valid, 2 when not.`;

/** `caretaker validate`. */
export async function validateCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: [...argv], options: CONFIG_OPTIONS, strict: true });
  if (values.help === true) {
    io.out(VALIDATE_HELP);
    return 0;
  }
  try {
    const config = commandConfig(values.config, io);
    if (values.json === true) io.out(JSON.stringify({ ok: true, file: config.file, store: describeStore(config.store), tasks: config.tasks.map((t) => t.name) }));
    else io.out(`${config.file}: valid; ${config.tasks.length} task${config.tasks.length === 1 ? '' : 's'} on ${describeStore(config.store)}`);
    return 0;
  } catch (error) {
    if (!(error instanceof InvalidOptionError)) throw error;
    if (values.json === true) io.out(JSON.stringify({ ok: false, problems: error.issues }));
    else {
      io.err(`${error.issues.length} problem${error.issues.length === 1 ? '' : 's'}:`);
      for (const issue of error.issues) io.err(`${issue.path}: received ${issue.received}; ${issue.fix}`);
    }
    return 2;
  }
}
