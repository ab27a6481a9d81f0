/**
 * Random and near-valid schedule specs through the public parsing: parseSchedule and
 * scheduler.add. Each spec is either a valid schedule whose upcoming instants strictly increase
 * (and are found quickly), or an InvalidOptionError whose issues name `schedule…`; never
 * another exception, never a hang.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CronPattern } from 'croner';
import fc from 'fast-check';
import type { CliIo } from '../../src/cli/context.ts';
import { describeCron } from '../../src/engine/schedules/cron-describe.ts';
import { type CronField, readCron } from '../../src/engine/schedules/cron-fields.ts';
import { main } from '../../src/cli/main.ts';
import { parseInstant } from '../../src/engine/schedules/index.ts';
import { createScheduler, parseDuration, parseSchedule } from '../../src/index.ts';
import { assertNoStack, assertOptionError, fuzz, garbage, nastyNumber, nastyString, optionError } from './support.ts';

/** The most a parse plus a few lookups may take: croner searches years ahead for rare matches. */
const BUDGET_MS = 1_500;
const T2026 = Date.parse('2026-01-01T00:00:00Z');

const int = (min: number, max: number) => fc.integer({ min, max }).map(String);
const NAMES = ['JAN', 'feb', 'Dec', 'MON', 'sun', 'Fri', 'XYZ'];

/** One cron field: mostly plausible pieces, with out-of-range values, steps of 0, L, W, # and huge lists. */
const field: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('*', '*', '0', '1', '*/5', '1-5', '?', 'L') },
  { weight: 2, arbitrary: fc.constantFrom('W', 'LW', '*/0', '*/1', '0/0', '1-0', '5-5', '-1', '', '*/', ',', '-', '#', 'L-3', '15W', '5L', '1#5', '6#6', '0#1', '7L', '1-7/2', '*/9999999999') },
  { weight: 2, arbitrary: int(-5, 100) },
  { weight: 1, arbitrary: fc.tuple(int(0, 70), int(0, 70)).map(([a, b]) => `${a}-${b}`) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('*', '0', '5-50', '10'), int(0, 100)).map(([a, n]) => `${a}/${n}`) },
  { weight: 1, arbitrary: fc.array(int(0, 99), { minLength: 2, maxLength: 200 }).map((l) => l.join(',')) },
  { weight: 1, arbitrary: fc.tuple(int(0, 8), int(-1, 7)).map(([d, n]) => `${d}#${n}`) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...NAMES), fc.constantFrom('', '-MON', '-DEC', ',TUE', '/2')).map(([a, b]) => a + b) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...'0123456789*/,-#LW?'), minLength: 1, maxLength: 6 }) },
);

/** A field valid for its position (`max` its highest value), in one of the forms cron allows. */
const validField = (min: number, max: number) =>
  fc.oneof(
    fc.constant('*'),
    int(min, max),
    fc.tuple(int(min, max), int(min, max)).map(([a, b]) => (Number(a) <= Number(b) ? `${a}-${b}` : `${b}-${a}`)),
    int(1, max).map((n) => `*/${n}`),
    fc.uniqueArray(fc.integer({ min, max }), { minLength: 2, maxLength: 5 }).map((l) => l.join(',')),
  );
const RANGES: readonly (readonly [number, number])[] = [[0, 59], [0, 59], [0, 23], [1, 31], [1, 12], [0, 7]];
/** Valid 5- or 6-field expressions, one field sometimes swapped for a near miss. */
const nearValid: fc.Arbitrary<string> = fc
  .tuple(fc.boolean(), fc.tuple(...RANGES.map(([a, b]) => validField(a, b))), fc.option(fc.tuple(fc.nat({ max: 5 }), field), { freq: 3 }))
  .map(([seconds, fields, swap]) => {
    const list = seconds ? [...fields] : fields.slice(1);
    if (swap !== null) list[swap[0] % list.length] = swap[1];
    return list.join(' ');
  });

/** Near-valid expressions, 4 to 7 random fields with odd spacing, nicknames, and random text. */
const cronText: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: nearValid },
  { weight: 8, arbitrary: fc.tuple(fc.array(field, { minLength: 4, maxLength: 7 }), fc.constantFrom(' ', '  ', '\t', ' \n ')).map(([fields, sep]) => fields.join(sep)) },
  { weight: 1, arbitrary: fc.constantFrom('@daily', '@hourly', '@yearly', '@annually', '@monthly', '@weekly', '@midnight', '@reboot', '@every 5m', '@DAILY', '@', '') },
  { weight: 2, arbitrary: nastyString },
);

const KNOWN_ZONES = Intl.supportedValuesOf('timeZone');
const timezone: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(undefined, 'UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Pacific/Kiritimati', 'Asia/Kathmandu', 'Antarctica/Troll') },
  { weight: 3, arbitrary: fc.constantFrom(...KNOWN_ZONES) },
  { weight: 1, arbitrary: fc.constantFrom('+05:00', '-14:00', '+14:01', 'UTC+5', 'Etc/GMT+14', 'Etc/GMT-15', 'EST5EDT', 'utc', 'europe/berlin', 'Mars/Olympus', 'Europe/Berln', '', ' UTC', 'Z', 'GMT0') },
  { weight: 1, arbitrary: fc.oneof(nastyString, nastyNumber) },
);
const dst: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.record({ gap: fc.constantFrom('shift', 'skip', 'later', undefined), overlap: fc.constantFrom('once', 'both', 'twice', undefined) }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: garbage },
);
const cronSpec = fc.record({ cron: fc.oneof({ weight: 5, arbitrary: cronText }, { weight: 1, arbitrary: garbage }), timezone, dst }).map((s) => {
  const spec: Record<string, unknown> = { cron: s.cron };
  if (s.timezone !== undefined) spec.timezone = s.timezone;
  if (s.dst !== undefined) spec.dst = s.dst;
  return spec;
});

const durationLike = fc.oneof(nastyString, nastyNumber, fc.integer({ min: 0, max: 10 ** 15 }), fc.constantFrom('1ms', '5m', '1h30m', '0s', '7d', '1.5h', '99999999w', '1e3ms'));
const instantLike = fc.oneof(
  fc.integer({ min: -(10 ** 16), max: 10 ** 16 }),
  fc.date({ noInvalidDate: false }),
  fc.date().map((d) => (Number.isNaN(d.getTime()) ? 'x' : d.toISOString())),
  fc.constantFrom('2026-12-01T02:00:00Z', '2026-12-01T02:00:00', '2026-12-01 02:00Z', '+275760-09-13T00:00:00Z', '2026-02-30T00:00:00Z', '2026-12-01T25:00:00+01:00'),
  nastyString,
);
const everySpec = fc.record({ every: durationLike, initialDelay: durationLike, anchor: instantLike }, { requiredKeys: ['every'] });
const atSpec = fc.record({ at: instantLike });
/** Specs of every kind, with extra, missing and several kinds' keys. */
const anySpec: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: cronSpec },
  { weight: 2, arbitrary: everySpec },
  { weight: 1, arbitrary: atSpec },
  { weight: 1, arbitrary: fc.tuple(fc.oneof(cronSpec, everySpec, atSpec), fc.dictionary(fc.constantFrom('every', 'cron', 'at', 'timezon', 'intialDelay', 'x'), garbage, { maxKeys: 2 })).map(([a, b]) => ({ ...a, ...b })) },
  { weight: 1, arbitrary: garbage },
);

/** Fragments of croner's messages (croner 11): none may appear in what we say. */
const CRONER_WORDING = [
  'CronPattern',
  'CronOptions',
  'Invalid value for',
  "mode '",
  '5-or-6-parts',
  'seven',
  'space separated parts',
  'configuration entry',
  'contains illegal characters',
  'Syntax error',
  'illegal stepping',
  'illegal range',
  'illegal lower range',
  'From value is larger',
  'is not a number: ',
  'has to stand alone',
  'nth weekday out of range',
  'only allowed in',
  'check for trailing spaces',
  'dayOfWeek',
  'nearestWeekdays',
  'event-based trigger',
  'toTZ',
  'Original error',
  'Type: ',
];

/** Latest instant a Date can hold; a schedule must never name one beyond it. */
const MAX_DATE_MS = 8.64e15;
const iso = (ms: number) => (Math.abs(ms) <= MAX_DATE_MS ? new Date(ms).toISOString() : `${ms} ms`);

/**
 * Whether a spec's instants can leave the Date range (12 ticks ahead): the engine bug the todo
 * test below tracks. The other properties skip those specs so that they stay green.
 */
function beyondDates(spec: unknown, from: number): boolean {
  if (typeof spec !== 'object' || spec === null) return false;
  const s = spec as Record<string, unknown>;
  const ms = (value: unknown) => parseDuration(value) ?? 0;
  const instant = (value: unknown) => Math.abs(parseInstant(value) ?? from);
  return instant(s.at) > MAX_DATE_MS || instant(s.anchor) + ms(s.initialDelay) + 13 * ms(s.every) > MAX_DATE_MS;
}

/** The next instants of a parsed schedule from `from` (up to 12, fewer when it ends). */
function upcoming(spec: unknown, from: number): number[] {
  const schedule = parseSchedule(spec).bind(null, from);
  const out: number[] = [];
  for (let previous = from, next = schedule.nextAfter(from); next !== null && out.length < 12; previous = next, next = schedule.nextAfter(next)) {
    assert.ok(Number.isFinite(next) && next > previous, `${JSON.stringify(spec)}: ${iso(next)} does not follow ${iso(previous)}`);
    out.push(next);
  }
  return out;
}

const fromArb = fc.integer({ min: T2026 - 20 * 365 * 86_400_000, max: T2026 + 50 * 365 * 86_400_000 });

/** Parses `spec`: increasing instants from `from`, or issues all under `schedule`, within the budget. */
function checkSpec(spec: unknown, from: number, paths = /^schedule(\.|$)/): void {
  const started = performance.now();
  const error = optionError(() => parseSchedule(spec), 'parseSchedule');
  if (error === undefined) upcoming(spec, from);
  else for (const issue of error.issues) assert.match(issue.path, paths, error.message);
  const elapsed = performance.now() - started;
  assert.ok(elapsed < BUDGET_MS, `${JSON.stringify(spec)}: parsing and 12 lookups took ${Math.round(elapsed)} ms`);
}

describe('schedule specs (fast-check)', () => {
  it('cron expressions in real zones: increasing instants, or a typed error naming schedule.cron', () => {
    const zone = fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'Antarctica/Troll', ...KNOWN_ZONES.slice(0, 50));
    const dstOption = fc.option(fc.record({ gap: fc.constantFrom('shift', 'skip'), overlap: fc.constantFrom('once', 'both') }), { nil: undefined });
    fc.assert(
      fc.property(cronText, zone, dstOption, fromArb, (cron, timezone, dstValue, from) => {
        checkSpec({ cron, timezone, ...(dstValue === undefined ? {} : { dst: dstValue }) }, from, /^schedule\.cron$/);
      }),
      fuzz(500, 0xc0de00),
    );
  });

  it('any spec: increasing instants, or a typed error naming schedule.*, within the time budget', () => {
    fc.assert(
      fc.property(anySpec, fromArb, (spec, from) => {
        fc.pre(!beyondDates(spec, from));
        checkSpec(spec, from);
      }),
      fuzz(500, 0xc0de01),
    );
  });

  it('scheduler.add: the same verdict as parseSchedule, nothing registered on refusal', () => {
    const scheduler = createScheduler({ instance: 'fuzz' });
    let n = 0;
    fc.assert(
      fc.property(anySpec, (spec) => {
        fc.pre(!beyondDates(spec, Date.now()));
        const name = `task-${n++}`;
        const parsed = optionError(() => parseSchedule(spec), 'parseSchedule');
        try {
          scheduler.add({ name, schedule: spec as never, handler: () => undefined });
        } catch (error) {
          assertOptionError(error, 'add');
          assert.ok(parsed !== undefined, `add refused what parseSchedule accepted: ${error.message}`);
          assert.deepEqual(error.issues, parsed.issues);
          assert.equal(scheduler.remove(name), false, 'a refused task was registered');
          return;
        }
        assert.equal(parsed, undefined, `add accepted what parseSchedule refused: ${parsed?.message}`);
        assert.equal(scheduler.remove(name), true, 'an accepted task was not registered');
      }),
      fuzz(300, 0xc0de02),
    );
  });

  it('caretaker next: increasing ISO instants and exit 0, or exit 2 with one line naming the argument', async () => {
    const argument = fc.oneof(cronText, durationLike.map((d) => `every ${String(d)}`), nastyString);
    const option = (flag: string, value: fc.Arbitrary<string>) => fc.option(value.map((v) => [flag, v]), { nil: [] as string[] });
    await fc.assert(
      fc.asyncProperty(
        argument,
        option('--tz', fc.oneof(fc.constantFrom('UTC', 'Europe/Berlin', 'Mars/Olympus'), nastyString)),
        option('--count', fc.oneof(fc.integer({ min: -2, max: 60 }).map(String), nastyString)),
        option('--from', instantLike.map(String)),
        async (schedule, tz, count, from) => {
          const lines: string[] = [];
          const errors: string[] = [];
          const io: CliIo = { out: (l) => lines.push(l), err: (l) => errors.push(l), cwd: '/', env: {}, stdout: process.stdout };
          const code = await main(['next', schedule, ...tz, ...count, ...from], io);
          assertNoStack([...lines, ...errors].join('\n'), 'next output');
          if (code === 2) {
            assert.deepEqual(lines, []);
            // Our checks name the argument; parseArgs names the option it could not read.
            assert.match(errors.join('\n'), /^caretaker: (SCHEDULE|--tz|--count|--from|next takes one|[Uu]nknown option '?-|[Oo]ption '-)/, errors.join('\n'));
            return;
          }
          assert.equal(code, 0, errors.join('\n'));
          const instants = lines.map((l) => Date.parse(l));
          assert.ok(instants.every((t, i) => Number.isFinite(t) && (i === 0 || t > (instants[i - 1] as number))), lines.join('\n'));
        },
      ),
      // Found: an interval so long that the second instant is no valid Date crashed the command.
      { ...fuzz(300, 0xc0de04), examples: [['every 99999999w', [], [], []]] },
    );
  });

  it('croner\'s wording never reaches the user: parseSchedule, scheduler.add and caretaker next word every refusal themselves', async () => {
    const scheduler = createScheduler({ instance: 'fuzz-words' });
    await fc.assert(
      fc.asyncProperty(fc.oneof({ weight: 4, arbitrary: cronText }, { weight: 1, arbitrary: nastyString }), async (cron) => {
        const texts: string[] = [];
        const parsed = optionError(() => parseSchedule({ cron }), 'parseSchedule');
        if (parsed !== undefined) texts.push(parsed.message, ...parsed.issues.map((i) => i.fix));
        try {
          scheduler.add({ name: 'words', schedule: { cron }, handler: () => undefined });
          scheduler.remove('words');
        } catch (error) {
          texts.push((error as Error).message);
        }
        const errors: string[] = [];
        await main(['next', cron], { out: () => {}, err: (l) => errors.push(l), cwd: '/', env: {}, stdout: process.stdout });
        texts.push(...errors);
        // A fragment the expression itself contains ("totz") is the user's own text, echoed back.
        const foreign = CRONER_WORDING.filter((fragment) => !cron.toLowerCase().includes(fragment.toLowerCase()));
        for (const text of texts) {
          const leak = foreign.find((fragment) => text.toLowerCase().includes(fragment.toLowerCase()));
          assert.equal(leak, undefined, `croner's wording "${leak}" in: ${text}`);
        }
        // Whatever croner refused is explained: a field by name and position, the field count, a nickname, or the shape.
        if (parsed !== undefined) assert.match(parsed.issues[0]?.fix ?? '', /\(field [1-6]\)$|^has \d+ fields?|nickname|^is not a valid cron expression; use 5 fields|never matches|^expected a cron expression/);
      }),
      fuzz(600, 0xc0de05),
    );
    await scheduler.stop();
  });

  it('our reading of the fields (for messages and words) agrees with croner on every expression croner accepts', () => {
    const month = fc.constantFrom('JAN', 'feb', 'Dec', 'jun-AUG', 'MAR-12', '*/3', '2-11/4', 'JAN,jul', '1,JUN');
    const weekday = fc.constantFrom('MON', 'sun', 'MON-FRI', 'SAT-SUN', 'fri-sun', '0-7', '7', '5L', 'FRIL', '1#2', 'MON#5', '2#L', '1#1,1', '*/2', '1-5/2', '+1-5', 'SUN,SAT', '?');
    const day = fc.constantFrom('L', '15,L', 'LW', '15W', '1-7', '*/10', '31', '?', '*');
    const named = fc.tuple(validField(0, 59), validField(0, 23), day, month, weekday).map((f) => f.join(' '));
    fc.assert(
      fc.property(fc.oneof(cronText, named), (cron) => {
        let pattern: CronPattern;
        try {
          pattern = new CronPattern(cron.trim().replace(/\s+/g, ' '), 'UTC', { mode: '5-or-6-parts' });
        } catch {
          return;
        }
        const fields = readCron(cron);
        if ('problem' in fields) {
          // Our reading is stricter only for forms no description covers; those fall back to the expression.
          assert.match(cron, /[#LW+]|\/[A-Z]/i, `croner accepts ${JSON.stringify(cron)}, our reading says: ${fields.problem}`);
          assert.equal(describeCron(cron, 'UTC'), `cron "${cron}", UTC`);
          return;
        }
        const set = (field: CronField, offset = 0) => field.values.map((v) => v - offset);
        const flags = (array: readonly number[]) => array.flatMap((v, i) => (v ? [i] : []));
        assert.deepEqual(set(fields.minute), flags(pattern.minute), `minute of ${cron}`);
        assert.deepEqual(set(fields.hour), flags(pattern.hour), `hour of ${cron}`);
        assert.deepEqual(set(fields.month, 1), flags(pattern.month), `month of ${cron}`);
        assert.deepEqual(fields.second === null ? [0] : set(fields.second), flags(pattern.second), `second of ${cron}`);
        assert.equal(fields.day.star, pattern.starDOM, `day-of-month * of ${cron}`);
        assert.equal(fields.weekday.star, pattern.starDOW, `day-of-week * of ${cron}`);
        if (fields.day.unusual || fields.weekday.unusual) return;
        assert.deepEqual(set(fields.day, 1), flags(pattern.day), `day-of-month of ${cron}`);
        assert.equal(fields.day.last, pattern.lastDayOfMonth, `L of ${cron}`);
        const nthBits = (weekday: number) =>
          fields.weekday.nth.filter((n) => n.weekday === weekday).reduce((bits, n) => bits | (n.nth === 'last' ? 32 : 1 << (n.nth - 1)), 0);
        const masks = [0, 1, 2, 3, 4, 5, 6].map((d) => (fields.weekday.values.includes(d) ? 63 : nthBits(d)));
        assert.deepEqual(masks, pattern.dayOfWeek, `day-of-week of ${cron}`);
      }),
      fuzz(3000, 0xc0de06),
    );
  });

  it('every expression croner accepts reads in words with its zone, or as itself with its zone', () => {
    const zone = fc.constantFrom('UTC', 'Europe/Berlin', 'Asia/Kolkata', 'America/New_York');
    fc.assert(
      fc.property(cronText, zone, (cron, timezone) => {
        const parsed = optionError(() => parseSchedule({ cron, timezone }), 'parseSchedule');
        if (parsed !== undefined) return;
        const words = parseSchedule({ cron, timezone }).describe();
        assert.ok(words.length > 0 && !words.includes('undefined') && !words.includes('NaN'), words);
        // Only cadences within the hour may leave the zone out, and only in whole-hour zones.
        if (!words.endsWith(`, ${timezone}`)) assert.match(words, /^(every (\d+ )?(second|minute|seconds|minutes)|every hour, on the hour|at (second|minutes?) [\d, andto]+ of every (minute|hour))$/, words);
        if (timezone === 'Asia/Kolkata') assert.ok(words.endsWith(', Asia/Kolkata'), words);
      }),
      fuzz(1500, 0xc0de07),
    );
  });

  // Found by the properties above: an instant or interval that parsed but landed beyond what a
  // Date can hold; the task was accepted, then scheduler.task()/tasks() (and so GET /api/tasks)
  // threw "RangeError: Invalid time value" for as long as it was registered.
  it('an accepted schedule never names an instant a Date cannot hold, and its task can be listed', () => {
    const far = fc.oneof(
      fc.record({ at: fc.oneof(fc.constantFrom(MAX_DATE_MS + 1, -MAX_DATE_MS - 1, 1e300), fc.double({ min: 8e15, max: 1e18, noNaN: true })) }),
      fc.record({ every: fc.constantFrom('99999999w', 6.6e14, 2 ** 53), anchor: fc.constantFrom('+044047-02-16T17:07:03.910Z', '+275760-01-01T00:00:00Z') }),
      fc.record({ every: fc.constantFrom(1, '1s'), initialDelay: fc.constantFrom(9_004_328_358_680_146, '99999999w') }),
    );
    fc.assert(
      fc.property(far, (spec) => {
        if (optionError(() => parseSchedule(spec), 'parseSchedule') !== undefined) return;
        for (const instant of upcoming(spec, T2026)) assert.ok(Math.abs(instant) <= MAX_DATE_MS, `${JSON.stringify(spec)}: next instant ${instant} ms is not a valid Date`);
        const scheduler = createScheduler({ instance: 'fuzz-far' });
        scheduler.add({ name: 'far', schedule: spec as never, handler: () => undefined });
        assert.doesNotThrow(() => scheduler.tasks(), `${JSON.stringify(spec)}: tasks() throws`);
      }),
      fuzz(50, 0xc0de03),
    );
  });
});
