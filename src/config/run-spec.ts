import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { sizeField } from '../tasks/options.ts';
import { describeValue, InvalidOptionError, type OptionIssue } from '../util/errors.ts';
import { closestMatch } from '../util/suggest.ts';
import { toOptionIssues } from '../util/zod-issues.ts';
import { BUILTIN_NAMES, builtinFactory } from './builtins.ts';

/** What a config task runs. */
export type RunSpec =
  | { readonly kind: 'builtin'; readonly name: string; readonly options: Readonly<Record<string, unknown>> }
  | { readonly kind: 'module'; readonly file: string; readonly export: string }
  | {
      readonly kind: 'command';
      /** argv[0] is the program; with `shell`, a single shell command line. */
      readonly argv: readonly string[];
      readonly shell: boolean;
      readonly cwd: string;
      readonly env: Readonly<Record<string, string>>;
      readonly maxOutputBytes: number;
    };

/** Output kept per stream is held in memory for every run in flight. */
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;
const COMMAND_FIX = 'give the program and its arguments as a list of strings, e.g. ["pg_dump", "-f", "backup.sql"], or one command line string';
const moduleSchema = z.strictObject({ module: z.string().min(1), export: z.string().min(1).optional() });
const commandSchema = z.strictObject({
  // A message for the union too: zod's own for a list holding a non-string is just "Invalid input".
  command: z.union([z.string().min(1, { message: COMMAND_FIX }), z.array(z.string()).min(1, { message: COMMAND_FIX })], { message: COMMAND_FIX }),
  shell: z.boolean().optional(),
  cwd: z.string().min(1).optional(),
  env: z.record(z.string(), z.string()).optional(),
  maxOutput: sizeField.pipe(z.number().max(MAX_OUTPUT_BYTES, { message: 'must be at most 16MiB' })).optional(),
});

/** Fields of built-in task options that are paths, resolved against the config's directory. */
function resolvePaths(options: Record<string, unknown>, dir: string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...options };
  const abs = (p: unknown) => (typeof p === 'string' && p !== ':memory:' && !isAbsolute(p) ? resolve(dir, p) : p);
  if ('root' in out) out.root = abs(out.root);
  // log-rotation: `files` are relative to its `root` when it has one.
  if ('files' in out && !('root' in out)) out.files = Array.isArray(out.files) ? out.files.map(abs) : abs(out.files);
  if (typeof out.database === 'object' && out.database !== null && 'sqlite' in out.database) {
    out.database = { ...out.database, sqlite: abs((out.database as { sqlite: unknown }).sqlite) };
  }
  return out;
}

/** Splits a command line into argv without a shell: whitespace separates, quotes group. */
export function splitCommand(line: string): string[] {
  const argv: string[] = [];
  let current = '';
  let quote: '"' | "'" | null = null;
  let started = false;
  for (const ch of line) {
    if (quote !== null) {
      if (ch === quote) quote = null;
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      started = true;
    } else if (/\s/.test(ch)) {
      if (started || current !== '') argv.push(current);
      current = '';
      started = false;
    } else {
      current += ch;
    }
  }
  if (started || current !== '') argv.push(current);
  return argv;
}

/**
 * Checks a task's `run`: exactly one of `builtin` (its options validated by the built-in's own
 * factory), `module` (an ESM file, default export the handler) or `command`.
 */
export function checkRun(run: unknown, path: string, dir: string, issues: OptionIssue[]): RunSpec | null {
  const fix = 'give one of { builtin: directory-cleanup, ... }, { module: ./task.js } or { command: ["prog", "arg"] }';
  if (typeof run !== 'object' || run === null || Array.isArray(run)) {
    issues.push({ path, received: describeValue(run), fix: run === undefined ? `is required; ${fix}` : fix });
    return null;
  }
  const kinds = ['builtin', 'module', 'command'].filter((k) => k in run);
  if (kinds.length !== 1) {
    issues.push({ path, received: describeValue(run), fix: kinds.length === 0 ? fix : `give only one of ${kinds.join(', ')}` });
    return null;
  }
  const body = run as Record<string, unknown>;
  if (kinds[0] === 'builtin') {
    const { builtin, ...options } = body;
    if (typeof builtin !== 'string' || !BUILTIN_NAMES.includes(builtin)) {
      const guess = typeof builtin === 'string' ? closestMatch(builtin, BUILTIN_NAMES) : undefined;
      issues.push({ path: `${path}.builtin`, received: describeValue(builtin), fix: guess !== undefined ? `unknown built-in; did you mean "${guess}"?` : `use one of ${BUILTIN_NAMES.join(', ')}` });
      return null;
    }
    const resolved = resolvePaths(options, dir);
    try {
      builtinFactory(builtin)(resolved); // validates; the handler is built again when the daemon starts
    } catch (error) {
      if (!(error instanceof InvalidOptionError)) throw error;
      issues.push(...error.issues.map((i) => ({ ...i, path: `${path}.${i.path}` })));
      return null;
    }
    return { kind: 'builtin', name: builtin, options: resolved };
  }
  if (kinds[0] === 'module') {
    const parsed = moduleSchema.safeParse(body);
    if (!parsed.success) issues.push(...toOptionIssues(parsed.error, body, moduleSchema, path.split('.')));
    // Looked for even when another key is wrong: every problem of the task at once.
    const file = typeof body.module === 'string' && body.module !== '' ? resolve(dir, body.module) : null;
    const found = file !== null && existsSync(file);
    if (file !== null && !found) issues.push({ path: `${path}.module`, received: describeValue(body.module), fix: `no such file (${file}); paths are relative to the config file` });
    return parsed.success && found ? { kind: 'module', file, export: parsed.data.export ?? 'default' } : null;
  }
  const parsed = commandSchema.safeParse(body);
  if (!parsed.success) {
    issues.push(...toOptionIssues(parsed.error, body, commandSchema, path.split('.')));
    return null;
  }
  const shell = parsed.data.shell ?? false;
  const command = parsed.data.command;
  const argv = typeof command === 'string' ? (shell ? [command] : splitCommand(command)) : command;
  if (shell && Array.isArray(command)) {
    issues.push({ path: `${path}.command`, received: describeValue(command), fix: 'with shell: true give one command line as a string' });
    return null;
  }
  return { kind: 'command', argv, shell, cwd: resolve(dir, parsed.data.cwd ?? '.'), env: parsed.data.env ?? {}, maxOutputBytes: parsed.data.maxOutput ?? 64 * 1024 };
}
