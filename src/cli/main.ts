import { readFileSync } from 'node:fs';
import { CaretakerError } from '../util/errors.ts';
import { runDemo } from './demo.ts';
import { runNext } from './next.ts';
import { UsageError } from './usage-error.ts';

const HELP = `Usage: caretaker <command> [options]

Commands:
  next SCHEDULE   print upcoming fire instants of a cron expression or "every 5m"
  demo            run a demo scheduler that prints runs as they happen

Options:
  -h, --help      show help (also after a command: caretaker next --help)
  -v, --version   show the version

Exit codes: 0 ok, 2 usage or configuration error.`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Runs the CLI; resolves with the exit code. Never prints a stack trace for a user mistake. */
export async function main(argv: readonly string[]): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'next':
        return runNext(rest, out);
      case 'demo':
        return await runDemo(out);
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        out(HELP);
        return 0;
      case '-v':
      case '--version':
        out(version());
        return 0;
      default:
        throw new UsageError(`unknown command "${command}"; run caretaker --help for the list`);
    }
  } catch (error) {
    if (error instanceof UsageError || error instanceof CaretakerError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
      process.stderr.write(`caretaker: ${(error as Error).message}\n`);
      return 2;
    }
    throw error;
  }
}
