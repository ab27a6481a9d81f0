import type { CliIo } from '../../src/cli/context.ts';

/** CLI channels for a test: what a command printed to stdout (`lines`) and stderr (`errors`). */
export function io(cwd: string): CliIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l), cwd, env: {}, stdout: process.stdout };
}
