import { spawn } from 'node:child_process';
import type { TaskHandler } from '../engine/task.ts';
import { CaretakerError, ErrorCode } from '../util/errors.ts';
import type { RunSpec } from './run-spec.ts';

type CommandSpec = Extract<RunSpec, { kind: 'command' }>;

/** What a command run records as its output. */
export interface CommandOutput {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  /** True when output beyond `maxOutput` bytes was dropped (the end is kept: that is where errors are). */
  readonly truncated: boolean;
}

/** A command exited non-zero or was killed; `output` holds what it printed. */
export class CommandFailedError extends CaretakerError {
  readonly output: CommandOutput;
  constructor(message: string, output: CommandOutput) {
    super(ErrorCode.CommandFailed, message);
    this.output = output;
  }
}

/** Keeps the last `limit` bytes of a stream. */
class Tail {
  #chunks: Buffer[] = [];
  #size = 0;
  truncated = false;
  readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
  }
  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size > this.limit && this.#chunks.length > 0) {
      const first = this.#chunks[0] as Buffer;
      const excess = this.#size - this.limit;
      this.truncated = true;
      if (first.length <= excess) {
        this.#chunks.shift();
        this.#size -= first.length;
      } else {
        this.#chunks[0] = first.subarray(excess);
        this.#size -= excess;
      }
    }
  }
  text(): string {
    const bytes = Buffer.concat(this.#chunks);
    // A cut inside a UTF-8 character would decode to U+FFFD: start at the next whole character.
    let start = 0;
    if (this.truncated) while (start < 3 && ((bytes[start] ?? 0) & 0xc0) === 0x80) start++;
    return bytes.subarray(start).toString('utf8');
  }
}

/** How long a command gets after SIGTERM (on timeout or cancel) before SIGKILL. */
const KILL_GRACE_MS = 5_000;

/**
 * A handler that runs a program: no shell unless `shell` is set, so arguments are never
 * re-parsed. Aborting the run (timeout, cancel, shutdown) sends SIGTERM, then SIGKILL.
 */
export function commandHandler(spec: CommandSpec): TaskHandler {
  return (ctx) =>
    new Promise<CommandOutput>((resolve, reject) => {
      // An 'abort' listener added now would never fire: do not start a program nothing can stop.
      if (ctx.signal.aborted) {
        reject(ctx.signal.reason);
        return;
      }
      const [program, ...args] = spec.argv as [string, ...string[]];
      const child = spawn(program, args, { cwd: spec.cwd, env: { ...process.env, ...spec.env }, shell: spec.shell, stdio: ['ignore', 'pipe', 'pipe'] });
      const stdout = new Tail(spec.maxOutputBytes);
      const stderr = new Tail(spec.maxOutputBytes);
      child.stdout.on('data', (c: Buffer) => stdout.push(c));
      child.stderr.on('data', (c: Buffer) => stderr.push(c));
      let killTimer: NodeJS.Timeout | undefined;
      const onAbort = () => {
        child.kill('SIGTERM');
        killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
        killTimer.unref();
      };
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      child.once('error', (error) => {
        ctx.signal.removeEventListener('abort', onAbort);
        reject(new CommandFailedError(`cannot run ${program}: ${error.message}`, { exitCode: null, signal: null, stdout: '', stderr: '', truncated: false }));
      });
      child.once('close', (exitCode, signal) => {
        ctx.signal.removeEventListener('abort', onAbort);
        clearTimeout(killTimer);
        const output: CommandOutput = { exitCode, signal, stdout: stdout.text(), stderr: stderr.text(), truncated: stdout.truncated || stderr.truncated };
        if (ctx.signal.aborted) reject(ctx.signal.reason);
        else if (exitCode === 0) resolve(output);
        else {
          const last = output.stderr.trim().split('\n').at(-1) ?? '';
          reject(new CommandFailedError(`${program} ${signal !== null ? `was killed by ${signal}` : `exited with ${exitCode}`}${last !== '' ? `: ${last}` : ''}`, output));
        }
      });
    });
}
