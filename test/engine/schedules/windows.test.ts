import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseSchedule } from '../../../src/engine/schedules/parse.ts';
import { instantOfLocal, parseDays, WindowedDefinition, WindowSet } from '../../../src/engine/schedules/windows.ts';
import { zonedFields } from '../../../src/engine/schedules/zoned-time.ts';
import { toWindows } from '../../../src/engine/smart-options.ts';

const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata'];
const T0 = Date.UTC(2026, 0, 1);
const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

const windowArb = fc
  .record({ from: fc.integer({ min: 0, max: 47 }), len: fc.integer({ min: 1, max: 40 }), days: fc.constantFrom(undefined, 'mon-fri', 'sat,sun', 'fri-mon', 'wed'), timezone: fc.constantFrom(...ZONES) })
  .map(({ from, len, days, timezone }) => ({ from: hhmm(from * 30), to: hhmm(((from + len) % 48) * 30 || 0), timezone, ...(days !== undefined ? { days } : {}) }))
  .filter((w) => w.from !== w.to);

const scheduleArb = fc.constantFrom({ every: '7m' }, { every: '1h' }, { cron: '*/20 * * * *' }, { cron: '0 3 * * *', timezone: 'Europe/Berlin' }, { cron: '30 2 * * *', timezone: 'America/New_York' }, { every: '45s' });

describe('windows', () => {
  it('reads days: names, ranges that wrap the week, and refuses the rest', () => {
    assert.deepEqual([...(parseDays('mon-fri') as Set<number>)].sort(), [1, 2, 3, 4, 5]);
    assert.deepEqual([...(parseDays('fri-mon') as Set<number>)].sort(), [0, 1, 5, 6]);
    assert.deepEqual([...(parseDays('Saturday,sun') as Set<number>)].sort(), [0, 6]);
    assert.equal(typeof parseDays('mon-'), 'string');
    assert.equal(typeof parseDays('monx'), 'string');
  });

  it('a local time in the spring-forward gap opens at the gap end; one that occurs twice, at its first', () => {
    // Europe/Berlin: 2026-03-29 02:00 → 03:00 (01:00Z); 2026-10-25 03:00 → 02:00 (01:00Z).
    assert.equal(new Date(instantOfLocal(2026, 3, 29, 150, 'Europe/Berlin')).toISOString(), '2026-03-29T01:00:00.000Z');
    assert.equal(new Date(instantOfLocal(2026, 10, 25, 150, 'Europe/Berlin')).toISOString(), '2026-10-25T00:30:00.000Z');
  });

  it('any schedule, windows and blackout: every tick is allowed, ticks increase, previousBefore inverts nextAfter, skip ticks are instants of the schedule (fast-check)', () => {
    fc.assert(
      fc.property(scheduleArb, fc.array(windowArb, { minLength: 0, maxLength: 3 }), fc.array(windowArb, { minLength: 0, maxLength: 2 }), fc.constantFrom<'skip' | 'defer'>('skip', 'defer'), fc.integer({ min: 0, max: 300 * 86_400_000 }), (spec, windows, blackouts, outside, offset) => {
        fc.pre(windows.length + blackouts.length > 0);
        const inner = parseSchedule(spec);
        const set = new WindowSet(toWindows(windows), toWindows(blackouts));
        const bound = new WindowedDefinition(inner, set, outside).bind(T0, T0);
        const plain = inner.bind(T0, T0);
        let t = T0 + offset;
        for (let i = 0; i < 15; i++) {
          const n = bound.nextAfter(t);
          if (n === null) break;
          assert.ok(n > t, 'ticks increase');
          assert.ok(set.allowed(n), `${new Date(n).toISOString()} is inside a window and no blackout`);
          if (outside === 'skip') assert.equal(plain.nextAfter(n - 1), n, 'a skip tick is an instant of the schedule');
          else {
            // A deferred tick is an instant, or the first allowed instant after one.
            const before = plain.previousBefore(n + 1);
            assert.ok(before !== null && (before === n || set.nextAllowed(before) === n), 'a defer tick is an instant or where one was deferred to');
          }
          assert.equal(bound.previousBefore(n + 1), n, 'previousBefore inverts nextAfter');
          t = n;
        }
      }),
      { numRuns: 150, seed: 20261207 },
    );
  });

  it('a schedule that never meets its windows has no tick (the search is bounded), with skip; with defer it runs at each window start', () => {
    const windows = new WindowSet(toWindows([{ from: '01:00', to: '05:00' }]), []);
    const never = new WindowedDefinition(parseSchedule({ cron: '0 12 * * *' }), windows, 'skip').bind(null, T0);
    assert.equal(never.nextAfter(T0), null);
    assert.equal(never.previousBefore(T0 + 400 * 86_400_000), null);
    const deferred = new WindowedDefinition(parseSchedule({ cron: '0 12 * * *' }), windows, 'defer').bind(null, T0);
    assert.equal(new Date(deferred.nextAfter(T0) as number).toISOString(), '2026-01-01T01:00:00.000Z');
    assert.equal(zonedFields(deferred.nextAfter(T0) as number, 'UTC').hour, 1);
  });
});
