import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { taskDefinitions } from '../../src/config/handlers.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createScheduler, memoryStore } from '../../src/index.ts';
import { InvalidOptionError } from '../../src/util/errors.ts';

const NODE = process.execPath;
const dir = mkdtempSync(join(tmpdir(), 'caretaker-smart-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function load(text: string) {
  const file = join(dir, 'caretaker.config.yaml');
  writeFileSync(file, text);
  return loadConfig({ file, env: {} });
}

function problems(text: string): string[] {
  try {
    load(text);
  } catch (error) {
    assert.ok(error instanceof InvalidOptionError, String(error));
    return error.issues.map((i) => `${i.path}: ${i.fix}`);
  }
  assert.fail('expected the config to be refused');
}

describe('smart scheduling in config files', () => {
  it('reads after, when (command and module), defer, windows and blackout', () => {
    writeFileSync(join(dir, 'check.mjs'), 'export default () => true;\n');
    const config = load(`
store: memory
tasks:
  retention:
    schedule: { cron: '0 3 * * *' }
    windows: [{ days: mon-fri, from: '01:00', to: '05:00', timezone: Europe/Berlin }]
    blackout: [{ days: sun, from: '00:00', to: '24:00' }]
    outside: skip
    defer: { while: { eventLoopLagAbove: 50ms, cpuAbove: 0.8, memoryAbove: 85%, busy: true }, maxDelay: 2h, then: skip }
    when: { command: [test, -d, /], timeout: 5s }
    run: { command: [echo, hi] }
  optimize:
    after: retention
    when: { module: ./check.mjs }
    run: { command: [echo, hi] }
  report:
    after: { tasks: [optimize, { task: retention, on: finish }], mode: all }
    run: { command: [echo, hi] }
`);
    assert.deepEqual(
      config.tasks.map((t) => [t.name, t.when?.run.kind ?? null, t.when?.timeoutMs ?? null]),
      [
        ['retention', 'command', 5_000],
        ['optimize', 'module', null],
        ['report', null, null],
      ],
    );
  });

  it('names an unknown upstream, a cycle, a bad when and bad windows, each with its fix', () => {
    const found = problems(`
store: memory
tasks:
  a:
    after: b
    run: { command: [echo] }
  b:
    after: a
    run: { command: [echo] }
  c:
    after: nope
    when: { builtin: directory-cleanup }
    run: { command: [echo] }
  d:
    schedule: { every: 1h }
    windows: [{ from: '1am', to: '05:00' }]
    defer: { while: {}, checkEvery: 10ms }
    when: { command: [echo], timeout: soon }
    run: { command: [echo] }
`);
    const text = found.join('\n');
    assert.match(text, /tasks\.c\.after: no task "nope" is registered/);
    assert.match(text, /tasks\.c\.when: give \{ command/);
    assert.match(text, /tasks\.d\.windows\.0\.from: is not a time of day/);
    assert.match(text, /tasks\.d\.defer\.while: name at least one of/);
    assert.match(text, /tasks\.d\.when\.timeout: is not a duration/);
    const cycle = problems(`
store: memory
tasks:
  a: { after: b, run: { command: [echo] } }
  b: { after: a, run: { command: [echo] } }
`);
    assert.match(cycle.join('\n'), /tasks\.a\.after: the tasks wait for each other in a cycle \("a" runs after "b" runs after "a"\)/);
  });

  it('a when command answers by exit status: 0 runs, another code skips with its last line, a missing program fails', async () => {
    const config = load(`
store: memory
tasks:
  yes:
    schedule: { every: 1d, initialDelay: 1d }
    when: { command: ['${NODE}', -e, 'process.exit(0)'] }
    run: { command: ['${NODE}', -e, 'console.log("ran")'] }
  no:
    schedule: { every: 1d, initialDelay: 1d }
    when: { command: ['${NODE}', -e, 'console.log("disk at 41%"); process.exit(1)'] }
    run: { command: ['${NODE}', -e, 'console.log("ran")'] }
  broken:
    schedule: { every: 1d, initialDelay: 1d }
    when: { command: [/nonexistent/check] }
    run: { command: ['${NODE}', -e, 'console.log("ran")'] }
`);
    const scheduler = createScheduler({ store: memoryStore() });
    for (const definition of await taskDefinitions(config.tasks)) scheduler.add(definition);
    await scheduler.start();
    try {
      const ids = { yes: await scheduler.trigger('yes'), no: await scheduler.trigger('no'), broken: await scheduler.trigger('broken') };
      await scheduler.onIdle();
      const yes = await scheduler.getRun(ids.yes);
      assert.equal(yes?.status, 'succeeded');
      const no = await scheduler.getRun(ids.no);
      assert.deepEqual([no?.status, no?.skipReason, no?.error?.message], ['skipped', 'condition', 'disk at 41%']);
      const broken = await scheduler.getRun(ids.broken);
      assert.equal(broken?.status, 'failed');
      assert.match(broken?.error?.message ?? '', /cannot run \/nonexistent\/check/);
    } finally {
      await scheduler.stop({ timeout: '10s' });
    }
  });
});
