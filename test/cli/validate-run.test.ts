/**
 * `validate` ≡ `run`: every config that `caretaker run` refuses before starting, `validate`
 * refuses too, with the same lines (field and fix), and both share one function for it. A
 * config `validate` accepts, `run` starts.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PassThrough } from 'node:stream';
import type { CliIo } from '../../src/cli/context.ts';
import { main } from '../../src/cli/main.ts';

const root = mkdtempSync(join(tmpdir(), 'caretaker-validate-run-'));
after(() => rmSync(root, { recursive: true, force: true }));

const MODULES: Readonly<Record<string, string>> = {
  'ok.mjs': 'export default () => ({ ok: true });\n',
  'named.mjs': 'export const other = () => 1;\n',
  'broken.mjs': 'export default (;\n',
  'not-a-function.mjs': 'export default { run() {} };\n',
};

function io(cwd: string): CliIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  const stdout = Object.assign(new PassThrough(), { isTTY: false }) as unknown as NodeJS.WriteStream;
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l), cwd, env: {}, stdout };
}

function workDir(config: string): string {
  const work = mkdtempSync(join(root, 'w-'));
  for (const [name, text] of Object.entries(MODULES)) writeFileSync(join(work, name), text);
  writeFileSync(join(work, 'caretaker.config.yaml'), config);
  return work;
}

/**
 * `caretaker run` in this process. A run that starts (it should not, for these configs) is
 * stopped after a moment through its signal emitter, so the test fails instead of hanging.
 */
async function run(dir: string, ...args: string[]): Promise<{ code: number; errors: string[]; lines: string[]; started: boolean }> {
  const cli = io(dir);
  const signals = new EventEmitter();
  let started = false;
  const timer = setTimeout(() => {
    started = true;
    signals.emit('SIGTERM');
  }, 3_000);
  const code = await main(['run', '--log-level', 'silent', ...args], cli, signals);
  clearTimeout(timer);
  return { code, errors: cli.errors, lines: cli.lines, started };
}

async function validate(dir: string, ...args: string[]): Promise<{ code: number; errors: string[]; lines: string[] }> {
  const cli = io(dir);
  const code = await main(['validate', ...args], cli);
  return { code, errors: cli.errors, lines: cli.lines };
}

const TASK = '  t: { schedule: { every: 1h, initialDelay: 1h }, run: { module: ./ok.mjs } }\n';
const base = (sections: string, tasks = TASK) => `store: { sqlite: { path: ./state.db } }\nhttp: { port: 0 }\n${sections}tasks:\n${tasks}`;

/** Configs `run` refuses before it starts, and the field and fix each must be refused with. */
const REFUSED: readonly (readonly [what: string, config: string, line: RegExp])[] = [
  ['a non-loopback host without a token', base('http: { host: 0.0.0.0, port: 0 }\n').replace('http: { port: 0 }\n', ''), /^ {2}http\.token: received nothing; set a token .* to listen on 0\.0\.0\.0, or use host 127\.0\.0\.1$/],
  ['a module without a default export', base('', '  t: { schedule: { every: 1h }, run: { module: ./named.mjs } }\n'), /^ {2}tasks\.t\.run\.module: .*its default export must be the handler function, got nothing$/],
  ['a module whose named export is missing', base('', '  t: { schedule: { every: 1h }, run: { module: ./named.mjs, export: handler } }\n'), /^ {2}tasks\.t\.run\.module: .*its export "handler" must be the handler function/],
  ['a module whose default export is not a function', base('', '  t: { schedule: { every: 1h }, run: { module: ./not-a-function.mjs } }\n'), /^ {2}tasks\.t\.run\.module: .*must be the handler function, got an object$/],
  ['a module that does not compile', base('', '  t: { schedule: { every: 1h }, run: { module: ./broken.mjs } }\n'), /^ {2}tasks\.t\.run\.module: .*cannot import it: /],
  ['a lease under the scheduler minimum', base('scheduler: { lease: 500ms }\n'), /^ {2}scheduler\.lease: received "500ms"; must be at least 1s$/],
  ['a poll interval under the minimum', base('scheduler: { pollInterval: 10ms }\n'), /^ {2}scheduler\.pollInterval: received "10ms"; must be at least 100ms$/],
  ['history kept for less than a minute', base('history: { maxAge: 30s }\n'), /^ {2}history\.maxAge: received "30s"; must be at least 1m$/],
  ['a PostgreSQL schema name the store refuses', base('').replace('store: { sqlite: { path: ./state.db } }', "store: { postgres: { url: 'postgres://u@127.0.0.1:1/db', schema: Bad-Name } }"), /^ {2}store\.postgres\.schema: received "Bad-Name"; use lowercase letters/],
  ['a duration without a unit', base('scheduler: { lease: 15 }\n'), /^ {2}scheduler\.lease: received 15; a duration in a config file needs a unit; write "15s"/],
  ['a port out of range', base('').replace('http: { port: 0 }', 'http: { port: 70000 }'), /^ {2}http\.port: received 70000; must be at most 65535$/],
];

describe('validate refuses what run refuses, with the same lines', () => {
  for (const [what, config, line] of REFUSED) {
    it(what, async () => {
      const dir = workDir(config);
      const ran = await run(dir);
      assert.equal(ran.started, false, `run started on: ${what}`);
      assert.equal(ran.code, 2);
      assert.ok(ran.errors.some((l) => line.test(l)), `run: ${ran.errors.join('\n')}`);
      const checked = await validate(dir);
      assert.equal(checked.code, 2);
      assert.deepEqual(checked.errors, ran.errors, 'validate printed what run printed');
      assert.deepEqual(checked.lines, []);
      // As JSON, the same issues.
      const json = await validate(dir, '--json');
      const ranJson = await run(dir, '--json');
      assert.deepEqual(json.lines, ranJson.lines);
      assert.ok(readdirSync(dir).every((f) => !f.startsWith('state.db')), 'neither opened the store');
    });
  }

  it('every problem at once: the HTTP rule and each module, not only the first', async () => {
    const dir = workDir(base('http: { host: 0.0.0.0 }\n', '  a: { schedule: { every: 1h }, run: { module: ./named.mjs } }\n  b: { schedule: { every: 1h }, run: { module: ./broken.mjs } }\n').replace('http: { port: 0 }\n', ''));
    const checked = await validate(dir);
    assert.deepEqual(checked.errors.slice(1).map((l) => l.trim().split(':')[0]), ['http.token', 'tasks.a.run.module', 'tasks.b.run.module']);
  });

  it('a config validate accepts, run starts (and neither created anything else)', async () => {
    const dir = workDir(base('http: { host: 0.0.0.0, token: a-token-of-enough-length, port: 0 }\n').replace('http: { port: 0 }\n', ''));
    const checked = await validate(dir);
    assert.equal(checked.code, 0, checked.errors.join('\n'));
    assert.equal(existsSync(join(dir, 'state.db')), false, 'validate opened no store');
    const ran = await run(dir);
    assert.equal(ran.started, true);
    assert.equal(ran.code, 0, ran.errors.join('\n'));
  });
});
