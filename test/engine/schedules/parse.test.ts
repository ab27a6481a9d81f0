import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextRuns, parseSchedule } from '../../../src/engine/schedules/index.ts';
import { checkSchedule } from '../../../src/engine/schedules/parse.ts';
import { InvalidOptionError } from '../../../src/util/errors.ts';

function problems(spec: unknown): string[] {
  try {
    parseSchedule(spec);
  } catch (error) {
    assert.ok(error instanceof InvalidOptionError);
    assert.equal(error.code, 'ERR_INVALID_OPTION');
    return error.issues.map((i) => `${i.path}: ${i.received}: ${i.fix}`);
  }
  assert.fail('expected an error');
}

describe('parseSchedule', () => {
  it('accepts the three kinds', () => {
    assert.equal(parseSchedule({ every: '6h', initialDelay: '5m' }).describe(), 'every 6h');
    assert.equal(parseSchedule({ cron: '0 2 * * *', timezone: 'Europe/Berlin' }).kind, 'cron');
    assert.equal(parseSchedule({ cron: '0 2 * * *', timezone: 'Europe/Berlin' }).describe(), 'at 02:00 every day, Europe/Berlin');
    assert.equal(parseSchedule({ cron: '0 2 * * *' }).describe(), 'at 02:00 every day, UTC', 'the default zone is said too');
    assert.equal(parseSchedule({ at: '2026-12-01T02:00:00Z' }).key, `at:${Date.parse('2026-12-01T02:00:00Z')}`);
    assert.equal(parseSchedule({ at: '2026-12-01T03:00:00+01:00' }).describe(), 'once at 2026-12-01T02:00:00Z (UTC)');
    assert.equal(parseSchedule({ at: 1_700_000_000_123 }).describe(), 'once at 2023-11-14T22:13:20.123Z (UTC)');
    assert.equal(parseSchedule({ at: new Date(0) }).kind, 'at');
    assert.equal(parseSchedule({ every: 1000, anchor: '2026-01-01T00:00:00+01:00' }).kind, 'every');
  });

  it('names the field, the value and the fix for each mistake', () => {
    assert.deepEqual(problems({ every: '6 hours' }), [
      'schedule.every: "6 hours": is not a duration; use milliseconds as a number or a string like "90s", "5m", "1h30m" or "7d"',
    ]);
    assert.deepEqual(problems({ cron: '61 * * * *' }), ['schedule.cron: "61 * * * *": minute must be 0-59 (field 1)']);
    assert.deepEqual(problems({ cron: '0 0 -1 * *' }), ['schedule.cron: "0 0 -1 * *": day-of-month must be 1-31 (field 3)']);
    assert.deepEqual(problems({ cron: '0 0  0 1 *' }), ['schedule.cron: "0 0  0 1 *": day-of-month must be 1-31 (field 3)']);
    assert.match(problems({ cron: '* * *' })[0] ?? '', /^schedule\.cron: "\* \* \*": has 3 fields; use 5 fields "minute hour day-of-month month day-of-week", 6 with seconds first/);
    assert.match(problems({ cron: '0 0 * * * * *' })[0] ?? '', /^schedule\.cron: .*: has 7 fields, but a year field is not supported/);
    assert.match(problems({ cron: '0 0 30 2 *' })[0] ?? '', /never matches a future date/);
    assert.match(problems({ cron: '0 0 30 2 *' })[0] ?? '', /never matches a future date/, 'the same text is refused again');
    assert.match(problems({ cron: '0 2 * * *', timezone: 'Mars/Olympus' })[0] ?? '', /^schedule\.timezone: "Mars\/Olympus": is not an IANA time zone/);
    assert.match(problems({ cron: '0 2 * * *', dst: { gap: 'later' } })[0] ?? '', /schedule\.dst\.gap: "later": use "shift" or "skip"/);
    assert.match(problems({ at: '2026-12-01 02:00' })[0] ?? '', /schedule\.at: .*with a zone/);
    assert.match(problems({ at: '2026-12-01T02:00:00' })[0] ?? '', /schedule\.at/);
    assert.match(problems({ every: 0 })[0] ?? '', /at least 1ms/);
    assert.match(problems({ every: '1m', intialDelay: '5m' })[0] ?? '', /schedule\.intialDelay: "5m": unknown option; did you mean "initialDelay"\?/);
    assert.match(problems({ every: '1m', cron: '* * * * *' })[0] ?? '', /give only one of "every", "cron"/);
    assert.match(problems({})[0] ?? '', /give exactly one of "every", "cron" or "at"/);
    assert.match(problems('every 5m')[0] ?? '', /expected an object/);
    assert.equal(problems({ every: 'x', initialDelay: 'y' }).length, 2);
  });
});

describe('nextRuns', () => {
  it('gives each refused spec issues of its own, none left over for the next, even after a getter threw', () => {
    const first = checkSchedule({ every: 'soon' });
    assert.ok(Array.isArray(first));
    const second = checkSchedule({ every: 'later' });
    assert.ok(Array.isArray(second));
    assert.notEqual(first, second);
    assert.deepEqual(first.map((i) => i.received), ['"soon"'], 'the second check did not touch the first answer');
    // An issue found before the getter threw must not stay behind for the next spec.
    const hostile = {
      every: 'bad',
      get initialDelay(): string {
        throw new Error('getter');
      },
    };
    assert.ok(Array.isArray(checkSchedule({ every: '1x', anchor: 'no' })));
    assert.throws(() => checkSchedule(hostile), /getter/);
    const after = checkSchedule({ every: '1m' });
    assert.ok(!Array.isArray(after), 'no issue of the specs before carried over');
    assert.equal(after.describe(), 'every 1m');
  });

  it('judges a spec whose getter checks another spec on its own issues, and the other on its own', () => {
    let inner: ReturnType<typeof checkSchedule> | undefined;
    const outer = checkSchedule({
      every: '5m',
      bogus: 1,
      get initialDelay(): string {
        inner = checkSchedule({ every: '1m' });
        return '1s';
      },
    });
    assert.ok(Array.isArray(outer), 'the unknown key is still refused');
    assert.deepEqual(outer.map((i) => i.path), ['schedule.bogus']);
    assert.ok(inner !== undefined && !Array.isArray(inner), 'the valid inner spec is accepted');
    let thrown: unknown;
    const refused = checkSchedule({
      every: 'bogus',
      get initialDelay(): undefined {
        try {
          parseSchedule({ every: '1m' });
        } catch (error) {
          thrown = error;
        }
        return undefined;
      },
    });
    assert.equal(thrown, undefined, 'the inner valid spec is not refused with the outer one\'s issue');
    assert.ok(Array.isArray(refused));
    assert.deepEqual(refused.map((i) => i.path), ['schedule.every']);
  });

  it('lists upcoming instants of a spec', () => {
    assert.deepEqual(
      nextRuns({ cron: '0 2 * * *', timezone: 'Europe/Berlin' }, { from: '2026-03-27T12:00:00Z', count: 3 }).map((d) => d.toISOString()),
      ['2026-03-28T01:00:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:00:00.000Z'],
    );
    assert.deepEqual(
      nextRuns({ every: '5m' }, { from: '2026-01-01T00:00:00Z', count: 2 }).map((d) => d.toISOString()),
      ['2026-01-01T00:00:00.000Z', '2026-01-01T00:05:00.000Z'],
    );
    assert.deepEqual(nextRuns({ at: '2026-01-01T00:00:00Z' }, { from: '2026-06-01T00:00:00Z' }), []);
    assert.throws(() => nextRuns({ every: '5m' }, { count: 0 }), /count: received 0; use a whole number/);
  });
});
