import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { countCronTicks, CronTickWalker, nextCronTick } from '../../src/engine/schedules/count-ticks.ts';
import { cronSchedule } from '../../src/engine/schedules/cron.ts';
import { fraction, numRuns, rangeOf, scenario, seed, stepCount, stepList, valid } from './cron-scenarios.ts';

const H = 3_600_000;
const DAY = 24 * H;

describe('counting cron ticks without walking them', () => {
  it('counts what stepping counts: any expression, zone, DST option and range (fast-check)', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const schedule = valid(s.expr, s.zone, s.gap, s.overlap);
        fc.pre(schedule !== null);
        const range = rangeOf(schedule, s);
        fc.pre(range !== null);
        const [first, last] = range;
        assert.equal(countCronTicks(schedule, first, last, Number.MAX_SAFE_INTEGER), stepCount(schedule, first, last));
      }),
      { seed, numRuns: Math.ceil((numRuns * 2) / 3) },
    );
  });

  it('seeks the ticks stepping lists: skip k, then one by one (fast-check)', () => {
    fc.assert(
      fc.property(scenario, fraction, (s, at) => {
        const schedule = valid(s.expr, s.zone, s.gap, s.overlap);
        fc.pre(schedule !== null);
        const range = rangeOf(schedule, s);
        fc.pre(range !== null);
        const [first, last] = range;
        const ticks = stepList(schedule, first, last);
        const k = Math.floor(at * (ticks.length - 1));
        const walker = new CronTickWalker(schedule, first, last);
        assert.equal(walker.skip(k), k);
        const seen = [walker.tick];
        while (walker.skip(1) === 1) seen.push(walker.tick);
        assert.deepEqual(seen, ticks.slice(k));
      }),
      { seed, numRuns: Math.ceil(numRuns / 3) },
    );
  });

  it('finds the next tick after any instant as nextAfter does (fast-check)', () => {
    fc.assert(
      fc.property(scenario, fraction, fc.integer({ min: 0, max: 999 }), (s, at, ms) => {
        const schedule = valid(s.expr, s.zone, s.gap, s.overlap);
        fc.pre(schedule !== null);
        const range = rangeOf(schedule, s);
        fc.pre(range !== null);
        const [first, last] = range;
        // Anywhere in the range, on a whole second or not.
        const instant = first + Math.floor(at * (last - first)) - 1000 + ms;
        const limit = last + DAY;
        const expected = schedule.nextAfter(instant);
        assert.equal(nextCronTick(schedule, instant, limit), expected !== null && expected <= limit ? expected : null);
      }),
      { seed, numRuns },
    );
    // In the hour Berlin repeats, a 02:30 job has fired already (once) or fires at the repeat (both).
    const repeated = Date.parse('2026-10-25T01:10:00Z');
    assert.equal(nextCronTick(cronSchedule('0 30 2 * * *', 'Europe/Berlin'), repeated, repeated + 2 * DAY), Date.parse('2026-10-26T01:30:00Z'));
    assert.equal(nextCronTick(cronSchedule('0 30 2 * * *', 'Europe/Berlin', 'shift', 'both'), repeated, repeated + 2 * DAY), Date.parse('2026-10-25T01:30:00Z'));
    assert.equal(nextCronTick(cronSchedule('* 30 2 * * *', 'Europe/Berlin'), repeated, repeated + 2 * DAY), Date.parse('2026-10-25T01:30:00Z'));
  });

  it('counts whole days and DST days exactly: 86,400 ticks a day, 23 h and 25 h days, 23.5 h on Lord Howe', () => {
    const count = (expr: string, zone: string, from: string, to: string) => {
      const s = cronSchedule(expr, zone);
      const first = s.nextAfter(Date.parse(from) - 1) as number;
      const last = s.previousBefore(Date.parse(to)) as number;
      return countCronTicks(s, first, last, Number.MAX_SAFE_INTEGER);
    };
    assert.equal(count('* * * * * *', 'UTC', '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z'), 365 * 86_400);
    assert.equal(count('* * * * * *', 'Europe/Berlin', '2026-03-29T00:00:00+01:00', '2026-03-30T00:00:00+02:00'), 23 * 3600);
    assert.equal(count('* * * * * *', 'Europe/Berlin', '2026-10-25T00:00:00+02:00', '2026-10-26T00:00:00+01:00'), 25 * 3600);
    assert.equal(count('* * * * * *', 'Australia/Lord_Howe', '2026-10-04T00:00:00+10:30', '2026-10-05T00:00:00+11:00'), 23.5 * 3600);
    assert.equal(count('* * * * * *', 'Australia/Lord_Howe', '2026-04-05T00:00:00+11:00', '2026-04-06T00:00:00+10:30'), 24.5 * 3600);
    // Every second of 22:00-23:59 on each day of August, over a year: 31 × 7,200.
    assert.equal(count('* * 22-23 * 8 *', 'Europe/Berlin', '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z'), 31 * 7200);
    // Daily at 02:30 in Berlin: shift runs on the spring-forward day, skip does not, both runs twice at fall-back.
    const daily = (gap: 'shift' | 'skip', overlap: 'once' | 'both') => {
      const s = cronSchedule('0 30 2 * * *', 'Europe/Berlin', gap, overlap);
      const first = s.nextAfter(Date.parse('2026-01-01T00:00:00Z')) as number;
      return countCronTicks(s, first, s.previousBefore(Date.parse('2027-01-01T00:00:00Z')) as number, Number.MAX_SAFE_INTEGER);
    };
    assert.deepEqual([daily('shift', 'once'), daily('skip', 'once'), daily('shift', 'both'), daily('skip', 'both')], [365, 364, 366, 365]);
  });

  it('counts what stepping counts across the date line: a day skipped (Apia 2011) and repeated (Kwajalein 1969, Sitka 1867)', () => {
    const changes: readonly (readonly [string, string])[] = [
      ['Pacific/Apia', '2011-12-30T10:00:00Z'],
      ['Pacific/Kwajalein', '1969-09-30T13:00:00Z'],
      ['America/Sitka', '1867-10-19T00:31:13Z'],
    ];
    const exprs = ['0 * * * *', '*/10 * * * *', '0 30 * * * *', '0 0,30 0-5,20-23 * * *', '0 30 2 * * *', '0 0 12 * * *', '0 15 23 * * *'];
    for (const [zone, at] of changes) {
      const change = Date.parse(at);
      for (const expr of exprs) {
        for (const [gap, overlap] of [['shift', 'once'], ['skip', 'both']] as const) {
          const s = cronSchedule(expr, zone, gap, overlap);
          for (const [before, after] of [[3, 3], [1.2, 0.1], [0.1, 1.2], [0.5, 0.5], [-0.01, 1], [-0.3, 0.8], [-0.9, 1]] as const) {
            const first = s.nextAfter(change - before * DAY) as number;
            const last = change + after * DAY;
            if (first > last) continue;
            assert.equal(countCronTicks(s, first, last, Number.MAX_SAFE_INTEGER), stepCount(s, first, last), `${expr} ${zone} ${gap}/${overlap} ${before}/${after}`);
          }
        }
      }
    }
  });

  it('stops at the cap, and counts a year of every second in milliseconds', () => {
    const s = cronSchedule('* * * * * *', 'Europe/Berlin');
    const first = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(countCronTicks(s, first, first + 365 * DAY, 1000), 1000);
    countCronTicks(s, first, first + 365 * DAY, Number.MAX_SAFE_INTEGER);
    const start = performance.now();
    const count = countCronTicks(s, first + 1000, first + 1000 + 365 * DAY, Number.MAX_SAFE_INTEGER);
    const elapsed = performance.now() - start;
    assert.equal(count, 365 * 86_400 + 1);
    assert.ok(elapsed < 50, `took ${elapsed.toFixed(1)} ms`);
  });
});
