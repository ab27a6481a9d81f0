/**
 * A length of time: milliseconds as a number, or a string of unit-suffixed parts such as
 * `"90s"`, `"5m"`, `"1h30m"`, `"7d"` or `"250ms"`.
 */
export type Duration = number | string;

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const PART = /(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)/y;

/** The fix to show when a duration does not parse. */
export const DURATION_HINT = 'use milliseconds as a number or a string like "90s", "5m", "1h30m" or "7d"';

let unitsRequired = 0;

/**
 * Runs `work` with unit-less numbers refused by {@link parseDuration} and `parseSize`, as
 * config files need: there `maxAge: 30` read as 30 ms has meant "delete everything". Zero stays
 * allowed, since it is the same length in every unit. A scope and not a parameter: the parsers
 * run deep inside option schemas the library shares, where numbers stay milliseconds and bytes.
 * `work` must be synchronous, so no other caller can run while the scope is open.
 */
export function requiringUnits<T>(work: () => T): T {
  unitsRequired++;
  try {
    return work();
  } finally {
    unitsRequired--;
  }
}

/** True inside {@link requiringUnits}: a number without a unit other than 0 is refused. */
export function unitsRequiredNow(): boolean {
  return unitsRequired > 0;
}

/**
 * Parses a {@link Duration} into milliseconds, or returns `undefined` when it is not one.
 * Fractions are allowed per part (`"1.5h"`); the result is rounded to whole milliseconds.
 *
 * @example
 * parseDuration('1h30m'); // 5_400_000
 * parseDuration('6 hours'); // undefined
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') {
    if (unitsRequired > 0 && value !== 0) return undefined;
    // Math.max turns -0 into 0: a duration is never negative, not even negative zero.
    return Number.isFinite(value) && value >= 0 ? Math.max(0, Math.round(value)) : undefined;
  }
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const match = PART.exec(text);
    if (match === null) return undefined;
    total += Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? Number.NaN);
    // Allow spaces between parts ("1h 30m"), nothing else.
    while (text[PART.lastIndex] === ' ') PART.lastIndex++;
  }
  return Number.isFinite(total) ? Math.round(total) : undefined;
}

/**
 * Formats milliseconds as a compact duration string that {@link parseDuration} reads back.
 *
 * @example
 * formatDuration(5_400_000); // "1h30m"
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return 'forever';
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
    ['ms', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}
