import { parseArgs } from 'node:util';
import { nextRuns } from '../engine/schedules/index.ts';
import type { ScheduleSpec } from '../engine/schedules/types.ts';
import { isoInZone } from '../engine/schedules/zoned-time.ts';
import { InvalidOptionError } from '../util/errors.ts';
import { UsageError } from './usage-error.ts';

export const NEXT_HELP = `Usage: caretaker next SCHEDULE [--tz ZONE] [--count N] [--from ISO] [--json]

Prints the upcoming fire instants of a schedule as ISO-8601, one a line: in UTC,
or with --tz in that zone with its offset (2026-03-29T03:00:00+02:00).
SCHEDULE is a cron expression ("0 2 * * *", 6 fields with seconds, or "@daily")
or "every DURATION" ("every 5m").

Options:
  --tz ZONE      IANA time zone the cron expression is read in (default UTC)
  --count N      how many instants (default 5)
  --from ISO     start after this instant (default now); an "every" schedule is
                 anchored at it, so its first instant is --from itself
  --json         print a JSON array of UTC instants instead

Example:
  caretaker next '0 2 * * *' --tz Europe/Berlin --count 3`;

/** What the library's option paths are called on this command line. */
const ARGUMENT: Readonly<Record<string, string>> = {
  'schedule.cron': 'SCHEDULE',
  'schedule.every': 'SCHEDULE',
  schedule: 'SCHEDULE',
  'schedule.timezone': '--tz',
  count: '--count',
  from: '--from',
};

/** Reads the SCHEDULE argument of `next` into a spec. */
export function scheduleArgument(text: string, tz: string | undefined): ScheduleSpec {
  const every = /^every\s+(.+)$/i.exec(text.trim());
  if (every !== null) {
    if (tz !== undefined) throw new UsageError('--tz applies to cron expressions only; remove it for "every" schedules');
    return { every: (every[1] ?? '').trim() };
  }
  return tz === undefined ? { cron: text } : { cron: text, timezone: tz };
}

/** `caretaker next`: upcoming fire instants. */
export function runNext(argv: readonly string[], out: (line: string) => void): number {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      tz: { type: 'string' },
      count: { type: 'string' },
      from: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    out(NEXT_HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError(`next takes one SCHEDULE argument, got ${positionals.length}; quote the expression, e.g. caretaker next '0 2 * * *'`);
  }
  // Strictly digits: Number() would read "" as 0 and report "x" as NaN instead of what was typed.
  if (values.count !== undefined && !/^\d+$/.test(values.count)) {
    throw new UsageError(`--count: received ${JSON.stringify(values.count)}; use a whole number from 1 to 10000`);
  }
  const count = values.count === undefined ? 5 : Number(values.count);
  let instants: Date[];
  try {
    instants = nextRuns(scheduleArgument(positionals[0] as string, values.tz), {
      count,
      ...(values.from !== undefined ? { from: values.from } : {}),
    });
  } catch (error) {
    if (!(error instanceof InvalidOptionError)) throw error;
    throw new UsageError(error.issues.map((i) => `${ARGUMENT[i.path] ?? i.path}: received ${i.received}; ${i.fix}`).join('\n'));
  }
  // An instant past what a Date can hold ("every 99999999w") has no ISO form: the list ends before it.
  const valid = instants.filter((d) => !Number.isNaN(d.getTime()));
  // Scripts get one unambiguous form; people get the wall time of the zone they asked about.
  if (values.json === true) out(JSON.stringify(valid.map((d) => d.toISOString())));
  else for (const d of valid) out(values.tz === undefined ? d.toISOString() : isoInZone(d.getTime(), values.tz));
  return 0;
}
