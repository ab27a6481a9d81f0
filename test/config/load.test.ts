import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import { InvalidOptionError } from '../../src/util/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'caretaker-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function load(text: string, env: NodeJS.ProcessEnv = {}, name = 'caretaker.config.yaml') {
  const file = join(dir, name);
  writeFileSync(file, text);
  return loadConfig({ file, env });
}

function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    load(text, env);
  } catch (error) {
    assert.ok(error instanceof InvalidOptionError, String(error));
    return error.issues.map((i) => `${i.path}: received ${i.received}; ${i.fix}`);
  }
  assert.fail('expected the config to be refused');
}

describe('config files', () => {
  it('reads a valid YAML config: store paths resolve against the file, defaults apply', () => {
    const config = load(`
store: { sqlite: { path: ./state.db } }
tasks:
  clean:
    schedule: { every: 6h }
    timeout: 5m
    run: { command: ['echo', 'hi'] }
`);
    assert.deepEqual(config.store, { kind: 'sqlite', options: { path: join(dir, 'state.db') } });
    assert.equal(config.tasks.length, 1);
    assert.deepEqual(config.tasks[0]?.run, { kind: 'command', argv: ['echo', 'hi'], shell: false, cwd: dir, env: {}, maxOutputBytes: 65536 });
    assert.equal(config.tasks[0]?.options.timeout, '5m');
  });

  it('a missing store section means SQLite beside the config; JSON works too', () => {
    const config = load('{ "tasks": {} }', {}, 'caretaker.config.json');
    assert.deepEqual(config.store, { kind: 'sqlite', options: { path: join(dir, 'caretaker.db') } });
  });

  it('reports five different mistakes at once, one line each, naming the field and the fix', () => {
    const lines = problems(`
store: { sqlite: { paht: ./x.db } }
http: { port: 99999 }
tasks:
  cache-cleanup:
    schedule: { every: 6 hours }
    run: { builtin: directory-cleanup, root: ., maxAge: 30d }
  report:
    schedule: { cron: '0 2 * * *' }
    timout: 5m
    run: { command: ['true'] }
  backup:
    schedule: { every: 1d }
    run: { builtin: directry-cleanup, root: ./x }
`);
    assert.equal(lines.length, 5, lines.join('\n'));
    assert.match(lines.find((l) => l.startsWith('store.sqlite.paht')) ?? '', /did you mean "path"/);
    assert.match(lines.find((l) => l.startsWith('http.port')) ?? '', /at most 65535/);
    assert.match(lines.find((l) => l.startsWith('tasks.cache-cleanup.schedule.every')) ?? '', /"6 hours".*not a duration/);
    assert.match(lines.find((l) => l.startsWith('tasks.report.timout')) ?? '', /did you mean "timeout"/);
    assert.match(lines.find((l) => l.startsWith('tasks.backup.run.builtin')) ?? '', /did you mean "directory-cleanup"/);
    for (const line of lines) assert.doesNotMatch(line, /\n|at .*\.ts:\d+/, 'no stack traces');
  });

  it('http.tokens: each mistake names its entry and field; duplicate names or tokens are refused; a token is never echoed', () => {
    const ok = load(`
http:
  tokens:
    - { name: ci, token: ci-token-0123456789abcdef, role: operate }
    - { name: oncall@example, token: oncall-token-0123456789ab, role: admin }
`);
    assert.deepEqual(ok.http.tokens?.map((t) => `${t.name}:${t.role}`), ['ci:operate', 'oncall@example:admin']);
    const lines = problems(`
http:
  tokens:
    - { name: ci, token: short-secret, role: operate }
    - { name: 'has space', token: b-token-0123456789abcdef, role: reader }
    - { name: ci, token: b-token-0123456789abcdef, role: read }
    - { name: x, token: y-token-0123456789abcdef, role: read, extra: 1 }
`);
    assert.deepEqual(lines.map((l) => l.split(': received')[0]).sort(), ['http.tokens.0.token', 'http.tokens.1.name', 'http.tokens.1.role', 'http.tokens.2.name', 'http.tokens.2.token', 'http.tokens.3.extra'].sort(), lines.join('\n'));
    assert.match(lines.find((l) => l.startsWith('http.tokens.0.token')) ?? '', /received a secret of 12 characters \(not shown\); use at least 16 characters/);
    assert.match(lines.find((l) => l.startsWith('http.tokens.1.role')) ?? '', /use read, operate or admin/);
    assert.match(lines.find((l) => l.startsWith('http.tokens.2.name')) ?? '', /"ci" is taken/);
    for (const line of lines) assert.doesNotMatch(line, /short-secret|b-token-0123456789abcdef/, 'no token in an error');
    // Wherever a token ends up by mistake, the error does not show it (hostile review).
    const secret = 'S3CRET-abcdefghijklmnopqrstuvwxyz';
    for (const [text, env] of [
      [`http:\n  tokens: "${secret}"\n`, {}],
      [`http:\n  tokens: ["${secret}"]\n`, {}],
      [`http:\n  tokens: [{ name: ci, tokne: "${secret}", role: read }]\n`, {}],
      [`http:\n  tokn: "${secret}"\n`, {}],
      [`http:\n  tokens: [{ name: "${secret} x", token: y-token-0123456789abcdef, role: read }]\n`, {}],
      ['tasks: {}\n', { CARETAKER_HTTP_TOKN: secret }],
      [`http:\n  token: "${secret}"\n  tokens: [{ name: admin, token: "${secret}", role: read }]\n`, {}],
    ] as const) {
      const found = problems(text, env);
      assert.ok(found.length > 0, text);
      for (const line of found) assert.ok(!line.includes('S3CRET'), `${JSON.stringify(text)}: ${line}`);
    }
    const clash = problems(`http:\n  token: "${secret}"\n  tokens: [{ name: admin, token: "${secret}", role: read }]\n`);
    assert.deepEqual(clash.map((l) => l.split(':')[0]).sort(), ['http.tokens.0.name', 'http.tokens.0.token']);
  });

  it('interpolates ${VAR} and ${VAR:-default}; an unset variable is a problem at its field', () => {
    const config = load('store: { postgres: { url: "${DB_URL}", schema: "${SCHEMA:-jobs}" } }\n', { DB_URL: 'postgres://u@h/db' });
    assert.deepEqual(config.store, { kind: 'postgres', options: { url: 'postgres://u@h/db', schema: 'jobs' } });
    const lines = problems('store: { postgres: { url: "${DB_URL}" } }\n');
    // Unset is the problem; that the placeholder left there is then no postgres:// URL is not another.
    assert.deepEqual(lines.length, 1, lines.join('\n'));
    assert.match(lines[0] ?? '', /^store\.postgres\.url: .*DB_URL is not set/);
  });

  it('a notify section: channels and rules are checked, each problem naming its field; rules name configured tasks', () => {
    const tasks = 'tasks:\n  backup: { schedule: { every: 1d }, run: { command: [/bin/true] } }\n';
    const config = load(
      `notify:\n  channels:\n    ops: { webhook: { url: "\${HOOK}", format: slack, timeout: 5s } }\n    pager: { command: [/bin/true, --x] }\n  defaults: { on: [failed], channels: [ops] }\n  tasks: { backup: { on: [failed, stale], channels: [ops, pager] } }\n  retry: { attempts: 3, backoff: 1s }\n${tasks.replace('run:', 'staleAfter: 26h, run:')}`,
      { HOOK: 'https://hooks.example.com/T/B/x' },
    );
    assert.deepEqual(config.notify?.channels.ops, { webhook: { url: 'https://hooks.example.com/T/B/x', format: 'slack', timeout: '5s' } });
    const lines = problems(
      `notify:\n  channels:\n    ops: { webhook: { url: ftp://x } }\n    pager: { command: [] }\n  defaults: { on: [exploded], channels: [opz] }\n  tasks: { bakup: false }\n  retry: { backoff: 10 }\n${tasks}`,
    );
    const fields = lines.map((l) => l.split(': ')[0]).sort();
    assert.deepEqual(fields, ['notify.channels.ops.webhook.url', 'notify.channels.pager.command', 'notify.defaults.channels.0', 'notify.defaults.on.0', 'notify.retry.backoff', 'notify.tasks.bakup'], lines.join('\n'));
    assert.match(lines.find((l) => l.startsWith('notify.tasks.bakup')) ?? '', /did you mean "backup"/);
    assert.match(lines.find((l) => l.startsWith('notify.retry.backoff')) ?? '', /unit/);
    // What would fail every send, and a rule that could never fire, are refused too.
    const more = problems(
      `notify:\n  channels:\n    ops: { webhook: { url: "https://x.example/h", headers: { X-Cost: "5 €", Upgrade: h2c } } }\n  tasks: { backup: { on: [stale], channels: [ops] } }\n${tasks}`,
    );
    assert.deepEqual(more.map((l) => l.split(': ')[0]).sort(), ['notify.channels.ops.webhook.headers.Upgrade', 'notify.channels.ops.webhook.headers.X-Cost', 'notify.tasks.backup.on'], more.join('\n'));
    assert.match(more.find((l) => l.startsWith('notify.tasks.backup.on')) ?? '', /staleAfter/);
    // A command channel's program given relative to the config file is found there.
    const relative = load(`notify:\n  channels:\n    pager: { command: [./bin/page.sh, --team, ops] }\n${tasks}`);
    assert.deepEqual((relative.notify?.channels.pager as { command: string[] }).command, [join(relative.dir, 'bin/page.sh'), '--team', 'ops']);
  });

  it('CARETAKER_<SECTION>_<FIELD> overrides scalar fields, and can switch the store', () => {
    const config = load('store: { sqlite: { path: ./a.db } }\nhttp: { port: 7070 }\n', {
      CARETAKER_HTTP_PORT: '9000',
      CARETAKER_STORE_POSTGRES_URL: 'postgres://u@h/db',
      CARETAKER_HISTORY_MAX_AGE: '7d',
    });
    assert.equal(config.http.port, 9000);
    assert.equal(config.history.maxAge, 7 * 86_400_000);
    assert.deepEqual(config.store, { kind: 'postgres', options: { url: 'postgres://u@h/db' } });
  });

  it('an override keeps text where the field is text (a token or an instance of digits), and a variable that sets nothing is refused', () => {
    const config = load('http: { port: 7070 }\n', { CARETAKER_HTTP_TOKEN: '0012345678901234567890', CARETAKER_SCHEDULER_INSTANCE: '7', CARETAKER_HTTP_ENABLED: 'false' });
    assert.equal(config.http.token, '0012345678901234567890');
    assert.equal(config.scheduler.instance, '7');
    assert.equal(config.http.enabled, false);
    assert.deepEqual(problems('http: { port: 7070 }\n', { CARETAKER_HTTP_PROT: '9000', CARETAKER_DEFAULTS_TIMEOUT: '30s', CARETAKER_TOKEN: 'not an override', CARETAKER_SCHEDULER_STOP_TIMEOUT: '30' }), [
      'CARETAKER_HTTP_PROT: received "9000"; no such field can be set from the environment; did you mean CARETAKER_HTTP_PORT?',
      'CARETAKER_DEFAULTS_TIMEOUT: received "30s"; defaults cannot be set from the environment; set it in the config file (or use ${VAR} there)',
      'scheduler.stopTimeout: received "30"; a duration in a config file needs a unit; write "30s" (seconds), "30m", "30h" or "30d"',
    ]);
  });

  it('invalid YAML names the line and column', () => {
    const lines = problems('tasks:\n  a: [\n');
    assert.ok(lines.length >= 1);
    assert.match(lines[0] ?? '', /^line \d+, column \d+: received invalid YAML/);
  });

  it('a module task must exist beside the config; a command string is split without a shell', () => {
    const lines = problems('tasks:\n  m:\n    schedule: { every: 1m }\n    run: { module: ./missing.js }\n');
    assert.match(lines[0] ?? '', /^tasks\.m\.run\.module: .*no such file/);
    const config = load(`tasks:\n  c:\n    schedule: { every: 1m }\n    run: { command: "tar -czf 'my backup.tgz' data" }\n`);
    assert.deepEqual((config.tasks[0]?.run as { readonly argv: readonly string[] }).argv, ['tar', '-czf', 'my backup.tgz', 'data']);
  });

  it('a missing schedule is one problem, with the fix', () => {
    const lines = problems('tasks:\n  x:\n    run: { command: [echo] }\n');
    assert.deepEqual(lines, ['tasks.x.schedule: received nothing; expected an object like { every: "5m" }, { cron: "0 2 * * *" } or { at: "2026-12-01T02:00:00Z" }']);
  });

  it('every problem of a task is reported, its run included (an unknown key does not hide a missing module)', () => {
    const lines = problems('tasks:\n  x:\n    schedule: { every: soon }\n    timeout: 5\n    retry: { attempts: 0 }\n    run: { module: ./missing.js, exprt: run }\n');
    assert.deepEqual(lines.map((l) => l.split(':')[0]), ['tasks.x.timeout', 'tasks.x.retry.attempts', 'tasks.x.schedule.every', 'tasks.x.run.exprt', 'tasks.x.run.module']);
    assert.match(lines[4] ?? '', /no such file/);
  });
});
