import { type CronField, type CronFields, readCron } from './cron-fields.ts';
import { zoneOffsetMs } from './zoned-time.ts';

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const ORDINALS = ['', 'first', 'second', 'third', 'fourth', 'fifth'];
/** Longer lists read worse than the expression itself. */
const MAX_ITEMS = 6;

/**
 * A cron expression in words with its zone, for the shapes people write: "at 02:00 every day,
 * Europe/Berlin", "every 15 minutes", "at 09:00 on Monday to Friday, America/New_York". Other
 * shapes read as the expression and the zone: a wrong sentence would be worse than none.
 * The expression must be one croner accepted.
 */
export function describeCron(expression: string, timezone: string): string {
  const fields = readCron(expression);
  const words = 'problem' in fields ? null : inWords(fields, timezone);
  return words ?? `cron "${expression}", ${timezone}`;
}

function inWords(f: CronFields, timezone: string): string | null {
  const days = describeDays(f);
  if (days === null) return null;
  const withDays = (time: string) => (days === '' ? time : `${time} ${days}`);
  const seconds = f.second?.values ?? [0];
  const times = f.minute.values.length * f.hour.values.length;
  if (seconds.length === 1 && !f.minute.star && !f.hour.star && times <= MAX_ITEMS) {
    const list = f.hour.values.flatMap((h) => f.minute.values.map((m) => clock(h, m, seconds[0] as number)));
    return `at ${joinList(list)} ${days === '' || days.startsWith('in ') ? `every day${days === '' ? '' : ` ${days}`}` : days}, ${timezone}`;
  }
  if (f.hour.values.length === 24) {
    const cadence = withinHour(f.second, f.minute, days === '');
    if (cadence === null) return null;
    // A cadence within the hour is the same in every zone whose offset is whole hours.
    return days === '' && wholeHours(timezone) ? cadence : `${withDays(cadence)}, ${timezone}`;
  }
  const hours = progression(f.hour.values);
  if (hours === null) return null;
  const first = hours.values[0] as number;
  const last = hours.values[hours.values.length - 1] as number;
  if (seconds.length === 1 && f.minute.values.length === 1) {
    const m = f.minute.values[0] as number;
    const every = hours.step === 1 ? 'every hour' : `every ${hours.step} hours`;
    return `${withDays(`${every} from ${clock(first, m, seconds[0] as number)} to ${clock(last, m, seconds[0] as number)}`)}, ${timezone}`;
  }
  const cadence = hours.step === 1 ? withinHour(f.second, f.minute) : null;
  if (cadence === null) return null;
  return `${withDays(`${cadence} from ${clock(first, 0)} to ${clock(last, 59)}`)}, ${timezone}`;
}

/**
 * What happens within each hour the expression runs in, or null for shapes not put in words.
 * "every hour, on the hour" reads well only `alone`, with no days after it.
 */
function withinHour(second: CronField | null, minute: CronField, alone = false): string | null {
  const seconds = second?.values ?? [0];
  if (minute.values.length === 60) {
    if (seconds.length === 1) return seconds[0] === 0 ? 'every minute' : `at second ${seconds[0]} of every minute`;
    const step = evenlyThroughout(seconds);
    if (step === null) return null;
    return step === 1 ? 'every second' : `every ${step} seconds`;
  }
  if (seconds.length !== 1 || seconds[0] !== 0) return null;
  const step = minute.values.length > 1 ? evenlyThroughout(minute.values) : null;
  if (step !== null) return `every ${step} minutes`;
  if (minute.values.length === 1) return minute.values[0] === 0 && alone ? 'every hour, on the hour' : `at minute ${minute.values[0]} of every hour`;
  const list = runs(minute.values, String);
  return list === null ? null : `at minutes ${joinList(list)} of every hour`;
}

/** The days the expression runs on: '' for every day, null for shapes not put in words. */
function describeDays(f: CronFields): string | null {
  const { day, weekday, month } = f;
  if (day.unusual || weekday.unusual) return null;
  const allWeekdays = weekday.values.length === 7 && weekday.nth.length === 0;
  const allDays = day.values.length === 31;
  let onDays: string | null;
  // croner: a "*" day field leaves the other to decide; two restricted ones match either way.
  if (weekday.star) onDays = day.star || allDays ? '' : daysOfMonth(day);
  else if (day.star) onDays = allWeekdays ? '' : weekdays(weekday);
  else if (allDays || allWeekdays) onDays = '';
  else {
    const a = daysOfMonth(day);
    const b = weekdays(weekday);
    onDays = a === null || b === null ? null : `${a} or ${b}`;
  }
  if (onDays === null) return null;
  if (month.values.length === 12) return onDays;
  if (month.values.length === 1 && /^on day \d+ of the month$/.test(onDays)) {
    return `on ${MONTHS[(month.values[0] as number) - 1]} ${day.values[0]}`;
  }
  const months = runs(month.values, (m) => MONTHS[m - 1] as string);
  if (months === null) return null;
  return [onDays, `in ${joinList(months)}`].filter((s) => s !== '').join(' ');
}

function daysOfMonth(day: CronField): string | null {
  const list = runs(day.values, String);
  if (list === null) return null;
  if (day.last) list.push('the last day');
  if (list.length === 0 || list.length > MAX_ITEMS) return null;
  const noun = day.values.length === 0 ? '' : day.values.length === 1 ? 'day ' : 'days ';
  return `on ${noun}${joinList(list)} of the month`;
}

function weekdays(weekday: CronField): string | null {
  if (weekday.nth.length > 0) {
    const only = weekday.nth[0];
    if (weekday.nth.length > 1 || weekday.values.length > 0 || only === undefined) return null;
    return `on the ${only.nth === 'last' ? 'last' : ORDINALS[only.nth]} ${WEEKDAYS[only.weekday]} of the month`;
  }
  // Monday first, so that Saturday and Sunday read as neighbours.
  const mondayFirst = weekday.values.map((d) => (d === 0 ? 7 : d)).sort((a, b) => a - b);
  const list = runs(mondayFirst, (d) => WEEKDAYS[d % 7] as string);
  return list === null ? null : `on ${joinList(list)}`;
}

/** Sorted values as list items, three or more neighbours as "a to b"; null when too many. */
function runs(values: readonly number[], name: (v: number) => string): string[] | null {
  const items: string[] = [];
  for (let i = 0; i < values.length; ) {
    let j = i;
    while (j + 1 < values.length && (values[j + 1] as number) === (values[j] as number) + 1) j++;
    if (j - i >= 2) items.push(`${name(values[i] as number)} to ${name(values[j] as number)}`);
    else for (let k = i; k <= j; k++) items.push(name(values[k] as number));
    i = j + 1;
  }
  return items.length > MAX_ITEMS ? null : items;
}

/** Values evenly spaced by `step` (1 for a single value), or null. */
function progression(values: readonly number[]): { values: readonly number[]; step: number } | null {
  if (values.length === 0) return null;
  if (values.length === 1) return { values, step: 1 };
  const step = (values[1] as number) - (values[0] as number);
  for (let i = 1; i < values.length; i++) if ((values[i] as number) - (values[i - 1] as number) !== step) return null;
  return { values, step };
}

/** The step of values spaced evenly over a whole minute or hour (":00, :15, :30, :45" is 15), or null. */
function evenlyThroughout(values: readonly number[]): number | null {
  const step = progression(values);
  return step !== null && values[0] === 0 && values.length * step.step === 60 ? step.step : null;
}

function joinList(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

const two = (n: number) => String(n).padStart(2, '0');

function clock(hour: number, minute: number, second = 0): string {
  return `${two(hour)}:${two(minute)}${second === 0 ? '' : `:${two(second)}`}`;
}

const wholeHourZones = new Map<string, boolean>();

/** True when the zone's offset is a whole number of hours in winter and in summer. */
function wholeHours(timezone: string): boolean {
  let whole = wholeHourZones.get(timezone);
  if (whole === undefined) {
    const year = new Date().getUTCFullYear();
    whole = [Date.UTC(year, 0, 15), Date.UTC(year, 6, 15)].every((t) => zoneOffsetMs(t, timezone) % 3_600_000 === 0);
    wholeHourZones.set(timezone, whole);
  }
  return whole;
}
