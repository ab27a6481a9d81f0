/**
 * Our own reading of a cron expression's fields, beside croner's. croner decides what is valid
 * and when it fires; this reading serves the two things croner's output cannot: messages that
 * name the field and the fix, and a description in words. It follows croner 11's grammar (the
 * `5-or-6-parts` mode), and a test holds its value sets equal to croner's.
 */

/** One position of an expression: its name in messages, its range, and croner's largest step. */
export interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly maxStep: number;
  /** Three-letter names in order: SUN is 0, JAN is 1. */
  readonly names?: readonly string[];
  /** How `must be …` reads when a value is out of range. */
  readonly range: string;
}

const SECOND: FieldSpec = { name: 'second', min: 0, max: 59, maxStep: 60, range: '0-59' };
const MINUTE: FieldSpec = { name: 'minute', min: 0, max: 59, maxStep: 60, range: '0-59' };
const HOUR: FieldSpec = { name: 'hour', min: 0, max: 23, maxStep: 24, range: '0-23' };
const DAY: FieldSpec = { name: 'day-of-month', min: 1, max: 31, maxStep: 31, range: '1-31' };
const MONTH: FieldSpec = {
  name: 'month',
  min: 1,
  max: 12,
  maxStep: 12,
  names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  range: '1-12 or JAN-DEC',
};
/** 0 and 7 are both Sunday; croner allows steps up to 7. */
const WEEKDAY: FieldSpec = {
  name: 'day-of-week',
  min: 0,
  max: 7,
  maxStep: 7,
  names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'],
  range: '0-7 (0 and 7 are Sunday) or SUN-SAT',
};

const NICKNAMES: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const CRON_SHAPE_HINT = 'use 5 fields "minute hour day-of-month month day-of-week", 6 with seconds first, or a nickname like "@daily"';

/** A weekday with `#n` (the n-th in the month) or `L` (the last in the month). */
export interface NthWeekday {
  readonly weekday: number;
  readonly nth: number | 'last';
}

/** One field as read. */
export interface CronField {
  readonly spec: FieldSpec;
  /** `*` or `?`: croner combines the two day fields differently when one is unrestricted. */
  readonly star: boolean;
  /** The plain values named, ascending; day-of-week 7 is stored as 0. */
  readonly values: readonly number[];
  /** Day-of-month `L`: the last day of the month. */
  readonly last: boolean;
  /** Day-of-week `5L` and `1#2`. */
  readonly nth: readonly NthWeekday[];
  /** Forms this reading accepts but does not describe: `W`, `LW`, `+` (day fields ANDed). */
  readonly unusual: boolean;
}

/** The six fields (seconds null in a 5-field expression). */
export interface CronFields {
  readonly second: CronField | null;
  readonly minute: CronField;
  readonly hour: CronField;
  readonly day: CronField;
  readonly month: CronField;
  readonly weekday: CronField;
}

/** A problem in the words of our messages: what is wrong and the fix, naming the field. */
interface CronProblem {
  readonly problem: string;
}

/**
 * Reads an expression into its fields, or says what is wrong with it. It knows the common
 * grammar, not every exotic form croner accepts (a range with "#", "*\/MON"): those come back as
 * problems too, so a problem is shown only after croner has refused the expression, and a
 * description falls back to the expression itself.
 */
export function readCron(expression: string): CronFields | CronProblem {
  let text = expression.trim();
  if (text.startsWith('@')) {
    const nickname = text.toLowerCase();
    if (nickname === '@reboot') return { problem: '"@reboot" means "at start-up", which is no schedule; use a nickname like "@daily" or a 5-field expression' };
    const expanded = NICKNAMES[nickname];
    if (expanded === undefined) {
      return { problem: `unknown nickname ${JSON.stringify(text.split(/\s/)[0])}; use @yearly, @monthly, @weekly, @daily or @hourly, or { every: "5m" } for an interval` };
    }
    text = expanded;
  }
  const parts = text.split(/\s+/).filter((p) => p !== '');
  if (parts.length === 7) return { problem: 'has 7 fields, but a year field is not supported; use 5 fields "minute hour day-of-month month day-of-week", or 6 with seconds first' };
  if (parts.length !== 5 && parts.length !== 6) return { problem: `has ${parts.length} ${parts.length === 1 ? 'field' : 'fields'}; ${CRON_SHAPE_HINT}` };
  const specs = parts.length === 6 ? [SECOND, MINUTE, HOUR, DAY, MONTH, WEEKDAY] : [MINUTE, HOUR, DAY, MONTH, WEEKDAY];
  const fields: CronField[] = [];
  for (const [i, part] of parts.entries()) {
    const field = readField(specs[i] as FieldSpec, part.replace(/\?/g, '*'));
    if (typeof field === 'string') return { problem: `${field} (field ${i + 1})` };
    fields.push(field);
  }
  const [minute, hour, day, month, weekday] = fields.slice(-5) as [CronField, CronField, CronField, CronField, CronField];
  return { second: parts.length === 6 ? (fields[0] as CronField) : null, minute, hour, day, month, weekday };
}

/** What croner's refusal of an expression means, in our words: the field and the fix. */
export function cronProblem(expression: string): string {
  const read = readCron(expression);
  return 'problem' in read ? read.problem : `is not a valid cron expression; ${CRON_SHAPE_HINT}`;
}

function readField(spec: FieldSpec, text: string): CronField | string {
  const field = { spec, star: false, values: new Set<number>(), last: false, nth: [] as NthWeekday[], unusual: false };
  if (text === '*') {
    field.star = true;
    for (let v = spec.min; v <= (spec === WEEKDAY ? 6 : spec.max); v++) field.values.add(v);
    return finish(field);
  }
  let list = text;
  if (spec === WEEKDAY && list.startsWith('+')) {
    // croner: "+" makes both day fields have to match, instead of either.
    field.unusual = true;
    list = list.slice(1);
    if (list === '') return 'day-of-week "+" needs days after it, e.g. "+1-5"';
  }
  if (spec === DAY && list.toUpperCase() === 'LW') {
    field.unusual = true;
    return finish(field);
  }
  for (const item of list.split(',')) {
    if (item === '') return `${spec.name} ${JSON.stringify(text)} has an empty item; remove the extra comma`;
    const problem = readItem(spec, item, field);
    if (problem !== null) return problem;
  }
  return finish(field);
}

function finish(field: { spec: FieldSpec; star: boolean; values: Set<number>; last: boolean; nth: NthWeekday[]; unusual: boolean }): CronField {
  const values = [...field.values].map((v) => (field.spec === WEEKDAY && v === 7 ? 0 : v));
  return { ...field, values: [...new Set(values)].sort((a, b) => a - b) };
}

type Field = Parameters<typeof finish>[0];

function readItem(spec: FieldSpec, item: string, field: Field): string | null {
  const upper = item.toUpperCase();
  const quoted = `${spec.name} ${JSON.stringify(item)}`;
  if (spec === DAY && /[LW]/.test(upper)) {
    if (upper === 'L') {
      field.last = true;
      return null;
    }
    const nearest = /^(\d+)W$/.exec(upper);
    if (nearest === null) return `${quoted}: "L" (the last day) and "W" (the nearest weekday, as in "15W") stand alone, without ranges or steps`;
    field.unusual = true;
    return checkValue(spec, Number(nearest[1]));
  }
  if (spec === WEEKDAY && /[#L]/.test(upper)) {
    const special = /^([A-Z0-9]+)(?:#([0-9A-Z]*)|L)$/.exec(upper);
    if (special === null) return `${quoted}: "L" and "#" follow a single weekday, as in "5L" (the last Friday) or "1#2" (the second Monday)`;
    const weekday = readValue(spec, special[1] as string);
    if (typeof weekday === 'string') return weekday;
    const problem = checkValue(spec, weekday);
    if (problem !== null) return problem;
    const nth = special[2];
    if (nth === undefined) field.nth.push({ weekday: weekday % 7, nth: 'last' });
    else if (nth === 'L') field.nth.push({ weekday: weekday % 7, nth: 'last' });
    else if (/^[1-5]$/.test(nth)) field.nth.push({ weekday: weekday % 7, nth: Number(nth) });
    else return `${quoted}: the number after "#" must be 1-5 (or L for the last), as in "1#2" for the second Monday`;
    return null;
  }
  if (/[LW#]/.test(upper) && !(spec.names ?? []).some((n) => upper.includes(n))) {
    const where = upper.includes('#') ? '"#" (the n-th weekday) belongs in day-of-week' : upper.includes('W') ? '"W" (the nearest weekday) belongs in day-of-month' : '"L" (last) belongs in day-of-month or day-of-week';
    return `${quoted}: ${where}`;
  }
  const slash = item.indexOf('/');
  if (slash >= 0) return readStep(spec, item, item.slice(0, slash), item.slice(slash + 1), field);
  if (/^-\d+$/.test(item)) return `${spec.name} must be ${spec.range}`;
  const dash = item.indexOf('-');
  if (dash >= 0) {
    const range = readRange(spec, item, item.slice(0, dash), item.slice(dash + 1));
    if (typeof range === 'string') return range;
    for (let v = range[0]; v <= range[1]; v++) field.values.add(v);
    return null;
  }
  const value = readValue(spec, item);
  if (typeof value === 'string') return value;
  field.values.add(value);
  return checkValue(spec, value);
}

function readStep(spec: FieldSpec, item: string, base: string, stepText: string, field: Field): string | null {
  const quoted = `${spec.name} ${JSON.stringify(item)}`;
  if (!/^\d+$/.test(stepText)) return `${quoted}: the step after "/" must be a whole number, as in "*/15"`;
  const step = Number(stepText);
  if (step < 1 || step > spec.maxStep) return `${spec.name} step must be 1-${spec.maxStep}, as in "*/15"`;
  let from: number;
  let to: number;
  if (base === '*') {
    from = spec.min;
    to = spec === WEEKDAY ? 6 : spec.max;
  } else if (base.includes('-')) {
    // croner checks only the values a stepped range reaches: "5-50/23" in day-of-month is 5 and 28.
    const range = readRange(spec, item, base.slice(0, base.indexOf('-')), base.slice(base.indexOf('-') + 1), false);
    if (typeof range === 'string') return range;
    [from, to] = range;
  } else {
    return `${quoted}: a step needs "*" or a range before the "/", as in "*/${step}" or "${spec.min}-${spec === WEEKDAY ? 6 : spec.max}/${step}"`;
  }
  for (let v = from; v <= to; v += step) {
    const problem = checkValue(spec, v);
    if (problem !== null) return problem;
    field.values.add(v);
  }
  return null;
}

function readRange(spec: FieldSpec, item: string, fromText: string, toText: string, checkEnd = true): [number, number] | string {
  if (fromText === '' || toText === '' || toText.includes('-')) return `${spec.name} ${JSON.stringify(item)} is not a range; write it as "a-b", as in "1-5"`;
  const from = readValue(spec, fromText);
  if (typeof from === 'string') return from;
  // croner reads "MON-SUN" as 1-7: Sunday closes a range as 7.
  const to = spec === WEEKDAY && toText.toUpperCase() === 'SUN' ? 7 : readValue(spec, toText);
  if (typeof to === 'string') return to;
  const problem = checkValue(spec, from) ?? (checkEnd ? checkValue(spec, to) : null);
  if (problem !== null) return problem;
  if (from > to) return `${spec.name} range ${JSON.stringify(item)} runs backwards; put the smaller value first, or list the values`;
  return [from, to];
}

function readValue(spec: FieldSpec, text: string): number | string {
  if (/^\d+$/.test(text)) return Number(text);
  const index = spec.names?.indexOf(text.toUpperCase()) ?? -1;
  if (index >= 0) return index + (spec === MONTH ? 1 : 0);
  const names = spec.names === undefined ? '' : ` or a name (${spec.names[0]}, ${spec.names[1]}, …)`;
  return `${spec.name} ${JSON.stringify(text)} is not a number${names}; use ${spec.range}, "*", a range "a-b", a list "a,b" or a step "*/n"`;
}

function checkValue(spec: FieldSpec, value: number): string | null {
  return value < spec.min || value > spec.max ? `${spec.name} must be ${spec.range}` : null;
}
