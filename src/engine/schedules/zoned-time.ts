/** Wall-clock fields of an instant in a time zone. */
export interface ZonedFields {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** True when `timeZone` is an IANA zone this runtime knows. */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock fields of `instant` in `timeZone`. */
export function zonedFields(instant: number, timeZone: string): ZonedFields {
  const fields = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const part of formatterFor(timeZone).formatToParts(instant)) {
    if (part.type in fields) fields[part.type as keyof typeof fields] = Number(part.value);
  }
  return fields;
}

/** The zone's offset from UTC at `instant`, in milliseconds (positive east of Greenwich). */
export function zoneOffsetMs(instant: number, timeZone: string): number {
  const f = zonedFields(instant, timeZone);
  const asUtc = Date.UTC(f.year, f.month - 1, f.day, f.hour, f.minute, f.second);
  return asUtc - (instant - (((instant % 1000) + 1000) % 1000));
}

/** True when two instants show the same wall-clock time in a zone. */
export function sameWallTime(a: number, b: number, timeZone: string): boolean {
  const x = zonedFields(a, timeZone);
  const y = zonedFields(b, timeZone);
  return (
    x.year === y.year &&
    x.month === y.month &&
    x.day === y.day &&
    x.hour === y.hour &&
    x.minute === y.minute &&
    x.second === y.second
  );
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/**
 * ISO-8601 with the zone's offset, e.g. `2026-03-29T03:00:00+02:00` (milliseconds only when
 * there are any). Falls back to UTC (`…Z`) where a local form would mislead: years outside
 * 0100-9999, and offsets with seconds (local mean time before about 1900), which ISO cannot write.
 */
export function isoInZone(instant: number, timeZone: string): string {
  const offset = zoneOffsetMs(instant, timeZone);
  const f = zonedFields(instant, timeZone);
  // Intl writes years before 1 without their era, and Date.UTC reads years 0-99 as 1900-1999: either shows as a day-sized offset.
  if (offset % 60_000 !== 0 || Math.abs(offset) >= 86_400_000 || f.year < 1 || f.year > 9999) return new Date(instant).toISOString();
  const ms = ((instant % 1000) + 1000) % 1000;
  const minutes = Math.abs(offset) / 60_000;
  const sign = offset < 0 ? '-' : '+';
  return `${pad(f.year, 4)}-${pad(f.month)}-${pad(f.day)}T${pad(f.hour)}:${pad(f.minute)}:${pad(f.second)}${ms === 0 ? '' : `.${pad(ms, 3)}`}${sign}${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;
}
