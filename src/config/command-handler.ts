import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TaskHandler } from '../engine/task.ts';
import { CaretakerError, ErrorCode } from '../util/errors.ts';
import { DEFAULT_ABORT_GRACE_MS } from '../engine/task-options.ts';
import { OutputLines } from './output-lines.ts';
import { ProcessGroup } from './process-group.ts';
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

/** How long after the leader exits its output may still arrive: only a process out of reach (see `ProcessGroup`) can hold the pipes longer. */
const DRAIN_MS = 200;

/**
 * A handler that runs a program: no shell unless `shell` is set, so arguments are never
 * re-parsed. The program leads a process group and a session of its own, and no process of it
 * outlives the run, including those that moved to a group of their own (on Linux; see
 * `ProcessGroup` for the one way out): aborting the run (timeout, cancel, replace, shutdown)
 * sends SIGTERM and SIGKILL shortly before `abortGraceMs` has passed, when the engine would
 * abandon the handler; and when the program exits by itself, whatever it left running in the
 * background gets the same SIGTERM, then SIGKILL, before the run settles (a finished run leaves
 * nothing running).
 */
export function commandHandler(spec: CommandSpec, options: { readonly abortGraceMs?: number } = {}): TaskHandler {
  const abortGraceMs = options.abortGraceMs ?? DEFAULT_ABORT_GRACE_MS;
  return (ctx) =>
    new Promise<CommandOutput>((resolve, reject) => {
      // An 'abort' listener added now would never fire: do not start a program nothing can stop.
      if (ctx.signal.aborted) {
        reject(ctx.signal.reason);
        return;
      }
      const [program, ...args] = spec.argv as [string, ...string[]];
      // `detached` only makes the child a group leader: it is not unref'd, and its pipes stay ours.
      const child = spawn(program, args, { cwd: spec.cwd, env: { ...process.env, ...spec.env }, shell: spec.shell, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      const group = child.pid !== undefined ? new ProcessGroup(child.pid, abortGraceMs) : null;
      const stdout = new Tail(spec.maxOutputBytes);
      const stderr = new Tail(spec.maxOutputBytes);
      // Each line also goes to the run's log as it comes (stderr as warnings), not to the daemon's log.
      const outLines = new OutputLines((line) => ctx.log(line, 'info'));
      const errLines = new OutputLines((line) => ctx.log(line, 'warn'));
      child.stdout.on('data', (c: Buffer) => {
        stdout.push(c);
        outLines.push(c);
      });
      child.stderr.on('data', (c: Buffer) => {
        stderr.push(c);
        errLines.push(c);
      });
      const closed = new Promise<void>((done) => child.once('close', () => done()));
      const onAbort = () => group?.terminate();
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      child.once('error', (error) => {
        ctx.signal.removeEventListener('abort', onAbort);
        void group?.end();
        reject(new CommandFailedError(`cannot run ${program}: ${error.message}`, { exitCode: null, signal: null, stdout: '', stderr: '', truncated: false }));
      });
      // Not 'close': a background process holding stdout would delay it for as long as it runs.
      child.once('exit', (exitCode, signal) => {
        void (async () => {
          await group?.end();
          await Promise.race([closed, sleep(DRAIN_MS, undefined, { ref: false })]);
          child.stdout.destroy();
          child.stderr.destroy();
          outLines.end();
          errLines.end();
          ctx.signal.removeEventListener('abort', onAbort);
          const output: CommandOutput = { exitCode, signal, stdout: stdout.text(), stderr: stderr.text(), truncated: stdout.truncated || stderr.truncated };
          if (ctx.signal.aborted) reject(ctx.signal.reason);
          else if (exitCode === 0) resolve(output);
          else {
            const last = output.stderr.trim().split('\n').at(-1) ?? '';
            reject(new CommandFailedError(`${program} ${signal !== null ? `was killed by ${signal}` : `exited with ${exitCode}`}${last !== '' ? `: ${last}` : ''}`, output));
          }
        })();
      });
    });
}
