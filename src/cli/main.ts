import { CaretakerError, InvalidOptionError } from '../util/errors.ts';
import { packageVersion } from '../util/package-version.ts';
import { historyCommand } from './commands/history.ts';
import { listCommand } from './commands/list.ts';
import { pauseCommand } from './commands/pause.ts';
import { runCommand } from './commands/run.ts';
import { triggerCommand } from './commands/trigger.ts';
import { validateCommand } from './commands/validate.ts';
import type { CliIo } from './context.ts';
import { runDemo } from './demo.ts';
import { runNext } from './next.ts';
import { UsageError } from './usage-error.ts';

const HELP = `Usage: caretaker <command> [options]

Commands:
  run                 start the daemon with a config file
  validate            check a config file; one line per problem
  list                the configured tasks: schedule, next run, last run
  trigger TASK        run a task now on the daemon sharing the store (--wait for its result)
  history [TASK]      recorded runs, newest first
  pause TASK          pause a task on every instance
  resume TASK         resume it
  next SCHEDULE       upcoming fire instants of a cron expression or "every 5m"
  demo                the daemon on a demo config and data folder (npm start)

Every command takes --help. Config commands take --config FILE (default
caretaker.config.yaml, .yml or .json in the working directory) and --json.

Exit codes: 0 ok, 1 the triggered run did not succeed (trigger --wait), 2 usage or
configuration error.`;

const systemIo = (): CliIo => ({
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  cwd: process.cwd(),
  env: process.env,
  stdout: process.stdout,
});

/** Runs the CLI; resolves with the exit code. Never prints a stack trace for a user mistake. */
export async function main(argv: readonly string[], io: CliIo = systemIo()): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run':
        return await runCommand(rest, io);
      case 'validate':
        return await validateCommand(rest, io);
      case 'list':
        return await listCommand(rest, io);
      case 'trigger':
        return await triggerCommand(rest, io);
      case 'history':
        return await historyCommand(rest, io);
      case 'pause':
      case 'resume':
        return await pauseCommand(command === 'pause', rest, io);
      case 'next':
        return runNext(rest, io.out);
      case 'demo':
        return await runDemo(rest, io);
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        io.out(HELP);
        return 0;
      case '-v':
      case '--version':
        io.out(packageVersion());
        return 0;
      default:
        throw new UsageError(`unknown command "${command}"; run caretaker --help for the list`);
    }
  } catch (error) {
    if (error instanceof InvalidOptionError) {
      io.err(`caretaker: ${error.issues.length === 1 ? 'a problem' : `${error.issues.length} problems`} in ${error.message.split(':')[0]}:`);
      for (const issue of error.issues) io.err(`  ${issue.path}: received ${issue.received}; ${issue.fix}`);
      return 2;
    }
    if (error instanceof UsageError || error instanceof CaretakerError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
      io.err(`caretaker: ${(error as Error).message}`);
      return 2;
    }
    throw error;
  }
}
