import { CaretakerError, InvalidOptionError, type OptionIssue } from '../util/errors.ts';
import { packageVersion } from '../util/package-version.ts';
import { closestMatch } from '../util/suggest.ts';
import { BACKFILL_HELP, backfillCommand } from './commands/backfill.ts';
import { CANCEL_HELP, cancelCommand } from './commands/cancel.ts';
import { HISTORY_HELP, historyCommand } from './commands/history.ts';
import { LIST_HELP, listCommand } from './commands/list.ts';
import { PAUSE_HELP, pauseCommand, RESUME_HELP } from './commands/pause.ts';
import { RESET_HELP, resetCommand, SET_HELP, setCommand } from './commands/set.ts';
import { RETRY_HELP, retryCommand } from './commands/retry.ts';
import { RUN_HELP, runCommand } from './commands/run.ts';
import { SHOW_HELP, showCommand } from './commands/show.ts';
import { TRIGGER_HELP, triggerCommand } from './commands/trigger.ts';
import { VALIDATE_HELP, validateCommand } from './commands/validate.ts';
import type { CliIo } from './context.ts';
import { DEMO_HELP, runDemo } from './demo.ts';
import { NEXT_HELP, runNext } from './next.ts';
import { UsageError } from './usage-error.ts';

const HELP = `Usage: caretaker <command> [options]

Commands:
  run                 start the daemon with a config file
  validate            check a config file as run would; one line per problem
  list                the configured tasks: schedule, next run, last run
  trigger TASK        run a task now on a running instance (--wait for its result; --local: here)
  history [TASK]      recorded runs, newest first
  show RUN            one run's whole record: times, error, output
  cancel RUN          cancel a running run, wherever it runs
  retry RUN           run a finished run's tick again, as its next attempt
  pause TASK          pause a task on every instance
  resume TASK         resume it
  set TASK            change a task's schedule or policies at run time, on every instance
  reset TASK          drop those changes: its config definition applies again
  backfill TASK       run every instant of a past range of its schedule (--list, --cancel ID)
  next SCHEDULE|TASK  upcoming fire instants of a cron expression, "every 5m", or a task
  demo                the daemon on a demo config and data folder (npm start)

Every command takes --help. Config commands take --config FILE (default
caretaker.config.yaml, .yml or .json in the working directory) and --json: output in
JSON on stdout, an error too, as { "error": { "code", "message", "issues"? } }.

Exit codes: 0 ok; 1 the run did not succeed (--wait), no running instance runs the
task (trigger, retry, backfill), or the run or backfill is not running (cancel,
backfill --cancel); 2 usage or configuration error.`;

interface Command {
  /** Its --help text; the options it names are the "did you mean" candidates for a mistyped one. */
  readonly help: string;
  readonly run: (argv: readonly string[], io: CliIo, signals: NodeJS.EventEmitter) => Promise<number> | number;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  run: { help: RUN_HELP, run: runCommand },
  validate: { help: VALIDATE_HELP, run: validateCommand },
  list: { help: LIST_HELP, run: listCommand },
  trigger: { help: TRIGGER_HELP, run: triggerCommand },
  history: { help: HISTORY_HELP, run: historyCommand },
  show: { help: SHOW_HELP, run: showCommand },
  cancel: { help: CANCEL_HELP, run: cancelCommand },
  retry: { help: RETRY_HELP, run: retryCommand },
  pause: { help: PAUSE_HELP, run: (argv, io) => pauseCommand(true, argv, io) },
  resume: { help: RESUME_HELP, run: (argv, io) => pauseCommand(false, argv, io) },
  set: { help: SET_HELP, run: setCommand },
  reset: { help: RESET_HELP, run: resetCommand },
  backfill: { help: BACKFILL_HELP, run: backfillCommand },
  next: { help: NEXT_HELP, run: (argv, io) => runNext(argv, io) },
  demo: { help: DEMO_HELP, run: (argv, io) => runDemo(argv, io) },
};

const systemIo = (): CliIo => ({
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  cwd: process.cwd(),
  env: process.env,
  stdout: process.stdout,
});

/** An error as the CLI reports it, in text or as `{ error }` JSON. */
interface Failure {
  readonly code: string;
  readonly message: string;
  readonly issues?: readonly OptionIssue[];
}

/** The options a command's help text names: the candidates of a "did you mean". */
const optionsIn = (help: string) => [...new Set(help.match(/--[a-z][a-z-]*/g))];

const commandLine = (name: string | undefined) => (name === undefined ? 'caretaker' : `caretaker ${name}`);

function unknownOption(given: string, name: string | undefined): UsageError {
  const guess = closestMatch(given, name === undefined ? ['--help', '--version'] : optionsIn(COMMANDS[name]?.help ?? ''));
  return new UsageError(`unknown option ${given}; ${guess !== undefined ? `did you mean ${guess}?` : `${commandLine(name)} --help lists the options`}`);
}

/** Node's wording for a bad argument, reworded with the fix. */
function argumentFailure(error: Error & { code: string }, name: string | undefined): Failure {
  const given = /'([^']+)'/.exec(error.message)?.[1] ?? '';
  const command = commandLine(name);
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return { code: 'ERR_USAGE', message: unknownOption(given, name).message };
  if (error.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    return { code: 'ERR_USAGE', message: `unexpected argument "${given}"; ${command} takes none (see ${command} --help)` };
  }
  // Missing or unexpected option values: Node's message names the option and what it needs.
  return { code: 'ERR_USAGE', message: `${error.message.charAt(0).toLowerCase()}${error.message.slice(1)}` };
}

/** What went wrong, for the user; null for an error that is a bug (it keeps its stack trace). */
function failure(error: unknown, name: string | undefined): Failure | null {
  if (error instanceof InvalidOptionError) {
    const count = error.issues.length === 1 ? 'a problem' : `${error.issues.length} problems`;
    return { code: error.code, message: `${count} in ${error.message.split(':')[0]}`, issues: error.issues };
  }
  if (error instanceof UsageError || error instanceof CaretakerError) return { code: error.code, message: error.message };
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) return argumentFailure(error as Error & { code: string }, name);
  return null;
}

/** Runs the CLI; resolves with the exit code. Never prints a stack trace for a user mistake. */
export async function main(argv: readonly string[], io: CliIo = systemIo(), signals: NodeJS.EventEmitter = process): Promise<number> {
  const [name, ...rest] = argv;
  const json = (argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv).includes('--json');
  try {
    switch (name) {
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
    }
    if (name.startsWith('-')) throw unknownOption(name, undefined);
    const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (command === undefined) {
      const guess = closestMatch(name, Object.keys(COMMANDS));
      throw new UsageError(`unknown command "${name}"; ${guess !== undefined ? `did you mean "${guess}"?` : 'run caretaker --help for the list'}`);
    }
    return await command.run(rest, io, signals);
  } catch (error) {
    const known = failure(error, name !== undefined && Object.hasOwn(COMMANDS, name) ? name : undefined);
    if (known === null) {
      if (!json) throw error;
      // A bug, not a mistake: the script still gets JSON; the stack goes to stderr for the report.
      io.out(JSON.stringify({ error: { code: 'ERR_INTERNAL', message: error instanceof Error ? error.message : String(error) } }));
      io.err(error instanceof Error ? (error.stack ?? error.message) : String(error));
      return 1;
    }
    if (json) io.out(JSON.stringify({ error: known }));
    else {
      io.err(`caretaker: ${known.message}${known.issues !== undefined ? ':' : ''}`);
      for (const issue of known.issues ?? []) io.err(`  ${issue.path}: received ${issue.received}; ${issue.fix}`);
    }
    return 2;
  }
}
