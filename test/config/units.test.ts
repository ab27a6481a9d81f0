/**
 * Units are required in config files: a bare `maxAge: 30` meant 30 ms (a dry run showed it
 * deleting every file). Every duration and size field, in every section and every built-in,
 * refuses a number without a unit, naming the field and suggesting the unit; 0 stays allowed.
 * The library keeps reading numbers as milliseconds and bytes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import { createScheduler, parseDuration } from '../../src/index.ts';
import { directoryCleanup } from '../../src/tasks/index.ts';
import { InvalidOptionError, type OptionIssue } from '../../src/util/errors.ts';
import { parseSize } from '../../src/util/size.ts';

const dir = mkdtempSync(join(tmpdir(), 'caretaker-units-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const file = join(dir, 'caretaker.config.yaml');

function issues(text: string, env: NodeJS.ProcessEnv = {}, name = file): OptionIssue[] {
  try {
    loadConfig({ file: name, text, env });
  } catch (error) {
    assert.ok(error instanceof InvalidOptionError, String(error));
    return [...error.issues];
  }
  return [];
}

/** A config with one task whose task options and run are given as YAML flow maps. */
const task = (options: string, run = '{ command: [echo] }') => `store: memory\ntasks:\n  t: { schedule: { every: 1h }, ${options}${options === '' ? '' : ', '}run: ${run} }\n`;
const DB = '{ sqlite: ./app.db }';

/** Every duration and size field a config file has, with a config that sets it to a bare 30. */
const FIELDS: readonly (readonly [path: string, config: string])[] = [
  ['tasks.t.schedule.every', 'store: memory\ntasks:\n  t: { schedule: { every: 30 }, run: { command: [echo] } }\n'],
  ['tasks.t.schedule.initialDelay', 'store: memory\ntasks:\n  t: { schedule: { every: 1h, initialDelay: 30 }, run: { command: [echo] } }\n'],
  ['tasks.t.timeout', task('timeout: 30')],
  ['tasks.t.abortGrace', task('abortGrace: 30')],
  ['tasks.t.catchUpWindow', task('catchUpWindow: 30')],
  ['tasks.t.jitter', task('jitter: 30')],
  ['tasks.t.staleAfter', task('staleAfter: 30')],
  ['tasks.t.retry.backoff', task('retry: { attempts: 2, backoff: 30 }')],
  ['tasks.t.retry.maxBackoff', task('retry: { attempts: 2, maxBackoff: 30 }')],
  ['defaults.timeout', 'store: memory\ndefaults: { timeout: 30 }\n'],
  ['defaults.abortGrace', 'store: memory\ndefaults: { abortGrace: 30 }\n'],
  ['defaults.catchUpWindow', 'store: memory\ndefaults: { catchUpWindow: 30 }\n'],
  ['defaults.jitter', 'store: memory\ndefaults: { jitter: 30 }\n'],
  ['defaults.staleAfter', 'store: memory\ndefaults: { staleAfter: 30 }\n'],
  ['defaults.retry.backoff', 'store: memory\ndefaults: { retry: { backoff: 30 } }\n'],
  ['defaults.retry.maxBackoff', 'store: memory\ndefaults: { retry: { maxBackoff: 30 } }\n'],
  ['history.maxAge', 'store: memory\nhistory: { maxAge: 30 }\n'],
  ['scheduler.lease', 'store: memory\nscheduler: { lease: 30 }\n'],
  ['scheduler.pollInterval', 'store: memory\nscheduler: { pollInterval: 30 }\n'],
  ['scheduler.stopTimeout', 'store: memory\nscheduler: { stopTimeout: 30 }\n'],
  ['store.sqlite.busyTimeout', 'store: { sqlite: { path: ./x.db, busyTimeout: 30 } }\n'],
  ['tasks.t.run.maxAge', task('', '{ builtin: directory-cleanup, root: ., maxAge: 30 }')],
  ['tasks.t.run.maxTotalSize', task('', '{ builtin: directory-cleanup, root: ., maxTotalSize: 30 }')],
  ['tasks.t.run.maxSize', task('', '{ builtin: log-rotation, files: "*.log", keep: 3, maxSize: 30 }')],
  ['tasks.t.run.maxAge', task('', '{ builtin: log-rotation, files: "*.log", keep: 3, maxAge: 30 }')],
  ['tasks.t.run.olderThan', task('', `{ builtin: sql-retention, database: ${DB}, table: t, column: c, olderThan: 30 }`)],
  ['tasks.t.run.pauseBetweenBatches', task('', `{ builtin: sql-retention, database: ${DB}, table: t, column: c, olderThan: 30d, pauseBetweenBatches: 30 }`)],
  ['tasks.t.run.timeout', task('', '{ builtin: http-check, url: "http://localhost/", timeout: 30 }')],
  ['tasks.t.run.timeout', task('', '{ builtin: tcp-check, host: localhost, port: 5432, timeout: 30 }')],
  ['tasks.t.run.maxOutput', task('', '{ command: [echo], maxOutput: 30 }')],
];

const UNIT_FIX = /^a (duration|size) in a config file needs a unit; write "30[a-zA-Z]+"/;

describe('units in config files', () => {
  it('the fields take values with units (the table below is valid once each 30 has one)', () => {
    for (const [path, config] of FIELDS) {
      const withUnit = config.replace(/(?<=[:{,] ?\w+: )30(?= ?[,}])/, path.endsWith('Size') || path.endsWith('maxOutput') ? '30KB' : '30m');
      assert.deepEqual(issues(withUnit), [], `${path}: ${withUnit}`);
    }
  });

  for (const [path, config] of FIELDS) {
    it(`${path}: a bare 30 is refused, naming the field and the unit to write`, () => {
      const found = issues(config);
      assert.equal(found.length, 1, found.map((i) => `${i.path}: ${i.fix}`).join('\n'));
      assert.equal(found[0]?.path, path);
      assert.equal(found[0]?.received, '30');
      assert.match(found[0]?.fix ?? '', UNIT_FIX);
    });
  }

  it('the likely unit comes first: ages in days, cadences in hours, waits in seconds, totals in GB', () => {
    const fixOf = (config: string) => issues(config)[0]?.fix ?? '';
    assert.equal(fixOf(task('', '{ builtin: directory-cleanup, root: ., maxAge: 30 }')), 'a duration in a config file needs a unit; write "30d" (days), "30h", "30m" or "30s"');
    assert.match(fixOf(FIELDS[0]?.[1] ?? ''), /write "30h" \(hours\)/);
    assert.match(fixOf(task('timeout: 30')), /write "30s" \(seconds\)/);
    assert.match(fixOf(task('', '{ builtin: directory-cleanup, root: ., maxTotalSize: 30 }')), /write "30GB", "30MB", "30KB" or "30B" \(bytes\)$/);
    // A large round number was most likely written in milliseconds: say what it meant.
    assert.match(fixOf('store: { sqlite: { path: ./x.db, busyTimeout: 5000 } }\n'), /write "5s" \(the 5000 ms it was read as until now\)/);
    assert.match(fixOf(task('', '{ command: [echo], maxOutput: 65536 }')), /write "65536B" \(the bytes it was read as until now\), i\.e\. "64KiB"/);
  });

  it('a quoted number without a unit is refused the same way, and JSON files too', () => {
    assert.match(issues(task('timeout: "30"'))[0]?.fix ?? '', UNIT_FIX);
    assert.match(issues(task('', '{ builtin: directory-cleanup, root: ., maxTotalSize: "30" }'))[0]?.fix ?? '', UNIT_FIX);
    const json = JSON.stringify({ store: 'memory', tasks: { t: { schedule: { every: 30 }, run: { command: ['echo'] } } } });
    const found = issues(json, {}, join(dir, 'caretaker.config.json'));
    assert.deepEqual(found.map((i) => i.path), ['tasks.t.schedule.every']);
  });

  it('CARETAKER_* overrides need a unit too', () => {
    const found = issues('store: memory\n', { CARETAKER_HISTORY_MAX_AGE: '30', CARETAKER_SCHEDULER_LEASE: '15', CARETAKER_SCHEDULER_POLL_INTERVAL: '5s' });
    assert.deepEqual(found.map((i) => `${i.path}: ${i.received}`), ['history.maxAge: "30"', 'scheduler.lease: "15"']);
    for (const issue of found) assert.match(issue.fix, /needs a unit/);
  });

  it('0 needs no unit: it is the same length and size in every unit', () => {
    assert.deepEqual(issues('store: memory\ndefaults: { jitter: 0 }\ntasks:\n  t: { schedule: { every: 1h, initialDelay: 0 }, catchUpWindow: 0, run: { builtin: directory-cleanup, root: ., maxAge: 0, maxTotalSize: 0 } }\n'), []);
  });

  it('any other bad duration or size gets the hint without plain numbers', () => {
    const [timeout, size] = issues(task('timeout: soon', '{ builtin: directory-cleanup, root: ., maxTotalSize: lots }'));
    assert.equal(timeout?.fix, 'is not a duration; use a number with a unit, like "90s", "5m", "1h30m" or "7d"');
    assert.equal(size?.fix, 'is not a size; use a number with a unit, like "500MB", "10GB" or "1.5GiB"');
  });

  it('the library still reads numbers as milliseconds and bytes, also after a config was refused', async () => {
    issues(task('timeout: 30'));
    assert.equal(parseDuration(30), 30);
    assert.equal(parseSize(30), 30);
    assert.equal(parseSize('30'), 30);
    directoryCleanup({ root: dir, maxAge: 30, maxTotalSize: 30 });
    const scheduler = createScheduler({ lease: 15_000, pollInterval: 500 });
    scheduler.add({ name: 'x', schedule: { every: 60_000, initialDelay: 1_000 }, timeout: 30, handler: () => undefined });
    await scheduler.stop();
  });
});
