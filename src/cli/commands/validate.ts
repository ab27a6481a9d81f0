import { parseArgs } from 'node:util';
import { findConfigFile } from '../../config/load.ts';
import { describeStore } from '../../config/open-store.ts';
import { prepareDaemon } from '../../daemon/daemon.ts';
import { type CliIo, CONFIG_OPTIONS } from '../context.ts';

export const VALIDATE_HELP = `Usage: caretaker validate [--config FILE] [--json]

Checks a config file as caretaker run does before it starts, without opening the store or a
port: every problem on its own line, naming the field and the fix. Task modules are imported
(their top-level code runs) to check that they export a handler. Exit 0 when valid, 2 when not.`;

/** `caretaker validate`: the checks of `run`, shared through {@link prepareDaemon}. */
export async function validateCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: [...argv], options: CONFIG_OPTIONS, strict: true });
  if (values.help === true) {
    io.out(VALIDATE_HELP);
    return 0;
  }
  const { config } = await prepareDaemon({ file: findConfigFile(values.config, io.cwd), env: io.env });
  if (values.json === true) io.out(JSON.stringify({ ok: true, file: config.file, store: describeStore(config.store), tasks: config.tasks.map((t) => t.name) }));
  else io.out(`${config.file}: valid; ${config.tasks.length} task${config.tasks.length === 1 ? '' : 's'} on ${describeStore(config.store)}`);
  return 0;
}
