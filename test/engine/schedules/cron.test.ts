import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { cronSchedule } from '../../../src/engine/schedules/cron.ts';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const next = (expr: string, from: string, count: number, tz = 'UTC', gap?: 'shift' | 'skip', overlap?: 'once' | 'both') => {
  const s = cronSchedule(expr, tz, gap, overlap);
  const out: (string | null)[] = [];
  let t: number | null = Date.parse(from);
  for (let i = 0; i < count && t !== null; i++) {
    t = s.nextAfter(t);
    out.push(iso(t));
  }
  return out;
};

describe('cron', () => {
  it('reads 5 fields, 6 fields with seconds, and nicknames, in UTC by default', () => {
    assert.deepEqual(next('0 2 * * *', '2026-01-01T00:00:00Z', 2), ['2026-01-01T02:00:00.000Z', '2026-01-02T02:00:00.000Z']);
    assert.deepEqual(next('*/15 * * * * *', '2026-01-01T00:00:00Z', 3), ['2026-01-01T00:00:15.000Z', '2026-01-01T00:00:30.000Z', '2026-01-01T00:00:45.000Z']);
    assert.deepEqual(next('@daily', '2026-01-01T12:00:00Z', 1), ['2026-01-02T00:00:00.000Z']);
    assert.deepEqual(next('@hourly', '2026-01-01T12:00:00Z', 1), ['2026-01-01T13:00:00.000Z']);
  });

  it('is strictly after the instant, to the millisecond', () => {
    const s = cronSchedule('0 2 * * *', 'UTC');
    assert.equal(iso(s.nextAfter(Date.parse('2026-01-01T02:00:00.000Z'))), '2026-01-02T02:00:00.000Z');
    assert.equal(iso(s.nextAfter(Date.parse('2026-01-01T01:59:59.999Z'))), '2026-01-01T02:00:00.000Z');
  });

  it('evaluates in an IANA time zone', () => {
    // 02:00 in Berlin is 01:00Z in winter (CET) and 00:00Z in summer (CEST).
    assert.deepEqual(next('0 2 * * *', '2026-01-10T00:00:00Z', 1, 'Europe/Berlin'), ['2026-01-10T01:00:00.000Z']);
    assert.deepEqual(next('0 2 * * *', '2026-07-10T00:00:00Z', 1, 'Europe/Berlin'), ['2026-07-11T00:00:00.000Z']);
    assert.deepEqual(next('30 9 * * 1-5', '2026-03-06T15:00:00Z', 2, 'America/New_York'), ['2026-03-09T13:30:00.000Z', '2026-03-10T13:30:00.000Z']);
  });

  describe('daylight saving (Europe/Berlin: 2026-03-29 02:00→03:00, 2026-10-25 03:00→02:00)', () => {
    const berlin = 'Europe/Berlin';
    it('spring forward, default shift: a 02:30 job runs once, at 03:00, the first valid instant', () => {
      assert.deepEqual(next('30 2 * * *', '2026-03-28T00:00:00Z', 3, berlin), [
        '2026-03-28T01:30:00.000Z', // 02:30 CET
        '2026-03-29T01:00:00.000Z', // 03:00 CEST: 02:30 does not exist
        '2026-03-30T00:30:00.000Z', // 02:30 CEST
      ]);
    });

    it('spring forward, gap: skip: the 02:30 job does not run that day', () => {
      assert.deepEqual(next('30 2 * * *', '2026-03-28T00:00:00Z', 2, berlin, 'skip'), ['2026-03-28T01:30:00.000Z', '2026-03-30T00:30:00.000Z']);
    });

    it('fall back, default once: a 02:30 job runs once, at the first 02:30', () => {
      assert.deepEqual(next('30 2 * * *', '2026-10-24T00:00:00Z', 3, berlin), [
        '2026-10-24T00:30:00.000Z', // 02:30 CEST
        '2026-10-25T00:30:00.000Z', // 02:30 CEST, the first of the two
        '2026-10-26T01:30:00.000Z', // 02:30 CET
      ]);
    });

    it('fall back, overlap: both: the 02:30 job runs at each 02:30', () => {
      assert.deepEqual(next('30 2 * * *', '2026-10-24T12:00:00Z', 3, berlin, 'shift', 'both'), [
        '2026-10-25T00:30:00.000Z', // 02:30 CEST
        '2026-10-25T01:30:00.000Z', // 02:30 CET, one hour later
        '2026-10-26T01:30:00.000Z',
      ]);
      // Asking from between the two occurrences finds the second one.
      const s = cronSchedule('30 2 * * *', berlin, 'shift', 'both');
      assert.equal(iso(s.nextAfter(Date.parse('2026-10-25T01:00:00Z'))), '2026-10-25T01:30:00.000Z');
      assert.equal(iso(s.previousBefore(Date.parse('2026-10-25T02:00:00Z'))), '2026-10-25T01:30:00.000Z');
    });

    it('interval expressions follow elapsed time: no gap times, both repeated hours', () => {
      assert.deepEqual(next('0 * * * *', '2026-03-29T00:00:00Z', 3, berlin), ['2026-03-29T01:00:00.000Z', '2026-03-29T02:00:00.000Z', '2026-03-29T03:00:00.000Z']);
      assert.deepEqual(next('0 * * * *', '2026-10-25T00:00:00Z', 2, berlin), ['2026-10-25T01:00:00.000Z', '2026-10-25T02:00:00.000Z']);
    });

    it('the same rules hold in the southern hemisphere (Australia/Sydney: 2026-10-04 02:00→03:00)', () => {
      assert.deepEqual(next('30 2 * * *', '2026-10-03T00:00:00Z', 2, 'Australia/Sydney'), ['2026-10-03T16:00:00.000Z', '2026-10-04T15:30:00.000Z']);
      assert.deepEqual(next('30 2 * * *', '2026-10-02T00:00:00Z', 2, 'Australia/Sydney', 'skip'), ['2026-10-02T16:30:00.000Z', '2026-10-04T15:30:00.000Z']);
    });
  });

  it('finds the previous tick by searching back, also across DST', () => {
    const s = cronSchedule('0 2 * * *', 'UTC');
    assert.equal(iso(s.previousBefore(Date.parse('2026-01-05T02:00:00Z'))), '2026-01-04T02:00:00.000Z');
    assert.equal(iso(s.previousBefore(Date.parse('2026-01-05T02:00:00.001Z'))), '2026-01-05T02:00:00.000Z');
    const yearly = cronSchedule('0 0 1 1 *', 'UTC');
    assert.equal(iso(yearly.previousBefore(Date.parse('2026-06-01T00:00:00Z'))), '2026-01-01T00:00:00.000Z');
    const skip = cronSchedule('30 2 * * *', 'Europe/Berlin', 'skip');
    assert.equal(iso(skip.previousBefore(Date.parse('2026-03-30T00:00:00Z'))), '2026-03-28T01:30:00.000Z');
  });

  it('shares one parsed schedule between tasks with the same expression', () => {
    assert.equal(cronSchedule('*/7 * * * *', 'UTC'), cronSchedule('*/7 * * * *', 'UTC'));
    assert.notEqual(cronSchedule('*/7 * * * *', 'UTC'), cronSchedule('*/7 * * * *', 'Europe/Paris'));
  });

  it('answers repeated queries from its memo with the same results as fresh evaluation', () => {
    const shared = cronSchedule('*/5 * * * *', 'UTC');
    let t = Date.parse('2026-01-01T00:00:00Z');
    for (let i = 0; i < 50; i++) {
      const probe = t + 1234;
      const fresh = cronSchedule('*/5 * * * *', 'UTC').nextAfter(probe);
      assert.equal(shared.nextAfter(probe), fresh);
      t = shared.nextAfter(t) as number;
    }
  });
});

describe('cron: previousBefore', () => {
  // Fields drawn so that every expression is valid, sparse ones included (a month, a weekday).
  const field = (max: number, min = 0) =>
    fc.oneof(
      fc.constant('*'),
      fc.integer({ min, max }).map(String),
      fc.tuple(fc.integer({ min, max }), fc.integer({ min, max })).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
      fc.integer({ min: 2, max: Math.max(2, Math.floor((max - min) / 2)) }).map((n) => `*/${n}`),
    );
  const expression = fc.tuple(fc.boolean(), field(59), field(59), field(23), field(28, 1), field(12, 1), field(6)).map(([seconds, s, m, h, dom, mon, dow]) =>
    seconds ? `${s} ${m} ${h} ${dom} ${mon} ${dow}` : `${m} ${h} ${dom} ${mon} ${dow}`,
  );

  it('is the newest tick strictly before the instant, by the same rules as nextAfter (fast-check, DST options included)', () => {
    fc.assert(
      fc.property(
        expression,
        fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu'),
        fc.constantFrom(['shift', 'once'], ['skip', 'both'], ['skip', 'once']),
        fc.integer({ min: Date.UTC(2025, 0, 1), max: Date.UTC(2028, 0, 1) }),
        (expr, zone, [gap, overlap], instant) => {
          const schedule = cronSchedule(expr, zone, gap as 'shift' | 'skip', overlap as 'once' | 'both');
          const previous = schedule.previousBefore(instant);
          if (previous === null) {
            const first = schedule.nextAfter(instant - 8 * 366 * 86_400_000);
            assert.ok(first === null || first >= instant, `${expr} ${zone}: null, but ${first} is a tick before ${instant}`);
            return;
          }
          assert.ok(previous < instant, `${expr} ${zone}: ${previous} is not before ${instant}`);
          assert.equal(schedule.nextAfter(previous - 1), previous, `${expr} ${zone}: ${new Date(previous).toISOString()} is not a tick`);
          const after = schedule.nextAfter(previous);
          assert.ok(after === null || after >= instant, `${expr} ${zone}: ${after} lies between ${previous} and ${instant}`);
        },
      ),
      { numRuns: 400, seed: 14 },
    );
  });
});
