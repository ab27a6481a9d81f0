/**
 * Durations and sizes from random strings and numbers: parsing yields a finite, non-negative
 * whole number or nothing; the options that take them accept exactly what parses and refuse
 * the rest with an InvalidOptionError naming the option; formatting round-trips.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createScheduler, formatDuration, parseDuration } from '../../src/index.ts';
import { directoryCleanup, logRotation } from '../../src/tasks/index.ts';
import { DURATION_HINT, requiringUnits } from '../../src/util/duration.ts';
import { parseSize, SIZE_HINT } from '../../src/util/size.ts';
import { fuzz, garbage, nastyNumber, nastyString, optionError } from './support.ts';

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const SIZE_UNITS: Readonly<Record<string, number>> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };

/** Text close to a duration or a size: digits, units in any case, signs, exponents, spaces. */
const nearMiss = fc.string({ unit: fc.constantFrom(...'0123456789.-+e msShHdDwWkKMGTiIbB_,'), maxLength: 14 });
const anything: fc.Arbitrary<unknown> = fc.oneof(nearMiss, nastyString, nastyNumber, garbage);

describe('parseDuration and parseSize on anything (fast-check)', () => {
  for (const [name, parse, seed] of [['parseDuration', parseDuration, 0xd0a001], ['parseSize', parseSize, 0x51e001]] as const) {
    it(`${name}: a finite non-negative whole number, or undefined; never throws`, () => {
      fc.assert(
        fc.property(anything, (input) => {
          const value = parse(input);
          if (value !== undefined) assert.ok(Number.isInteger(value) && value >= 0, `${fc.stringify(input)} gave ${value}`);
        }),
        fuzz(500, seed),
      );
    });
  }
});

describe('durations (fast-check)', () => {
  it('a string of parts is the sum of its parts, whatever the spacing between them', () => {
    const part = fc.tuple(fc.integer({ min: 0, max: 100_000 }), fc.constantFrom(...Object.keys(DURATION_UNITS)), fc.constantFrom('', ' '));
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 6 }), fc.constantFrom('', ' ', '   '), (parts, pad) => {
        const text = pad + parts.map(([n, unit, gap]) => `${n}${gap}${unit}`).join(pad) + pad;
        const expected = parts.reduce((sum, [n, unit]) => sum + n * (DURATION_UNITS[unit] as number), 0);
        assert.equal(parseDuration(text), expected, JSON.stringify(text));
      }),
      fuzz(400, 0xd0a002),
    );
  });

  it('formatDuration round-trips every whole number of ms, and parse ∘ format ∘ parse is parse', () => {
    fc.assert(
      fc.property(fc.oneof(fc.nat(), fc.maxSafeNat(), fc.integer({ min: 0, max: 10 * 604_800_000 })), (ms) => {
        const text = formatDuration(ms);
        assert.match(text, /^(\d+(ms|s|m|h|d))+$/, `${ms} formats as ${text}`);
        assert.equal(parseDuration(text), ms, `${ms} -> ${text}`);
      }),
      fuzz(500, 0xd0a003),
    );
    fc.assert(
      fc.property(anything, (input) => {
        const ms = parseDuration(input);
        if (ms !== undefined && Number.isSafeInteger(ms)) assert.equal(parseDuration(formatDuration(ms)), ms, `${fc.stringify(input)} -> ${ms} -> ${formatDuration(ms)}`);
      }),
      fuzz(500, 0xd0a004),
    );
  });

  it('task and stop options take exactly what parses; the rest is refused naming the option and the fix', async () => {
    const scheduler = createScheduler({ instance: 'fuzz-durations' });
    let n = 0;
    fc.assert(
      fc.property(anything, fc.constantFrom('timeout', 'abortGrace', 'staleAfter', 'catchUpWindow'), (value, option) => {
        const name = `t${n++}`;
        const error = optionError(() => scheduler.add({ name, schedule: { every: '1h' }, handler: () => undefined, [option]: value }), option);
        scheduler.remove(name);
        if (parseDuration(value) !== undefined) {
          assert.equal(error, undefined, `${option}: ${fc.stringify(value)} parses but was refused: ${error?.message}`);
          return;
        }
        assert.ok(error !== undefined, `${option}: ${fc.stringify(value)} does not parse but was accepted`);
        assert.deepEqual(error.issues.map((i) => i.path), [option]);
        assert.match(error.issues[0]?.fix ?? '', new RegExp(DURATION_HINT.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      }),
      fuzz(400, 0xd0a005),
    );
    await scheduler.start();
    await fc.assert(
      fc.asyncProperty(anything.filter((v) => parseDuration(v) === undefined && v !== undefined), async (value) => {
        const error = optionError(() => scheduler.stop({ timeout: value as string }), 'stop');
        assert.ok(error !== undefined, `stop accepted ${fc.stringify(value)}`);
        assert.deepEqual(error.issues.map((i) => i.path), ['timeout']);
      }),
      fuzz(200, 0xd0a006),
    );
    assert.equal(scheduler.state, 'running', 'a refused stop() stopped the scheduler');
    await scheduler.stop();
  });
});

describe('sizes (fast-check)', () => {
  it('number, unit in any case and optional space: the number times the unit, rounded', () => {
    const amount = fc.oneof(fc.nat({ max: 10 ** 9 }).map(String), fc.tuple(fc.nat({ max: 99_999 }), fc.nat({ max: 999 })).map(([a, b]) => `${a}.${b}`));
    const unit = fc.tuple(fc.constantFrom(...Object.keys(SIZE_UNITS), ''), fc.array(fc.boolean(), { minLength: 3, maxLength: 3 })).map(([u, upper]) => [...u].map((c, i) => (upper[i] === true ? c.toUpperCase() : c)).join(''));
    fc.assert(
      fc.property(amount, fc.constantFrom('', ' '), unit, fc.constantFrom('', ' ', '\t'), (n, gap, u, pad) => {
        const expected = Math.round(Number(n) * (SIZE_UNITS[u.toLowerCase() || 'b'] as number));
        assert.equal(parseSize(`${pad}${n}${u === '' ? '' : gap}${u}${pad}`), expected, `${n}${gap}${u}`);
      }),
      fuzz(400, 0x51e002),
    );
  });

  it('size options take exactly what parses; the rest is refused naming the option and the fix', () => {
    fc.assert(
      fc.property(anything, fc.boolean(), (value, cleanup) => {
        const option = cleanup ? 'maxTotalSize' : 'maxSize';
        const error = optionError(() => (cleanup ? directoryCleanup({ root: '/tmp/caretaker-fuzz', maxTotalSize: value as string }) : logRotation({ files: 'x.log', keep: 1, maxSize: value as string })), option);
        if (parseSize(value) !== undefined || value === undefined) {
          assert.equal(error, undefined, `${option}: ${fc.stringify(value)} parses but was refused: ${error?.message}`);
          return;
        }
        assert.ok(error !== undefined, `${option}: ${fc.stringify(value)} does not parse but was accepted`);
        assert.deepEqual(error.issues.map((i) => i.path), [option]);
        assert.ok(error.issues[0]?.fix.includes(SIZE_HINT), error.message);
      }),
      fuzz(400, 0x51e003),
    );
  });
});

describe('units required, as in config files (fast-check)', () => {
  it('inside requiringUnits a bare amount other than 0 never parses; anything else parses as outside', () => {
    fc.assert(
      fc.property(anything, (input) => {
        const strict = requiringUnits(() => [parseDuration(input), parseSize(input)]);
        const bare = typeof input === 'number' || (typeof input === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(input));
        if (bare && Number(input) !== 0) assert.deepEqual(strict, [undefined, undefined], fc.stringify(input));
        else assert.deepEqual(strict, [parseDuration(input), parseSize(input)], fc.stringify(input));
      }),
      fuzz(500, 0xd0a007),
    );
  });

  it('the scope ends with its work, even when the work throws', () => {
    assert.throws(() => requiringUnits(() => assert.fail('boom')), /boom/);
    assert.equal(parseDuration(30), 30);
    assert.equal(parseSize(30), 30);
  });
});
