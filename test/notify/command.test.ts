/** Command channels running real programs (`node -e SCRIPT`, so no shell utility is needed). */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { commandChannel } from '../../src/notify/channels.ts';
import { genericBody } from '../../src/notify/event.ts';
import { running, skipUnlessLinux } from '../config/process-tree.ts';
import { FAILED as EVENT, failure, signal } from './fixtures.ts';

const NODE = process.execPath;

const dir = mkdtempSync(join(tmpdir(), 'caretaker-notify-command-'));
/** Every pid a test command reported, killed at the end whatever happened. */
const pids: number[] = [];
after(() => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

let count = 0;
const freshFile = (name: string) => join(dir, `${name}-${++count}`);

/** A command channel running `node -e script args...`. */
const node = (script: string, args: readonly string[] = [], timeoutMs = 10_000) => commandChannel('pager', { kind: 'command', argv: [NODE, '-e', script, ...args], timeoutMs });


/** Waits for a file a child writes once it is ready (renamed into place, so never half-written). */
async function waitForFile(file: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  while (!existsSync(file)) {
    if (Date.now() > deadline) assert.fail(`the child never wrote ${file}`);
    await sleep(10);
  }
  return readFileSync(file, 'utf8');
}

/** Writes `text` to the file in argv[1] atomically. */
const WRITE_READY = `const ready = (text) => { fs.writeFileSync(process.argv[1] + '.tmp', text); fs.renameSync(process.argv[1] + '.tmp', process.argv[1]); };`;

/**
 * Starts a child of its own (in its process group) that runs for ever, writes both pids to
 * argv[1], and then runs for ever itself, ignoring SIGTERM when argv[2] is `ignore`.
 */
const TREE = `
const fs = require('node:fs');
const { spawn } = require('node:child_process');
${WRITE_READY}
if (process.argv[2] === 'ignore') process.on('SIGTERM', () => {});
const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
ready(JSON.stringify([process.pid, child.pid]));
setInterval(() => {}, 1000);
`;

describe('command channel: what the program gets', () => {
  it('the event as JSON (the generic body, version 1) on stdin, then end of input', async () => {
    const out = freshFile('stdin');
    const script = `let d = ''; process.stdin.setEncoding('utf8').on('data', (c) => (d += c)).on('end', () => require('node:fs').writeFileSync(process.argv[1], d));`;
    await node(script, [out]).send(EVENT, signal());
    const received = JSON.parse(readFileSync(out, 'utf8')) as unknown;
    assert.deepEqual(received, JSON.parse(JSON.stringify(genericBody(EVENT))));
    assert.equal((received as { version: number }).version, 1);
  });

  it('arguments are passed as they are, without a shell', async () => {
    const out = freshFile('argv');
    await node(`require('node:fs').writeFileSync(process.argv[1], JSON.stringify(process.argv.slice(2)))`, [out, '$HOME', '; rm -rf /', '"quoted"']).send(EVENT, signal());
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), ['$HOME', '; rm -rf /', '"quoted"']);
  });

  it('a program that does not read stdin and exits at once is delivered: EPIPE is ignored', async () => {
    // 4 MB of event: far more than a pipe holds, so the write meets a closed pipe.
    const big = { ...EVENT, task: 'x'.repeat(4_000_000) };
    await node('process.exit(0)').send(big, signal());
    await node(`require('node:fs').closeSync(0); setTimeout(() => {}, 100)`).send(big, signal());
  });
});

describe('command channel: failures', () => {
  it('exit 3: a retryable error with the exit code, the last stderr line, and the last 2 KB of stderr', async () => {
    const script = `process.stderr.write('noise\\n'.repeat(1000)); process.stderr.write('fatal: pager service down\\n'); process.exit(3)`;
    const error = await failure(node(script).send(EVENT, signal()));
    assert.equal(error.reason, 'exit');
    assert.equal(error.retryable, true);
    assert.equal(error.exitCode, 3);
    assert.equal(error.signal, null);
    assert.equal(error.channel, 'pager');
    assert.equal(error.message, `command "pager": ${NODE} exited with 3: fatal: pager service down`);
    assert.ok(error.stderr !== null && Buffer.byteLength(error.stderr) <= 2_048 && Buffer.byteLength(error.stderr) > 2_000, String(error.stderr?.length));
    assert.ok(error.stderr.endsWith('noise\nfatal: pager service down\n'));
  });

  it('the message names the program, never its arguments (they may hold a token)', async () => {
    const error = await failure(node('process.exit(1)', ['--', '--token=SECRET']).send(EVENT, signal()));
    assert.equal(error.message, `command "pager": ${NODE} exited with 1`);
  });

  it('killed by a signal: retryable, naming the signal', async () => {
    const error = await failure(node(`console.error('going down'); process.kill(process.pid, 'SIGKILL')`).send(EVENT, signal()));
    assert.equal(error.reason, 'exit');
    assert.equal(error.retryable, true);
    assert.equal(error.signal, 'SIGKILL');
    assert.equal(error.exitCode, null);
    assert.match(error.message, /was killed by SIGKILL: going down$/);
  });

  it('a program that does not exist: a spawn error, not retryable', async () => {
    const error = await failure(commandChannel('pager', { kind: 'command', argv: [join(dir, 'no-such-program')], timeoutMs: 5_000 }).send(EVENT, signal()));
    assert.equal(error.reason, 'spawn');
    assert.equal(error.retryable, false);
    assert.match(error.message, /cannot run .*no-such-program: .*ENOENT/);
  });
});

describe('command channel: nothing of it outlives the attempt', { skip: skipUnlessLinux }, () => {
  it('past the timeout, the program (ignoring SIGTERM) and the child it started are killed; a retryable timeout error', async () => {
    const ready = freshFile('tree');
    const startedAt = Date.now();
    const pending = node(TREE, [ready, 'ignore'], 1_000).send(EVENT, signal());
    const tree = JSON.parse(await waitForFile(ready)) as number[];
    pids.push(...tree);
    const error = await failure(pending);
    const took = Date.now() - startedAt;
    assert.equal(error.reason, 'timeout');
    assert.equal(error.retryable, true);
    assert.equal(error.message, `command "pager": ${NODE} did not finish within 1s`);
    assert.equal(error.signal, 'SIGKILL', 'it ignored SIGTERM');
    assert.deepEqual(tree.filter(running), [], 'still running when the send failed');
    assert.ok(took >= 1_000 && took < 10_000, `${took} ms`);
  });

  it('the caller\'s abort ends the program and its child at once (SIGTERM) and rejects with the abort reason', async () => {
    const ready = freshFile('tree');
    const controller = new AbortController();
    const pending = node(TREE, [ready, 'obey']).send(EVENT, controller.signal);
    const tree = JSON.parse(await waitForFile(ready)) as number[];
    pids.push(...tree);
    const reason = new Error('scheduler stopping');
    const abortedAt = Date.now();
    controller.abort(reason);
    await assert.rejects(pending, (e) => e === reason);
    assert.deepEqual(tree.filter(running), []);
    assert.ok(Date.now() - abortedAt < 1_400, 'waited for SIGKILL although SIGTERM sufficed');
  });

  it('a program that exits 0 leaving a child behind: the child is ended before the send resolves', async () => {
    const ready = freshFile('tree');
    const script = `
const fs = require('node:fs');
const { spawn } = require('node:child_process');
${WRITE_READY}
const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
child.unref();
ready(String(child.pid));
`;
    await node(script, [ready]).send(EVENT, signal());
    const child = Number(readFileSync(ready, 'utf8'));
    pids.push(child);
    assert.equal(running(child), false, 'the background child outlived the command');
  });

  it('a signal already aborted starts no program', async () => {
    const marker = freshFile('started');
    const reason = new Error('stopped');
    await assert.rejects(node(`require('node:fs').writeFileSync(process.argv[1], 'ran')`, [marker]).send(EVENT, AbortSignal.abort(reason)), (e) => e === reason);
    await sleep(200);
    assert.equal(existsSync(marker), false);
  });
});
