/**
 * `caretaker run` as a real process: the bin, signals, exit codes, the log it writes and what
 * ends up in the SQLite store. The bin imports the build in dist/; a resolve hook
 * (fixtures/run-process/dist-to-src.mjs) points it at the TypeScript sources instead, so the real
 * bin/caretaker.js is what runs, without `npm run build`.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type RunRecord, sqliteStore } from '../../src/index.ts';
import type { TaskState } from '../../src/store/port.ts';

const BIN = fileURLToPath(new URL('../../bin/caretaker.js', import.meta.url));
const HOOK = new URL('./fixtures/run-process/dist-to-src.mjs', import.meta.url).href;
const WAIT_MS = 20_000;

/** Task handlers, written into each test's directory; the config refers to them as modules. */
const HANDLERS: Record<string, string> = {
  // Quick: returns its tick.
  'tick.mjs': 'export default (ctx) => ({ tick: ctx.scheduledFor.getTime() });\n',
  // Long; on abort it wraps up for 200 ms and returns normally (the work counts as done).
  'wrapup.mjs': `export default (ctx) => new Promise((resolve) => {
  ctx.signal.addEventListener('abort', () => setTimeout(() => resolve({ wrappedUp: true }), 200), { once: true });
});
`,
  // Long; on abort it stops at once by throwing the abort reason.
  'quitter.mjs': `export default (ctx) => new Promise((_, reject) => {
  ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
});
`,
  // Long and deaf to its signal: a stuck handler (a ref'd timer keeps the event loop busy).
  'stubborn.mjs': `export default () => new Promise((resolve) => setTimeout(() => resolve({ late: true }), 120_000));
`,
  // Leaves a rejected promise nobody awaits, then succeeds: a common bug in a task module.
  'stray.mjs': `export default () => { Promise.reject(new Error('stray rejection')); return { ok: true }; };
`,
  // Throws from a timer, outside any run: nothing can catch it.
  'bomb.mjs': `export default () => { setTimeout(() => { throw new Error('timer bomb'); }, 50); return { armed: true }; };
`,
  // Runs until the test creates the file "release" beside it; honours its signal.
  'release.mjs': `import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
const file = new URL('./release', import.meta.url);
export default async (ctx) => {
  while (!existsSync(file)) await sleep(25, undefined, { signal: ctx.signal });
  return { released: true };
};
`,
};

const dirs: string[] = [];
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function workDir(config: string): { dir: string; config: string; db: string } {
  const dir = mkdtempSync(join(tmpdir(), 'caretaker-run-process-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(HANDLERS)) writeFileSync(join(dir, name), text);
  writeFileSync(join(dir, 'caretaker.config.yaml'), config);
  return { dir, config: join(dir, 'caretaker.config.yaml'), db: join(dir, 'state.db') };
}

interface LogLine {
  readonly level: number;
  readonly time: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Date.now() when the process had exited and its output was read to the end. */
  readonly at: number;
}

/** A spawned `caretaker run` with its stdout parsed as JSON log lines. */
class DaemonProcess {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  /** stdout lines that were not JSON (there should be none). */
  readonly other: string[] = [];
  stderr = '';
  exit: Exit | null = null;
  readonly exited: Promise<Exit>;
  readonly #listeners = new Set<() => void>();

  constructor(dir: string, args: readonly string[]) {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CARETAKER_') && !k.startsWith('NODE_')));
    this.child = spawn(process.execPath, ['--conditions=caretaker-source', '--import', HOOK, BIN, 'run', ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(this.child);
    let pending = '';
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const part of parts) {
        if (part.trim() === '') continue;
        try {
          this.lines.push(JSON.parse(part) as LogLine);
        } catch {
          this.other.push(part);
        }
      }
      this.#notify();
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        if (pending.trim() !== '') this.other.push(pending);
        this.exit = { code, signal, at: Date.now() };
        this.#notify();
        resolve(this.exit);
      });
    });
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  /** Index of the first log line at or after `from` that matches. */
  find(match: (line: LogLine) => boolean, from = 0): number {
    for (let i = from; i < this.lines.length; i++) if (match(this.lines[i] as LogLine)) return i;
    return -1;
  }

  /** Waits for a matching log line (at or after index `from`); fails on timeout or exit. */
  waitFor(label: string, match: (line: LogLine) => boolean, from = 0, timeoutMs = WAIT_MS): Promise<{ line: LogLine; index: number }> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const index = this.find(match, from);
        if (index >= 0) {
          done();
          resolve({ line: this.lines[index] as LogLine, index });
        } else if (this.exit !== null) {
          done();
          reject(new Error(`process exited (${JSON.stringify(this.exit)}) before ${label}\n${this.transcript()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${label}\n${this.transcript()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#listeners.delete(check);
      };
      this.#listeners.add(check);
      check();
    });
  }

  /** Waits for the process to end; fails (and kills it) after `timeoutMs`. */
  async waitExit(timeoutMs = WAIT_MS): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        reject(new Error(`the process did not exit within ${timeoutMs} ms\n${this.transcript()}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  signal(signal: NodeJS.Signals): number {
    assert.ok(this.child.kill(signal), `could not send ${signal}`);
    return Date.now();
  }

  transcript(): string {
    return [...this.lines.map((l) => `  ${l.msg}`), ...this.other.map((l) => `  (not JSON) ${l}`), `  stderr: ${this.stderr}`].join('\n');
  }
}

function start(dir: string, config: string, ...args: string[]): DaemonProcess {
  // Debug: the tests follow runs from their start lines.
  return new DaemonProcess(dir, ['--config', config, '--log-format', 'json', '--log-level', 'debug', ...args]);
}

const startedLine = (task: string) => (l: LogLine) => l.task === task && l.msg === `${task} started`;
const finishedLine = (task: string, status?: string) => (l: LogLine) => l.task === task && typeof l.status === 'string' && (status === undefined || l.status === status);

/** Every run of every task in the store, oldest first, and the tasks' persisted state. */
async function readStore(path: string): Promise<{ runs: RunRecord[]; tasks: TaskState[] }> {
  const store = sqliteStore({ path });
  await store.open();
  try {
    const runs: RunRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listRuns({ limit: 1000, ...(cursor !== undefined ? { cursor } : {}) });
      runs.push(...page.runs);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    return { runs: runs.reverse(), tasks: await store.listTasks() };
  } finally {
    await store.close();
  }
}

const statuses = (runs: readonly RunRecord[], task: string) => runs.filter((r) => r.task === task).map((r) => r.status);

describe('caretaker run as a process', () => {
  it('a daemon whose log reader goes away (a closed pipe) runs on, and stops on SIGTERM', async () => {
    const w = workDir(`store: { sqlite: { path: ./state.db } }
http: { enabled: false }
tasks:
  ticker: { schedule: { every: 500ms }, run: { module: ./tick.mjs } }
`);
    const d = start(w.dir, w.config, '--log-level', 'debug');
    await d.waitFor('a first run', finishedLine('ticker', 'succeeded'));
    // User CPU of the daemon in clock ticks (1/100 s), from /proc.
    const cpu = () => Number(readFileSync(`/proc/${d.child.pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[11]);
    d.child.stdout?.destroy(); // the reader is gone: every log line now meets EPIPE
    const closedAt = Date.now();
    const cpuBefore = cpu();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const usage = cpu() - cpuBefore;
    const sentAt = d.signal('SIGTERM');
    const exit = await d.waitExit(10_000);
    assert.equal(exit.code, 0, d.transcript());
    assert.ok(exit.at - sentAt < 5_000, `stopped ${exit.at - sentAt} ms after SIGTERM`);
    const { runs } = await readStore(w.db);
    assert.ok(runs.some((r) => r.finishedAt !== null && r.finishedAt.getTime() > closedAt + 500), 'runs went on after the pipe closed');
    assert.ok(usage < 50, `it did not spin on write errors (${usage / 100} s of CPU in 1.5 s)`);
  });

  it('a stray promise rejection from a task module is logged and the daemon runs on', async () => {
    const w = workDir(`store: { sqlite: { path: ./state.db } }
http: { enabled: false }
tasks:
  stray: { schedule: { every: 1s }, run: { module: ./stray.mjs } }
  ticker: { schedule: { every: 1s }, run: { module: ./tick.mjs } }
`);
    const d = start(w.dir, w.config);
    await d.waitFor('the stray rejection logged', (l) => typeof l.msg === 'string' && l.msg.startsWith('a promise was rejected and nobody handled it'));
    const { index } = await d.waitFor('a later ticker run', finishedLine('ticker', 'succeeded'), d.lines.length);
    await d.waitFor('another stray run', finishedLine('stray', 'succeeded'), index);
    d.signal('SIGTERM');
    const exit = await d.waitExit();
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, d.transcript());
    const { runs } = await readStore(w.db);
    assert.ok(statuses(runs, 'stray').length >= 2 && statuses(runs, 'stray').every((s) => s === 'succeeded'));
  });

  it('an uncaught exception stops the daemon gracefully (running runs recorded) and exits 1', async () => {
    const w = workDir(`store: { sqlite: { path: ./state.db } }
http: { enabled: false }
tasks:
  release: { schedule: { every: 1h }, run: { module: ./release.mjs } }
  bomb: { schedule: { at: '2000-01-01T00:00:00Z' }, run: { module: ./bomb.mjs } }
`);
    const d = start(w.dir, w.config, '--stop-timeout', '2s');
    await d.waitFor('release started', startedLine('release'));
    await d.waitFor('the stop after the exception', (l) => l.reason === 'uncaughtException');
    const exit = await d.waitExit();
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 1, signal: null }, d.transcript());
    assert.ok(d.find((l) => l.msg === 'uncaught exception; stopping: timer bomb' && (l.err as { message?: string } | undefined)?.message === 'timer bomb') >= 0, d.transcript());
    const { runs } = await readStore(w.db);
    assert.deepEqual(statuses(runs, 'release'), ['interrupted'], 'the run in flight got its record');
    assert.deepEqual(statuses(runs, 'bomb'), ['succeeded']);
  });

  it('SIGTERM stops gracefully: runs get --stop-timeout, the summary names the interrupted ones, exit 0', async () => {
    const w = workDir(`store: { sqlite: { path: ./state.db } }
http: { enabled: false }
scheduler: { pollInterval: 200ms }
tasks:
  ticker: { schedule: { every: 1s }, run: { module: ./tick.mjs } }
  wrapup: { schedule: { every: 1h }, run: { module: ./wrapup.mjs } }
  quitter: { schedule: { every: 1h }, run: { module: ./quitter.mjs } }
  stubborn: { schedule: { every: 1h }, run: { module: ./stubborn.mjs } }
`);
    const d = start(w.dir, w.config, '--stop-timeout', '1s');
    const started = await d.waitFor('the start line', (l) => l.msg.startsWith('caretaker running'));
    assert.equal(started.line.msg, `caretaker running 4 tasks on sqlite ${w.db}`);
    const ids = new Map<string, string>();
    for (const task of ['wrapup', 'quitter', 'stubborn']) ids.set(task, (await d.waitFor(`${task} started`, startedLine(task))).line.runId as string);
    // Right after a tick of the 1 s ticker, so no ticker run is being claimed when the stop begins.
    const { index: after } = await d.waitFor('ticker succeeded', finishedLine('ticker', 'succeeded'), d.lines.length);
    const sentAt = d.signal('SIGTERM');
    const stopping = await d.waitFor('the stopping line', (l) => l.signal === 'SIGTERM' && l.timeout === '1s', after);
    assert.equal(stopping.line.msg, 'SIGTERM: stopping; waiting up to 1s for running runs (again to force)');
    const exit = await d.waitExit();

    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, d.transcript());
    const elapsed = exit.at - sentAt;
    assert.ok(elapsed >= 950, `the stubborn run got its 1 s stop timeout before the process exited (took ${elapsed} ms)`);
    assert.ok(elapsed < 8_000, `the process exited soon after the stop timeout, not when the stuck handler ended (took ${elapsed} ms)`);
    assert.equal(d.stderr, '');
    assert.deepEqual(d.other, []);

    const wrapped = await d.waitFor('wrapup finished', finishedLine('wrapup'), stopping.index);
    assert.deepEqual({ status: wrapped.line.status, output: wrapped.line.output, level: wrapped.line.level }, { status: 'succeeded', output: { wrappedUp: true }, level: 30 });
    const quit = await d.waitFor('quitter finished', finishedLine('quitter'), stopping.index);
    assert.deepEqual({ status: quit.line.status, error: quit.line.error, level: quit.line.level }, { status: 'interrupted', error: 'scheduler is shutting down', level: 50 });
    assert.ok(quit.line.time - stopping.line.time < 500, 'a handler that honours its signal ends at once, not at the deadline');
    const stuck = await d.waitFor('stubborn finished', finishedLine('stubborn'), stopping.index);
    assert.equal(stuck.line.status, 'interrupted');
    assert.ok(stuck.line.time - stopping.line.time >= 950, `the stuck run was given up only at the 1 s deadline (${stuck.line.time - stopping.line.time} ms)`);

    const last = d.lines.at(-1) as LogLine;
    assert.equal(last.msg, `stopped: interrupted quitter (${ids.get('quitter')}), stubborn (${ids.get('stubborn')}); finished while stopping: wrapup`);
    assert.deepEqual({ interrupted: last.interrupted, finished: last.finished, level: last.level }, { interrupted: 2, finished: 1, level: 30 });

    const { runs } = await readStore(w.db);
    assert.deepEqual(statuses(runs, 'wrapup'), ['succeeded']);
    assert.deepEqual(statuses(runs, 'quitter'), ['interrupted']);
    assert.deepEqual(statuses(runs, 'stubborn'), ['interrupted']);
    assert.deepEqual(runs.filter((r) => r.task !== 'ticker').map((r) => [r.task, r.id]).sort(), [...ids].sort());
    for (const task of ['quitter', 'stubborn']) assert.equal(runs.find((r) => r.task === task)?.error?.code, 'ERR_SHUTDOWN', task);
    const ticks = statuses(runs, 'ticker');
    assert.ok(ticks.length >= 1 && ticks.every((s) => s === 'succeeded'), `ticker: ${ticks.join(', ')}`);
    assert.deepEqual(runs.filter((r) => r.status === 'running'), [], 'no run is left running in the store');
  });

  it('SIGINT stops the same way, with the config\'s scheduler.stopTimeout when no flag is given', async () => {
    const w = workDir(`store: { sqlite: { path: ./state.db } }
http: { enabled: false }
scheduler: { pollInterval: 200ms, stopTimeout: 5s }
tasks:
  ticker: { schedule: { every: 1s }, run: { module: ./tick.mjs } }
  quitter: { schedule: { every: 1h }, run: { module: ./quitter.mjs } }
`);
    const d = start(w.dir, w.config);
    const quitterId = (await d.waitFor('quitter started', startedLine('quitter'))).line.runId as string;
    await d.waitFor('ticker succeeded', finishedLine('ticker', 'succeeded'), d.lines.length);
    const sentAt = d.signal('SIGINT');
    const exit = await d.waitExit();
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, d.transcript());
    assert.ok(exit.at - sentAt < 4_000, `nothing was stuck, so the stop did not wait out the 5 s timeout (took ${exit.at - sentAt} ms)`);
    assert.ok(d.find((l) => l.msg === 'SIGINT: stopping; waiting up to 5s for running runs (again to force)') >= 0, d.transcript());
    const last = d.lines.at(-1) as LogLine;
    assert.equal(last.msg, `stopped: interrupted quitter (${quitterId})`);
    assert.deepEqual({ interrupted: last.interrupted, finished: last.finished }, { interrupted: 1, finished: 0 });
    assert.equal(d.stderr, '');
    const { runs } = await readStore(w.db);
    assert.deepEqual(statuses(runs, 'quitter'), ['interrupted']);
    assert.deepEqual(runs.filter((r) => r.status === 'running'), []);
  });

  it('a second signal during the stop exits at once with code 130', async () => {
    const w = workDir(`store: { sqlite: { path: ./state.db } }
http: { enabled: false }
scheduler: { pollInterval: 200ms }
tasks:
  stubborn: { schedule: { every: 1h }, run: { module: ./stubborn.mjs } }
`);
    const d = start(w.dir, w.config, '--stop-timeout', '30s');
    const runId = (await d.waitFor('stubborn started', startedLine('stubborn'))).line.runId as string;
    d.signal('SIGINT');
    const stopping = await d.waitFor('the stopping line', (l) => l.signal === 'SIGINT');
    assert.equal(stopping.line.msg, 'SIGINT: stopping; waiting up to 30s for running runs (again to force)');
    // The stop now hangs on the handler that ignores its signal; only the second signal ends it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(d.exit, null, 'still stopping');
    const secondAt = d.signal('SIGINT');
    const exit = await d.waitExit();
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 130, signal: null }, d.transcript());
    assert.ok(exit.at - secondAt < 5_000, `exited at once, not after the 30 s stop timeout (took ${exit.at - secondAt} ms)`);
    const forced = d.lines.at(-1) as LogLine;
    assert.deepEqual({ msg: forced.msg, signal: forced.signal, level: forced.level }, { msg: 'second signal: exiting now', signal: 'SIGINT', level: 40 });
    assert.equal(d.find((l) => l.msg.startsWith('stopped')), -1, 'no stop summary: the stop did not finish');
    assert.equal(d.stderr, '');
    // Nothing recorded the run's end: it stays running until its lease expires and another
    // instance records it interrupted.
    const { runs } = await readStore(w.db);
    assert.deepEqual(runs.map((r) => [r.id, r.status]), [[runId, 'running']]);
  });

  it('SIGHUP reloads the config in place; a broken config is reported and the old one keeps running', async () => {
    const v1 = `store: { sqlite: { path: ./state.db } }
http: { enabled: false }
scheduler: { pollInterval: 200ms }
tasks:
  ticker: { schedule: { every: 1s }, run: { module: ./tick.mjs } }
  changed: { schedule: { every: 1h, initialDelay: 1h }, run: { module: ./tick.mjs } }
  slow: { schedule: { every: 1h }, run: { module: ./release.mjs } }
`;
    const v2 = `store: { sqlite: { path: ./state.db } }
http: { enabled: false }
scheduler: { pollInterval: 200ms }
tasks:
  ticker: { schedule: { every: 1s }, run: { module: ./tick.mjs } }
  changed: { schedule: { every: 1s }, run: { module: ./tick.mjs } }
  slow: { schedule: { every: 1h }, run: { module: ./release.mjs } }
  added: { schedule: { every: 1s }, run: { module: ./tick.mjs } }
`;
    const broken = `${v2.replace('ticker: { schedule: { every: 1s },', 'ticker: { schedule: { every: 5s }, timout: 5s,')}  ghost: { schedule: { every: 1s }, run: { module: ./tick.mjs } }
`;
    const w = workDir(v1);
    const d = start(w.dir, w.config, '--stop-timeout', '5s');
    const slowId = (await d.waitFor('slow started', startedLine('slow'))).line.runId as string;
    const first = await d.waitFor('a ticker success', finishedLine('ticker', 'succeeded'));
    await d.waitFor('a second ticker success', finishedLine('ticker', 'succeeded'), first.index + 1);
    assert.equal(d.find((l) => l.task === 'changed'), -1, 'changed has not run yet (first tick in 1 h)');

    writeFileSync(w.config, v2);
    const hupAt = d.signal('SIGHUP');
    const reloaded = await d.waitFor('the reload line', (l) => l.msg.startsWith('config reloaded'));
    assert.equal(reloaded.line.msg, 'config reloaded: 1 added, 1 updated, 0 removed');
    assert.deepEqual(
      { added: reloaded.line.added, updated: reloaded.line.updated, removed: reloaded.line.removed, needsRestart: reloaded.line.needsRestart },
      { added: ['added'], updated: ['changed'], removed: [], needsRestart: [] },
    );
    await d.waitFor('added succeeded', finishedLine('added', 'succeeded'), reloaded.index);
    await d.waitFor('changed succeeded', finishedLine('changed', 'succeeded'), reloaded.index);
    const tickAfterReload = await d.waitFor('ticker succeeded after the reload', finishedLine('ticker', 'succeeded'), reloaded.index);
    assert.equal(d.find(finishedLine('slow')), -1, 'the long run was not ended by the reload');

    writeFileSync(w.config, broken);
    d.signal('SIGHUP');
    const rejected = await d.waitFor('the rejected reload', (l) => l.msg.startsWith('config not reloaded'), tickAfterReload.index);
    assert.equal(rejected.line.level, 50);
    assert.match(rejected.line.msg, /^config not reloaded, nothing changed: .*tasks\.ticker\.timout: received "5s"; unknown option; did you mean "timeout"\?/);
    assert.deepEqual((rejected.line.issues as { path: string }[]).map((i) => i.path), ['tasks.ticker.timout']);
    // Still the old config: ticker every 1 s (not 5 s), changed and added still run, no ghost.
    const t1 = await d.waitFor('ticker after the rejected reload', finishedLine('ticker', 'succeeded'), rejected.index);
    const t2 = await d.waitFor('another ticker', finishedLine('ticker', 'succeeded'), t1.index + 1);
    assert.ok(t2.line.time - t1.line.time < 2_500, `ticker still runs every second (${t2.line.time - t1.line.time} ms apart)`);
    await d.waitFor('added after the rejected reload', finishedLine('added', 'succeeded'), rejected.index);
    assert.equal(d.exit, null, 'the daemon kept running');

    writeFileSync(join(w.dir, 'release'), '');
    const slow = await d.waitFor('slow finished', finishedLine('slow'));
    assert.deepEqual({ id: slow.line.runId, status: slow.line.status, output: slow.line.output }, { id: slowId, status: 'succeeded', output: { released: true } });

    // Removing tasks: only ticker and slow are left. The ticker is then the only task with ticks
    // due every second, so stopping right after one of its runs finds nothing claimed ahead.
    writeFileSync(w.config, v1.replace(/^ {2}changed: .*\n/m, ''));
    d.signal('SIGHUP');
    const removed = await d.waitFor('the removing reload', (l) => l.msg.startsWith('config reloaded'), slow.index);
    assert.equal(removed.line.msg, 'config reloaded: 0 added, 0 updated, 2 removed');
    assert.deepEqual(removed.line.removed, ['changed', 'added']);
    // The second ticker run after the removal is a second later: a run of a removed task that was
    // claimed just before it has ended by then, and no new one started.
    const next = await d.waitFor('ticker after the removal', finishedLine('ticker', 'succeeded'), removed.index);
    await d.waitFor('the next ticker', finishedLine('ticker', 'succeeded'), next.index + 1);
    const late = d.lines.slice(removed.index).filter((l) => (l.task === 'added' || l.task === 'changed') && l.msg.endsWith('started') && l.time > removed.line.time + 250);
    assert.deepEqual(late, [], 'removed tasks start no run (beyond one claimed just before the reload)');
    d.signal('SIGTERM');
    const exit = await d.waitExit();
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, d.transcript());
    assert.equal((d.lines.at(-1) as LogLine).msg, 'stopped cleanly: no run was interrupted', d.transcript());
    assert.equal(d.find((l) => l.task === 'ghost' || (Array.isArray(l.added) && l.added.includes('ghost'))), -1, 'the broken config added nothing');
    assert.equal(d.stderr, '');

    const { runs, tasks } = await readStore(w.db);
    const state = new Map(tasks.map((t) => [t.name, t]));
    assert.deepEqual([...state.keys()].sort(), ['added', 'changed', 'slow', 'ticker']);
    assert.deepEqual(runs.filter((r) => r.task === 'slow').map((r) => [r.id, r.status]), [[slowId, 'succeeded']]);
    const slowRun = runs.find((r) => r.task === 'slow') as RunRecord;
    assert.ok((slowRun.startedAt as Date).getTime() < hupAt && (slowRun.finishedAt as Date).getTime() > hupAt, 'the slow run spanned the reload');
    assert.deepEqual(runs.filter((r) => r.status !== 'succeeded').map((r) => `${r.task}:${r.status}`), []);

    // The unchanged ticker kept its anchor: every tick, before and after the reloads, is on the
    // 1 s grid from the anchor stored at the first start, and none ran twice.
    const ticker = state.get('ticker') as TaskState;
    assert.equal(ticker.scheduleKey, 'every:1000:0:');
    assert.ok(ticker.anchor !== null && ticker.anchor < hupAt);
    const ticks = runs.filter((r) => r.task === 'ticker').map((r) => r.scheduledFor.getTime());
    assert.ok(ticks.filter((t) => t < hupAt).length >= 2 && ticks.filter((t) => t > hupAt).length >= 3, `ticks on both sides of the reload: ${ticks.join(', ')}`);
    assert.deepEqual(ticks.filter((t) => (t - (ticker.anchor as number)) % 1000 !== 0), [], `anchor ${ticker.anchor}`);
    assert.equal(new Set(ticks).size, ticks.length, 'no tick ran twice');
    assert.equal(ticker.lastTick, Math.max(...ticks));
    // The changed schedule started afresh at the reload; the added task began there too.
    const changed = state.get('changed') as TaskState;
    assert.equal(changed.scheduleKey, 'every:1000:0:');
    assert.ok(changed.anchor !== null && changed.anchor >= hupAt, `changed re-anchored at the reload (${changed.anchor} vs ${hupAt})`);
    for (const task of ['changed', 'added']) {
      const times = runs.filter((r) => r.task === task).map((r) => r.scheduledFor.getTime());
      assert.ok(times.length >= 2 && times.every((t) => t >= hupAt), `${task}: ${times.join(', ')}`);
    }
  });

  it('a config error at start exits 2 naming the fields, without a stack trace or a store', async () => {
    const w = workDir(`store: { sqlite: { path: ./state.db } }
http: { enabled: false }
schedular: { pollInterval: 200ms }
tasks:
  ticker: { schedule: { every: 1s }, timout: 5s, run: { module: ./tick.mjs } }
`);
    const d = start(w.dir, w.config);
    const exit = await d.waitExit();
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 2, signal: null }, d.transcript());
    const lines = d.stderr.trimEnd().split('\n');
    assert.equal(lines[0], `caretaker: 2 problems in ${w.config}:`);
    assert.match(d.stderr, /^ {2}schedular: received an object; unknown .*"scheduler"/m);
    assert.match(d.stderr, /^ {2}tasks\.ticker\.timout: received "5s"; unknown option; did you mean "timeout"\?$/m);
    assert.equal(lines.length, 3, d.stderr);
    assert.doesNotMatch(d.stderr, /^\s+at /m, 'no stack trace');
    assert.deepEqual(d.lines, [], 'nothing was logged: the daemon never started');
    assert.equal(existsSync(w.db), false, 'the store was never opened');
  });

  it('a bad --stop-timeout exits 2 before the daemon starts', async () => {
    const w = workDir(`store: { sqlite: { path: ./state.db } }
http: { enabled: false }
tasks:
  ticker: { schedule: { every: 1s }, run: { module: ./tick.mjs } }
`);
    const d = start(w.dir, w.config, '--stop-timeout', 'soon');
    const exit = await d.waitExit();
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 2, signal: null }, d.transcript());
    assert.equal(d.stderr, 'caretaker: --stop-timeout: received "soon"; use a duration like "30s"\n');
    assert.deepEqual(d.lines, [], 'no task ran');
    assert.equal(existsSync(w.db), false, 'the store was never opened');
  });
});
