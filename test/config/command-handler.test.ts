import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CommandOutput, CommandFailedError, commandHandler } from '../../src/config/command-handler.ts';
import { taskDefinitions } from '../../src/config/handlers.ts';
import { loadConfig } from '../../src/config/load.ts';
import { killDelayMs } from '../../src/config/process-group.ts';
import { DEFAULT_ABORT_GRACE_MS } from '../../src/engine/task-options.ts';
import { checkRun, type RunSpec } from '../../src/config/run-spec.ts';
import { createScheduler, memoryStore } from '../../src/index.ts';
import { CaretakerError, RunCancelledError, RunTimeoutError } from '../../src/util/errors.ts';
import type { OptionIssue } from '../../src/util/errors.ts';
import { fakeContext } from '../tasks/context.ts';

/** The Node binary: every command here is `node -e SCRIPT`, so no shell utility is needed. */
const NODE = process.execPath;
/** Prints the arguments after the script as JSON. */
const PRINT_ARGS = 'process.stdout.write(JSON.stringify(process.argv.slice(1)))';
/** SIGKILL follows SIGTERM at the default abortGrace (5 s) minus a margin for the run to settle. */
const KILL_GRACE_MS = killDelayMs(DEFAULT_ABORT_GRACE_MS);

const dir = mkdtempSync(join(tmpdir(), 'caretaker-command-'));
after(() => rmSync(dir, { recursive: true, force: true }));

type CommandSpec = Extract<RunSpec, { kind: 'command' }>;

/** A task's `run: { command, ... }` as the config parses it, relative to `dir`. */
function spec(run: Record<string, unknown>): CommandSpec {
  const issues: OptionIssue[] = [];
  const parsed = checkRun(run, 'tasks.t.run', dir, issues);
  assert.deepEqual(issues, []);
  assert.equal(parsed?.kind, 'command');
  return parsed as CommandSpec;
}

/** Runs the command handler as the engine would, with a context carrying `signal`. */
function run(runOptions: Record<string, unknown>, signal?: AbortSignal, abortGraceMs?: number): Promise<CommandOutput> {
  const handler = commandHandler(spec(runOptions), abortGraceMs !== undefined ? { abortGraceMs } : {});
  return handler(fakeContext(signal !== undefined ? { signal } : {})) as Promise<CommandOutput>;
}

/** `node -e script args...` as a `run` section. */
function node(script: string, ...args: string[]): { command: string[] } {
  return { command: [NODE, '-e', script, ...args] };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return assert.fail('expected the command to fail');
}

/** Waits for a file a child writes once it is ready (renamed into place, so never half-written). */
async function waitForFile(file: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  while (!existsSync(file)) {
    if (Date.now() > deadline) assert.fail(`the child never wrote ${file}`);
    await sleep(10);
  }
  return readFileSync(file, 'utf8');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

let fileCount = 0;
function freshFile(name: string): string {
  fileCount++;
  return join(dir, `${name}-${fileCount}`);
}

/**
 * A child that writes its pid to argv[1] when ready, records SIGTERM in argv[2], and then
 * either exits (obeying) or carries on (ignoring), and otherwise runs forever.
 */
const LONG_RUNNING = `
const fs = require('node:fs');
const [ready, term, mode] = process.argv.slice(1);
process.on('SIGTERM', () => {
  fs.writeFileSync(term, 'SIGTERM');
  if (mode === 'obey') process.exit(143);
});
setInterval(() => {}, 1000);
fs.writeFileSync(ready + '.tmp', String(process.pid));
fs.renameSync(ready + '.tmp', ready);
`;

describe('command tasks: exit status and output', () => {
  it('exit 0: the output records the exit code and what was printed on stdout and stderr', async () => {
    const output = await run(node('process.stdout.write("hello out\\n"); process.stderr.write("a warning\\n")'));
    assert.deepEqual(output, { exitCode: 0, signal: null, stdout: 'hello out\n', stderr: 'a warning\n', truncated: false });
  });

  it('each line it prints goes to the run\'s log as it comes: stdout as info, stderr as warn, the unterminated last line too', async () => {
    const ctx = fakeContext();
    const script = 'process.stdout.write("one\\r\\ntwo\\n"); process.stderr.write("careful\\n"); setTimeout(() => process.stdout.write("thr"), 20); setTimeout(() => process.stdout.write("ee"), 40)';
    await commandHandler(spec(node(script)))(ctx);
    const stdout = ctx.lines.filter((l) => l.level === 'info').map((l) => l.message);
    assert.deepEqual(stdout, ['one', 'two', 'three']);
    assert.deepEqual(ctx.lines.filter((l) => l.level === 'warn').map((l) => l.message), ['careful']);
  });

  it('a non-zero exit throws CommandFailedError (code ERR_COMMAND_FAILED) naming the status and the last stderr line', async () => {
    const error = await rejection(run(node('console.log("partial"); console.error("line 1"); console.error("fatal: disk full"); process.exit(3)')));
    assert.ok(error instanceof CommandFailedError, String(error));
    assert.ok(error instanceof CaretakerError);
    assert.equal(error.code, 'ERR_COMMAND_FAILED');
    assert.equal(error.message, `${NODE} exited with 3: fatal: disk full`);
    assert.deepEqual(error.output, { exitCode: 3, signal: null, stdout: 'partial\n', stderr: 'line 1\nfatal: disk full\n', truncated: false });
  });

  it('a non-zero exit with nothing on stderr: the message is just the status', async () => {
    const error = await rejection(run(node('process.exitCode = 1')));
    assert.ok(error instanceof CommandFailedError);
    assert.equal(error.message, `${NODE} exited with 1`);
    assert.equal(error.output.exitCode, 1);
  });

  it('a program killed by a signal (not by Caretaker) fails naming the signal', async () => {
    const error = await rejection(run(node('console.error("going down"); process.kill(process.pid, "SIGKILL")')));
    assert.ok(error instanceof CommandFailedError);
    assert.equal(error.code, 'ERR_COMMAND_FAILED');
    assert.equal(error.message, `${NODE} was killed by SIGKILL: going down`);
    assert.equal(error.output.exitCode, null);
    assert.equal(error.output.signal, 'SIGKILL');
  });

  it('a program that does not exist fails with CommandFailedError, not a crash', async () => {
    const error = await rejection(run({ command: ['/nonexistent/caretaker-no-such-program', '--flag'] }));
    assert.ok(error instanceof CommandFailedError, String(error));
    assert.equal(error.code, 'ERR_COMMAND_FAILED');
    assert.match(error.message, /^cannot run \/nonexistent\/caretaker-no-such-program: spawn .*ENOENT$/);
    assert.deepEqual(error.output, { exitCode: null, signal: null, stdout: '', stderr: '', truncated: false });
  });

  it('stdin is empty (not inherited): a program reading it sees end of input at once', async () => {
    const output = await run(node('let n = 0; process.stdin.on("data", (c) => { n += c.length; }).on("end", () => process.stdout.write("eof after " + n))'));
    assert.equal(output.stdout, 'eof after 0');
  });
});

describe('command tasks: output bound (maxOutput bytes, the end kept)', () => {
  /** 1000 numbered lines of 10 bytes, printed in many writes. */
  const LINES = 'for (let i = 0; i < 1000; i++) process[process.argv[1]].write("line " + String(i).padStart(4, "0") + "\\n")';
  const ALL = Array.from({ length: 1000 }, (_, i) => `line ${String(i).padStart(4, '0')}\n`).join('');

  it('stdout beyond maxOutput keeps the last maxOutput bytes and sets truncated', async () => {
    const output = await run({ ...node(LINES, 'stdout'), maxOutput: 100 });
    assert.equal(output.stdout, ALL.slice(-100));
    assert.equal(output.stdout, Array.from({ length: 10 }, (_, i) => `line 0${990 + i}\n`).join(''));
    assert.equal(output.truncated, true);
    assert.equal(output.stderr, '');
  });

  it('on failure the stderr tail is kept, and its last line is in the message', async () => {
    const error = await rejection(run({ ...node(`${LINES}; process.exitCode = 2`, 'stderr'), maxOutput: 55 }));
    assert.ok(error instanceof CommandFailedError);
    assert.equal(error.output.stderr, ALL.slice(-55));
    assert.equal(error.output.truncated, true);
    assert.equal(error.message, `${NODE} exited with 2: line 0999`);
  });

  it('exactly maxOutput bytes is not truncated; one byte more drops the first byte', async () => {
    const exact = await run({ ...node('process.stdout.write("0123456789")'), maxOutput: 10 });
    assert.deepEqual([exact.stdout, exact.truncated], ['0123456789', false]);
    const over = await run({ ...node('process.stdout.write("0123456789X")'), maxOutput: 10 });
    assert.deepEqual([over.stdout, over.truncated], ['123456789X', true]);
  });

  it('the default bound is 64 KiB', async () => {
    assert.equal(spec(node('')).maxOutputBytes, 65_536);
    const output = await run(node('process.stdout.write("a".repeat(70000) + "END")'));
    assert.equal(output.stdout.length, 65_536);
    assert.ok(output.stdout.endsWith('aaaEND'));
    assert.equal(output.truncated, true);
  });

  it('maxOutput: 0 keeps nothing but still says output was dropped', async () => {
    const output = await run({ ...node('process.stdout.write("x")'), maxOutput: 0 });
    assert.deepEqual([output.stdout, output.truncated, output.exitCode], ['', true, 0]);
  });

  it('a cut inside a multi-byte character starts the kept text at the next whole character', async () => {
    // 9 × "é" (2 bytes each) + "a" = 19 bytes; the last 10 begin with the second byte of an "é".
    const output = await run({ ...node('process.stdout.write("é".repeat(9) + "a")'), maxOutput: 10 });
    assert.equal(output.stdout, 'ééééa');
    assert.equal(output.truncated, true);
  });
});

describe('command tasks: arguments, shell, cwd and env', () => {
  it('an argv array runs without a shell: ; $HOME | * and quotes arrive literally', async () => {
    const args = ['a; echo injected', '$HOME', '`id`', '|', '*', "it's", '&&', ''];
    const output = await run(node(PRINT_ARGS, ...args));
    assert.deepEqual(JSON.parse(output.stdout), args);
  });

  it('a command string is split without a shell: quotes group, nothing is expanded', async () => {
    const output = await run({ command: `"${NODE}" -e "${PRINT_ARGS}" 'a; b' $HOME "x  y" *` });
    assert.deepEqual(JSON.parse(output.stdout), ['a; b', '$HOME', 'x  y', '*']);
  });

  it('shell: true interprets the line: variables and arithmetic expand, ; runs a second command', async () => {
    const output = await run({
      command: `"${NODE}" -e "${PRINT_ARGS}" "$CARETAKER_TEST_WORD" $((6 * 7)); "${NODE}" -e "process.stdout.write('|second')"`,
      shell: true,
      env: { CARETAKER_TEST_WORD: 'from env' },
    });
    assert.equal(output.stdout, '["from env","42"]|second');
  });

  it('shell: true with an argv array is refused when the config is read', () => {
    const issues: OptionIssue[] = [];
    assert.equal(checkRun({ command: [NODE, '-v'], shell: true }, 'tasks.t.run', dir, issues), null);
    assert.equal(issues.length, 1);
    assert.equal(issues[0]?.path, 'tasks.t.run.command');
    assert.match(issues[0]?.fix ?? '', /with shell: true give one command line as a string/);
  });

  it('cwd is relative to the config directory, which is also the default', async () => {
    mkdirSync(join(dir, 'work'), { recursive: true });
    const inSub = await run({ ...node('process.stdout.write(process.cwd())'), cwd: 'work' });
    assert.equal(inSub.stdout, realpathSync(join(dir, 'work')));
    const byDefault = await run(node('process.stdout.write(process.cwd())'));
    assert.equal(byDefault.stdout, realpathSync(dir));
  });

  it('a cwd that does not exist fails the run with CommandFailedError', async () => {
    const error = await rejection(run({ ...node(''), cwd: 'no-such-dir' }));
    assert.ok(error instanceof CommandFailedError, String(error));
    assert.match(error.message, /^cannot run .*ENOENT/);
  });

  it('env adds to and overrides the environment inherited from Caretaker', async () => {
    process.env.CARETAKER_TEST_INHERITED = 'parent';
    process.env.CARETAKER_TEST_OVERRIDDEN = 'parent';
    try {
      const output = await run({
        ...node('const e = process.env; process.stdout.write(JSON.stringify([e.CARETAKER_TEST_INHERITED, e.CARETAKER_TEST_OVERRIDDEN, e.CARETAKER_TEST_ADDED, e.PATH]))'),
        env: { CARETAKER_TEST_OVERRIDDEN: 'task', CARETAKER_TEST_ADDED: 'added' },
      });
      assert.deepEqual(JSON.parse(output.stdout), ['parent', 'task', 'added', process.env.PATH]);
    } finally {
      delete process.env.CARETAKER_TEST_INHERITED;
      delete process.env.CARETAKER_TEST_OVERRIDDEN;
    }
  });
});

describe('command tasks: aborting the run (timeout, cancel, shutdown)', () => {
  it('SIGTERM first: a program that exits on it ends the run at once, rejecting with the abort reason', async () => {
    const ready = freshFile('ready');
    const term = freshFile('term');
    const controller = new AbortController();
    const pending = run(node(LONG_RUNNING, ready, term, 'obey'), controller.signal);
    const pid = Number(await waitForFile(ready));
    assert.equal(alive(pid), true);
    const reason = new RunCancelledError('cancelled');
    const abortedAt = Date.now();
    controller.abort(reason);
    const error = await rejection(pending);
    const elapsed = Date.now() - abortedAt;
    assert.equal(error, reason, 'the run ends with the signal reason, not a CommandFailedError');
    assert.equal(readFileSync(term, 'utf8'), 'SIGTERM', 'the program received SIGTERM');
    assert.ok(elapsed < KILL_GRACE_MS - 1_000, `ended ${elapsed} ms after the abort, without waiting for the SIGKILL grace`);
    assert.equal(alive(pid), false);
  });

  it('a program that ignores SIGTERM is killed with SIGKILL a margin before abortGrace ends', { timeout: 20_000 }, async () => {
    const abortGraceMs = 1_000;
    const killAfter = killDelayMs(abortGraceMs);
    assert.ok(killAfter > 500 && killAfter < abortGraceMs, String(killAfter));
    const ready = freshFile('ready');
    const term = freshFile('term');
    const controller = new AbortController();
    const pending = run(node(LONG_RUNNING, ready, term, 'ignore'), controller.signal, abortGraceMs);
    const pid = Number(await waitForFile(ready));
    const reason = new RunTimeoutError(1_000);
    const abortedAt = Date.now();
    controller.abort(reason);
    await waitForFile(term); // SIGTERM arrived and was ignored
    assert.equal(alive(pid), true, 'still running after SIGTERM');
    const error = await rejection(pending);
    const elapsed = Date.now() - abortedAt;
    assert.equal(error, reason);
    assert.ok(elapsed >= killAfter - 50, `killed after ${elapsed} ms, before the grace`);
    assert.ok(elapsed < killAfter + 10_000, `killed after ${elapsed} ms`);
    assert.equal(alive(pid), false, 'SIGKILL ended it');
  });

  it('without abortGrace the SIGKILL comes 4 s after SIGTERM (default abortGrace 5 s, minus 1 s to settle)', () => {
    assert.equal(KILL_GRACE_MS, 4_000);
    assert.equal(killDelayMs(0), 0);
  });

  it('a signal aborted before the handler is called starts no program', async () => {
    const marker = freshFile('started');
    const reason = new RunCancelledError('cancelled');
    const error = await rejection(run(node('require("node:fs").writeFileSync(process.argv[1], "ran")', marker), AbortSignal.abort(reason)));
    assert.equal(error, reason);
    assert.equal(existsSync(marker), false, 'the program ran although the run was already aborted');
  });
});

describe('command tasks from a config file, on a real scheduler', () => {
  it('succeeded, failed (ERR_COMMAND_FAILED) and timed_out (SIGTERM sent) runs', { timeout: 60_000 }, async () => {
    const ready = freshFile('ready');
    const term = freshFile('term');
    const file = join(dir, 'caretaker.config.json');
    const later = { every: '1d', initialDelay: '1d' };
    writeFileSync(
      file,
      JSON.stringify({
        store: 'memory',
        tasks: {
          ok: { schedule: later, run: { command: [NODE, '-e', 'console.log("done")'] } },
          broken: { schedule: later, run: { command: [NODE, '-e', 'console.error("no space left"); process.exit(4)'] } },
          slow: { schedule: later, timeout: '500ms', run: { command: [NODE, '-e', LONG_RUNNING, ready, term, 'obey'] } },
        },
      }),
    );
    const config = loadConfig({ file, env: {} });
    const scheduler = createScheduler({ store: memoryStore() });
    for (const definition of await taskDefinitions(config.tasks)) scheduler.add(definition);
    await scheduler.start();
    try {
      const ids = { ok: await scheduler.trigger('ok'), broken: await scheduler.trigger('broken'), slow: await scheduler.trigger('slow') };
      await scheduler.onIdle();
      const ok = await scheduler.getRun(ids.ok);
      assert.equal(ok?.status, 'succeeded');
      assert.deepEqual(ok?.output, { exitCode: 0, signal: null, stdout: 'done\n', stderr: '', truncated: false });
      const broken = await scheduler.getRun(ids.broken);
      assert.equal(broken?.status, 'failed');
      assert.equal(broken?.error?.code, 'ERR_COMMAND_FAILED');
      assert.equal(broken?.error?.message, `${NODE} exited with 4: no space left`);
      const slow = await scheduler.getRun(ids.slow);
      assert.equal(slow?.status, 'timed_out');
      assert.equal(slow?.error?.code, 'ERR_RUN_TIMEOUT');
      assert.equal(readFileSync(term, 'utf8'), 'SIGTERM', 'the timeout sent SIGTERM to the program');
      assert.equal(alive(Number(readFileSync(ready, 'utf8'))), false);
    } finally {
      await scheduler.stop({ timeout: '10s' });
    }
  });
});
