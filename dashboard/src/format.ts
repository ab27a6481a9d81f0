/** Formatting of durations, instants and countdowns. */

export function fmtDuration(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return fmtSpan(ms);
}

/** A span in at most two units: `4m 12s`, `2h 5m`, `3d 4h`. */
export function fmtSpan(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  const d = Math.floor(h / 24);
  return `${d}d ${h % 24}h`;
}

export function fmtCountdown(iso: string | null | undefined, now: number): string {
  if (!iso) return '—';
  const diff = Date.parse(iso) - now;
  if (diff > 0) return `in ${fmtSpan(diff + 999)}`;
  if (diff > -2000) return 'due now';
  return `due ${fmtSpan(-diff)} ago`;
}

export function fmtAgo(iso: string | null | undefined, now: number): string {
  if (!iso) return '—';
  const diff = now - Date.parse(iso);
  if (diff < 5000) return diff < -5000 ? `in ${fmtSpan(-diff)}` : 'just now';
  // one unit is enough for the past: "3m ago" reads better than "3m 12s ago"
  return `${fmtSpan(diff).split(' ')[0]} ago`;
}

/** The browser's IANA zone: what "your time" means. */
export const BROWSER_ZONE = new Intl.DateTimeFormat().resolvedOptions().timeZone;

/** Local times carry the zone's short name ("EST", "GMT+1"), so no time on the page is a guess. */
const dateTime = new Intl.DateTimeFormat(undefined, {
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  timeZoneName: 'short',
});

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : dateTime.format(t);
}

const formats = new Map<string, Intl.DateTimeFormat>();

/** A day (`Jan 12`) or a day and minute (`Jan 12, 03:00 AM`) in `zone`, the browser's when omitted. */
function formatIn(zone: string | undefined, withTime: boolean): Intl.DateTimeFormat {
  const key = `${zone ?? ''}|${withTime}`;
  let format = formats.get(key);
  if (!format) {
    const time = withTime ? ({ hour: '2-digit', minute: '2-digit' } as const) : {};
    format = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', ...time, ...(zone ? { timeZone: zone } : {}) });
    formats.set(key, format);
  }
  return format;
}

function wallTime(iso: string, zone?: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : formatIn(zone, true).format(t);
}

/** `Jan 12, 03:00 AM Europe/Berlin`: an instant as the clock in that zone shows it, named. */
export function fmtInZone(iso: string, zone: string): string {
  try {
    return `${wallTime(iso, zone)} ${zone}`;
  } catch {
    return fmtTime(iso); // a zone this browser does not know
  }
}

const clockOnly = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

/**
 * The same instant on the reader's clock, beside its time in `zone`: `09:00 PM`, with the date
 * (`Jan 11, 09:00 PM`) only when it is another day there.
 */
export function fmtYourTime(iso: string, zone: string): string {
  try {
    const t = Date.parse(iso);
    return formatIn(undefined, false).format(t) === formatIn(zone, false).format(t) ? clockOnly.format(t) : wallTime(iso);
  } catch {
    return wallTime(iso);
  }
}

export function fmtPercent(x: number | null | undefined): string {
  if (x == null || !Number.isFinite(x)) return '—';
  if (x >= 1) return '100%';
  if (x <= 0) return '0%';
  const p = x * 100;
  // never round a partial rate up to 100% or down to 0%
  if (p >= 99) return `${(Math.floor(p * 10) / 10).toFixed(1)}%`;
  if (p < 1) return `${Math.max(0.1, Math.round(p * 10) / 10).toFixed(1)}%`;
  return `${Math.round(p)}%`;
}

export function statusLabel(status: string): string {
  return status.replace(/_/g, ' ');
}

/** The run's most meaningful instant: when it ended, else started, else its tick. */
export function runInstant(run: {
  finishedAt?: string | null;
  startedAt?: string | null;
  scheduledFor: string;
}): string {
  return run.finishedAt ?? run.startedAt ?? run.scheduledFor;
}

export function prettyJson(value: unknown): string {
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    return String(value);
  }
}
