import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { describe, it } from 'node:test';
import type { CliIo } from '../../src/cli/context.ts';
import { main } from '../../src/cli/main.ts';

function io(): CliIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l), cwd: tmpdir(), env: {}, stdout: process.stdout };
}

/** `caretaker next ...`: exit code, stdout lines, stderr lines. */
async function next(...args: string[]): Promise<{ code: number; lines: string[]; errors: string[] }> {
  const cli = io();
  const code = await main(['next', ...args], cli);
  return { code, lines: cli.lines, errors: cli.errors };
}

/**
 * A wall-clock time at a UTC offset written out by hand (CET +01:00, CEST +02:00, EST -05:00,
 * EDT -04:00), as `caretaker next --tz` prints it.
 */
function local(wall: string, offset: string): string {
  return `${wall}:00${offset}`;
}

/** The same instant in UTC, as `--json` and a run without `--tz` print it. Only Date parsing, not the code under test. */
const utc = (iso: string) => new Date(iso).toISOString();

/** Asserts exit 0, nothing on stderr, and exactly these lines. */
async function expectInstants(args: string[], expected: string[]): Promise<void> {
  const result = await next(...args);
  assert.deepEqual(result.errors, []);
  assert.equal(result.code, 0);
  assert.deepEqual(result.lines, expected);
}

describe('caretaker next', () => {
  it('prints the next daily 02:00 in Europe/Berlin (CET in winter) in that zone, with its offset', async () => {
    await expectInstants(
      ['0 2 * * *', '--tz', 'Europe/Berlin', '--count', '3', '--from', '2026-01-10T12:00:00Z'],
      ['2026-01-11T02:00:00+01:00', '2026-01-12T02:00:00+01:00', '2026-01-13T02:00:00+01:00'],
    );
  });

  it('in summer (CEST) the offset is +02:00, an hour earlier in UTC; --from itself is excluded', async () => {
    // 2026-07-01T00:00Z is exactly 02:00 CEST: a tick, but --from is exclusive.
    await expectInstants(
      ['0 2 * * *', '--tz', 'Europe/Berlin', '--count', '3', '--from', '2026-07-01T00:00:00Z'],
      ['2026-07-02T02:00:00+02:00', '2026-07-03T02:00:00+02:00', '2026-07-04T02:00:00+02:00'],
    );
    assert.equal(utc('2026-07-02T02:00:00+02:00'), '2026-07-02T00:00:00.000Z', 'which is midnight UTC');
  });

  it('--tz UTC says +00:00; zones with odd offsets keep their minutes', async () => {
    await expectInstants(['0 2 * * *', '--tz', 'UTC', '--count', '1', '--from', '2026-01-10T12:00:00Z'], ['2026-01-11T02:00:00+00:00']);
    await expectInstants(['0 2 * * *', '--tz', 'Asia/Kathmandu', '--count', '1', '--from', '2026-01-10T12:00:00Z'], ['2026-01-11T02:00:00+05:45']);
    await expectInstants(['0 2 * * *', '--tz', 'America/St_Johns', '--count', '1', '--from', '2026-01-10T12:00:00Z'], ['2026-01-11T02:00:00-03:30']);
  });

  it('without --tz the expression is read in UTC; --count defaults to 5', async () => {
    await expectInstants(
      ['15 6 * * 1', '--from', '2026-01-01T00:00:00Z'], // Mondays 06:15 UTC; 2026-01-05 is a Monday
      ['2026-01-05T06:15:00.000Z', '2026-01-12T06:15:00.000Z', '2026-01-19T06:15:00.000Z', '2026-01-26T06:15:00.000Z', '2026-02-02T06:15:00.000Z'],
    );
  });

  describe('daylight saving, default dst policy (gap: shift, overlap: once)', () => {
    it('Europe/Berlin spring forward (2026-03-29, 02:00-03:00 CET does not exist): 02:30 runs at 03:00 CEST', async () => {
      await expectInstants(
        ['30 2 * * *', '--tz', 'Europe/Berlin', '--count', '3', '--from', '2026-03-27T12:00:00Z'],
        [
          local('2026-03-28T02:30', '+01:00'), // 01:30Z
          local('2026-03-29T03:00', '+02:00'), // 01:00Z: the first instant after the gap
          local('2026-03-30T02:30', '+02:00'), // 00:30Z
        ],
      );
    });

    it('Europe/Berlin spring forward: 02:00 also shifts to 03:00 CEST, the same UTC instant as the day before', async () => {
      await expectInstants(
        ['0 2 * * *', '--tz', 'Europe/Berlin', '--count', '3', '--from', '2026-03-27T12:00:00Z'],
        ['2026-03-28T02:00:00+01:00', '2026-03-29T03:00:00+02:00', '2026-03-30T02:00:00+02:00'],
      );
      await expectInstants(
        ['0 2 * * *', '--tz', 'Europe/Berlin', '--count', '3', '--from', '2026-03-27T12:00:00Z', '--json'],
        ['["2026-03-28T01:00:00.000Z","2026-03-29T01:00:00.000Z","2026-03-30T00:00:00.000Z"]'],
      );
    });

    it('Europe/Berlin fall back (2026-10-25, 02:30 happens twice): it runs once, at the first (CEST) occurrence', async () => {
      const result = await next('30 2 * * *', '--tz', 'Europe/Berlin', '--count', '3', '--from', '2026-10-23T12:00:00Z');
      assert.equal(result.code, 0);
      assert.deepEqual(result.lines, [
        local('2026-10-24T02:30', '+02:00'), // 00:30Z
        local('2026-10-25T02:30', '+02:00'), // 00:30Z, not also 01:30Z (02:30 CET)
        local('2026-10-26T02:30', '+01:00'), // 01:30Z
      ]);
      assert.ok(!result.lines.includes(local('2026-10-25T02:30', '+01:00')));
    });

    it('Europe/Berlin: an interval expression follows elapsed time (skips the gap, runs in both repeated hours)', async () => {
      // 00:45Z is 01:45 CET; 02:30 CET does not exist, so the next :30 is 03:30 CEST.
      await expectInstants(
        ['30 * * * *', '--tz', 'Europe/Berlin', '--count', '2', '--from', '2026-03-29T00:45:00Z'],
        [local('2026-03-29T03:30', '+02:00'), local('2026-03-29T04:30', '+02:00')],
      );
      // 23:45Z on the 24th is 01:45 CEST; 02:30 occurs in CEST and again in CET.
      await expectInstants(
        ['30 * * * *', '--tz', 'Europe/Berlin', '--count', '3', '--from', '2026-10-24T23:45:00Z'],
        [local('2026-10-25T02:30', '+02:00'), local('2026-10-25T02:30', '+01:00'), local('2026-10-25T03:30', '+01:00')],
      );
      // The two 02:30s differ only in their offset: without it the list would show one time twice.
      assert.equal(Date.parse(local('2026-10-25T02:30', '+01:00')) - Date.parse(local('2026-10-25T02:30', '+02:00')), 3_600_000);
    });

    it('America/New_York spring forward (2026-03-08, 02:00-03:00 EST does not exist): 02:30 runs at 03:00 EDT', async () => {
      await expectInstants(
        ['30 2 * * *', '--tz', 'America/New_York', '--count', '3', '--from', '2026-03-06T12:00:00Z'],
        [
          local('2026-03-07T02:30', '-05:00'), // 07:30Z
          local('2026-03-08T03:00', '-04:00'), // 07:00Z
          local('2026-03-09T02:30', '-04:00'), // 06:30Z
        ],
      );
    });

    it('America/New_York fall back (2026-11-01, 01:30 happens twice): once, at the first (EDT) occurrence', async () => {
      await expectInstants(
        ['30 1 * * *', '--tz', 'America/New_York', '--count', '3', '--from', '2026-10-30T12:00:00Z'],
        [
          local('2026-10-31T01:30', '-04:00'), // 05:30Z
          local('2026-11-01T01:30', '-04:00'), // 05:30Z, not also 06:30Z (01:30 EST)
          local('2026-11-02T01:30', '-05:00'), // 06:30Z
        ],
      );
    });
  });

  describe('every', () => {
    it('"every 5m" is anchored at --from: the first instant is --from itself, then every 5 minutes', async () => {
      await expectInstants(
        ['every 5m', '--count', '4', '--from', '2026-01-10T12:00:00Z'],
        ['2026-01-10T12:00:00.000Z', '2026-01-10T12:05:00.000Z', '2026-01-10T12:10:00.000Z', '2026-01-10T12:15:00.000Z'],
      );
    });

    it('the anchor is --from exactly, not a round clock time', async () => {
      await expectInstants(
        ['every 90s', '--count', '3', '--from', '2026-01-10T12:01:07.250Z'],
        ['2026-01-10T12:01:07.250Z', '2026-01-10T12:02:37.250Z', '2026-01-10T12:04:07.250Z'],
      );
    });
  });

  it('without --tz the instants are printed in UTC', async () => {
    const result = await next('30 2 * * *', '--count', '1', '--from', '2026-01-10T12:00:00Z');
    assert.deepEqual(result.lines, [utc('2026-01-11T02:30:00Z')]);
  });

  it('--json prints one line: a JSON array of ISO strings in UTC, --tz or not', async () => {
    const result = await next('0 2 * * *', '--tz', 'Europe/Berlin', '--count', '2', '--from', '2026-01-10T12:00:00Z', '--json');
    assert.equal(result.code, 0);
    assert.equal(result.lines.length, 1);
    assert.deepEqual(JSON.parse(result.lines[0] ?? 'null'), ['2026-01-11T01:00:00.000Z', '2026-01-12T01:00:00.000Z']);
    const every = await next('every 1h', '--count', '2', '--from', '2026-01-10T12:00:00Z', '--json');
    assert.deepEqual(every.lines, ['["2026-01-10T12:00:00.000Z","2026-01-10T13:00:00.000Z"]']);
  });

  describe('mistakes exit 2 with one stderr line naming the argument and the fix, and no stack trace', () => {
    const cases: { name: string; args: string[]; message: RegExp }[] = [
      { name: 'a cron value out of range', args: ['61 * * * *'], message: /^caretaker: SCHEDULE: received "61 \* \* \* \*"; minute must be 0-59 \(field 1\)$/ },
      { name: 'a negative day', args: ['0 0 -1 * *'], message: /^caretaker: SCHEDULE: received "0 0 -1 \* \*"; day-of-month must be 1-31 \(field 3\)$/ },
      { name: 'a cron expression with too few fields', args: ['0 2 *'], message: /^caretaker: SCHEDULE: received "0 2 \*"; has 3 fields; use 5 fields "minute hour day-of-month month day-of-week"/ },
      { name: 'a cron expression with a year field', args: ['0 0 * * * * 2027'], message: /^caretaker: SCHEDULE: received "0 0 \* \* \* \* 2027"; has 7 fields, but a year field is not supported/ },
      { name: 'an invalid every duration', args: ['every soon'], message: /^caretaker: SCHEDULE: received "soon"; is not a duration; use .*"5m"/ },
      { name: 'an unknown time zone', args: ['0 2 * * *', '--tz', 'Europe/Berlinn'], message: /^caretaker: --tz: received "Europe\/Berlinn"; is not an IANA time zone; use e\.g\. "Europe\/Berlin"/ },
      { name: '--count 0', args: ['0 2 * * *', '--count', '0'], message: /^caretaker: --count: received 0; use a whole number from 1 to 10000$/ },
      { name: '--count x', args: ['0 2 * * *', '--count', 'x'], message: /^caretaker: --count: received "x"; use a whole number from 1 to 10000$/ },
      { name: '--count 2.5', args: ['0 2 * * *', '--count', '2.5'], message: /^caretaker: --count: received "2\.5"; use a whole number from 1 to 10000$/ },
      { name: '--count ""', args: ['0 2 * * *', '--count', ''], message: /^caretaker: --count: received ""; use a whole number from 1 to 10000$/ },
      { name: '--count 10001', args: ['0 2 * * *', '--count', '10001'], message: /^caretaker: --count: received 10001; use a whole number from 1 to 10000$/ },
      { name: '--tz with an every schedule', args: ['every 5m', '--tz', 'Europe/Berlin'], message: /^caretaker: --tz applies to cron expressions only; remove it for "every" schedules$/ },
      { name: 'a missing SCHEDULE', args: [], message: /^caretaker: next takes one SCHEDULE argument, got 0; quote the expression, e\.g\. caretaker next '0 2 \* \* \*'$/ },
      { name: 'an unquoted expression (five arguments)', args: ['0', '2', '*', '*', '*'], message: /^caretaker: next takes one SCHEDULE argument, got 5; quote the expression/ },
      { name: 'an invalid --from', args: ['0 2 * * *', '--from', 'yesterday'], message: /^caretaker: --from: received "?yesterday"?; use an ISO-8601 instant with a zone/ },
      { name: 'an unknown option', args: ['0 2 * * *', '--bogus'], message: /^caretaker: unknown option --bogus; caretaker next --help lists the options$/ },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const result = await next(...c.args);
        assert.equal(result.code, 2);
        assert.deepEqual(result.lines, [], 'nothing on stdout');
        assert.equal(result.errors.length, 1, result.errors.join('\n'));
        const line = result.errors[0] ?? '';
        assert.match(line, c.message);
        assert.doesNotMatch(line, /\n|\bat .*\.ts:\d+|Error:/, 'one line, no stack trace');
      });
    }
  });
});

describe('caretaker next TASK', () => {
  it("prints a configured task's instants with its windows and blackout applied, and names an unknown task", async () => {
    const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'caretaker-next-task-'));
    try {
      writeFileSync(
        join(dir, 'caretaker.config.yaml'),
        `store: memory
tasks:
  vacuum:
    schedule: { cron: '0 * * * *' }
    windows: [{ days: mon-fri, from: '01:00', to: '03:00', timezone: Europe/Berlin }]
    blackout: [{ from: '02:00', to: '02:30', timezone: Europe/Berlin }]
    outside: skip
    run: { command: [echo] }
  report:
    after: vacuum
    run: { command: [echo] }
`,
      );
      const cli = { ...io(), cwd: dir };
      // 2026-01-02 is a Friday; CET is UTC+1.
      assert.equal(await main(['next', 'vacuum', '--from', '2026-01-02T00:00:00Z', '--count', '3'], cli), 0);
      assert.deepEqual(cli.lines, ['2026-01-02T00:00:00.000Z', '2026-01-05T00:00:00.000Z', '2026-01-06T00:00:00.000Z']);
      const after = { ...io(), cwd: dir };
      assert.equal(await main(['next', 'report', '--json'], after), 0);
      assert.deepEqual(after.lines, ['[]']);
      assert.match(after.errors.join('\n'), /report has no instant of its own to come: it runs only after other tasks/);
      for (const count of ['0', '10001']) {
        const bad = { ...io(), cwd: dir };
        assert.equal(await main(['next', 'vacuum', '--count', count], bad), 2);
        assert.match(bad.errors.join('\n'), /--count: received \d+; use a whole number from 1 to 10000/);
      }
      const wrong = { ...io(), cwd: dir };
      assert.equal(await main(['next', 'vacum'], wrong), 2);
      assert.match(wrong.errors.join('\n'), /no task "vacum".*did you mean "vacuum"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
