/**
 * However the process running command tasks ends (the daemon's stop deadline passes, an
 * uncaught exception, process.exit), the commands' process groups end with it: a grandchild
 * that ignores SIGTERM, under an abortGrace far longer than the test, is gone.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { killTrees, leftOf, skipUnlessLinux, type Tree, TreeDir } from '../config/process-tree.ts';

const CHILD = fileURLToPath(new URL('./command-exit-child.ts', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/caretaker.js', import.meta.url));
const HOOK = new URL('../cli/fixtures/run-process/dist-to-src.mjs', import.meta.url).href;

/** Each test: generous for real processes on a busy machine, yet a hang fails instead of stalling the run. */
const EACH = { timeout: 15_000 };
const trees = new TreeDir();
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  killTrees();
});
after(() => trees.remove());

/** The config: task `tree` runs the wrapper; only the exit of the process can end it in time. */
function config(schedule: Record<string, unknown>): string {
  const file = join(trees.dir, 'caretaker.config.json');
  const tree = { schedule, abortGrace: '60s', run: { command: trees.waiting(), shell: true } };
  writeFileSync(file, JSON.stringify({ store: 'memory', http: { enabled: false }, tasks: { tree } }));
  return file;
}

interface Started {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  output(): string;
  /** The command's tree, once up; fails if the process exits first. */
  tree(): Promise<Tree>;
}

function start(args: readonly string[]): Started {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CARETAKER_') && !k.startsWith('NODE_')));
  const child = spawn(process.execPath, ['--conditions=caretaker-source', ...args], { cwd: trees.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const early = exited.then((code) => assert.fail(`exited (${code}) before the command started:\n${output}`));
  return { child, exited, output: () => output, tree: () => Promise.race([trees.next(), early]) };
}

/** What of the tree runs once the process has exited; SIGKILL was sent at its exit, and takes a moment. */
async function leftAfterExit(exited: Promise<number | null>, tree: Tree): Promise<{ code: number | null; left: string[] }> {
  const code = await Promise.race([exited, sleep(8_000, undefined, { ref: false }).then(() => assert.fail('the process did not exit'))]);
  const deadline = Date.now() + 1_000;
  while (leftOf(tree).length > 0 && Date.now() < deadline) await sleep(20);
  return { code, left: leftOf(tree) };
}

describe('command groups end with the process', { skip: skipUnlessLinux }, () => {
  for (const [how, expected] of [
    ['throw', 1],
    ['exit', 3],
  ] as const) {
    it(`${how === 'throw' ? 'an uncaught exception' : 'process.exit(3)'} in a process running a command task: its grandchild is gone`, EACH, async () => {
      const proc = start([CHILD, config({ every: '1d', initialDelay: '1d' }), trees.dir, how]);
      const tree = await proc.tree();
      const { code, left } = await leftAfterExit(proc.exited, tree);
      assert.equal(code, expected, proc.output());
      assert.deepEqual(left, [], 'still running after the process exited');
    });
  }

  it('caretaker run: the stop deadline passes with the command still running; the daemon exits and its grandchild is gone', EACH, async () => {
    config({ every: '1d' });
    const proc = start(['--import', HOOK, BIN, 'run', '--stop-timeout', '300ms', '--log-format', 'json']);
    const tree = await proc.tree();
    proc.child.kill('SIGTERM');
    const { code, left } = await leftAfterExit(proc.exited, tree);
    assert.equal(code, 0, proc.output());
    assert.match(proc.output(), /stopped: interrupted tree/);
    assert.deepEqual(left, [], 'still running after the daemon exited');
  });
});
