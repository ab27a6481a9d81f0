import { DURATION_HINT, formatDuration } from '../util/duration.ts';
import type { OptionIssue } from '../util/errors.ts';
import { SIZE_HINT } from '../util/size.ts';

const CONFIG_DURATION_HINT = 'use a number with a unit, like "90s", "5m", "1h30m" or "7d"';
const CONFIG_SIZE_HINT = 'use a number with a unit, like "500MB", "10GB" or "1.5GiB"';

/** A unit-less amount as a message renders it: `30`, or `"30"` when it was written quoted. */
const BARE = /^"?(\d+(?:\.\d+)?)"?$/;

/**
 * Units to suggest for a bare number, the likeliest first, from its field's name: ages in days,
 * cadences in hours, waits in seconds.
 */
function durationUnits(field: string): readonly string[] {
  if (/age|older/i.test(field)) return ['d', 'h', 'm', 's'];
  if (/every|stale|window/i.test(field)) return ['h', 'm', 'd', 's'];
  return ['s', 'm', 'h', 'd'];
}

const UNIT_NAMES: Readonly<Record<string, string>> = { d: 'days', h: 'hours', m: 'minutes', s: 'seconds' };
const choices = (options: readonly string[]) => `${options.slice(0, -1).join(', ')} or ${options.at(-1)}`;

/** A whole number of at least 1000 was most likely written as the library reads it (ms, bytes): say what it was. */
const large = (amount: string) => Number.isInteger(Number(amount)) && Number(amount) >= 1000;

function durationFix(amount: string, field: string): string {
  const units = durationUnits(field);
  const written = units.map((u) => `"${amount}${u}"`);
  const fix = large(amount)
    ? `write "${formatDuration(Number(amount))}" (the ${amount} ms it was read as until now), or another unit, e.g. ${written[0]}`
    : `write ${written[0]} (${UNIT_NAMES[units[0] as string]}), ${choices(written.slice(1))}`;
  return `a duration in a config file needs a unit; ${fix}`;
}

const SIZE_UNITS: readonly (readonly [string, number])[] = [
  ['GiB', 2 ** 30],
  ['MiB', 2 ** 20],
  ['KiB', 2 ** 10],
  ['GB', 1e9],
  ['MB', 1e6],
  ['KB', 1e3],
];

function sizeFix(amount: string, field: string): string {
  const bytes = Number(amount);
  const exact = SIZE_UNITS.find(([, size]) => bytes % size === 0);
  const units = /total/i.test(field) ? ['GB', 'MB', 'KB'] : ['MB', 'GB', 'KB'];
  const fix = large(amount)
    ? `write "${amount}B" (the bytes it was read as until now)${exact !== undefined ? `, i.e. "${bytes / exact[1]}${exact[0]}"` : ''}, or another unit, e.g. "${amount}${units[0]}"`
    : `write ${choices([...units.map((u) => `"${amount}${u}"`), `"${amount}B" (bytes)`])}`;
  return `a size in a config file needs a unit; ${fix}`;
}

/**
 * Words the problems of a config file for a config file: the shared option schemas suggest
 * milliseconds and bytes as plain numbers, which `requiringUnits` refuses there. A bare
 * number gets the units to write it with; any other bad duration or size, the hint without numbers.
 */
export function inConfigTerms(issues: readonly OptionIssue[]): OptionIssue[] {
  return issues.map((issue) => {
    const duration = issue.fix.endsWith(DURATION_HINT);
    if (!duration && !issue.fix.endsWith(SIZE_HINT)) return issue;
    const field = issue.path.split('.').at(-1) ?? '';
    const amount = BARE.exec(issue.received)?.[1];
    if (amount !== undefined) return { ...issue, fix: duration ? durationFix(amount, field) : sizeFix(amount, field) };
    const fix = duration ? `${issue.fix.slice(0, -DURATION_HINT.length)}${CONFIG_DURATION_HINT}` : `${issue.fix.slice(0, -SIZE_HINT.length)}${CONFIG_SIZE_HINT}`;
    return { ...issue, fix };
  });
}
