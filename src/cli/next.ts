import { parseArgs } from 'node:util';
import { nextRuns } from '../engine/schedules/index.ts';
import type { ScheduleSpec } from '../engine/schedules/types.ts';
import { isoInZone } from '../engine/schedules/zoned-time.ts';
import { InvalidOptionError } from '../util/errors.ts';
import { UsageError } from './usage-error.ts';
import { type CliIo, commandConfig } from './context.ts';
import { jitterOffset, parseInstant } from '../engine/schedules/index.ts';
import { parseTaskDefaults, resolveTask, TASK_NAME } from '../engine/task-options.ts';
import { closestMatch } from '../util/suggest.ts';

export const NEXT_HELP = `Usage: caretaker next SCHEDULE [--tz ZONE] [--count N] [--from ISO] [--json]
       caretaker next TASK [--config FILE] [--count N] [--from ISO] [--json]

Prints the upcoming fire instants of a schedule as ISO-8601, one a line: in UTC,
or with --tz in that zone with its offset (2026-03-29T03:00:00+02:00).
SCHEDULE is a cron expression ("0 2 * * *", 6 fields with seconds, or "@daily")
or "every DURATION" ("every 5m"). Given the name of a configured TASK, prints its
own instants: its windows, blackout and outside policy applied (an "every" task's
cadence is shown as if it started now; a task that runs only after others has none).

Options:
  --tz ZONE      IANA time zone the cron expression is read in (default UTC)
  --count N      how many instants (default 5)
  --from ISO     start after this instant (default now); an "every" schedule is
                 anchored at it, so its first instant is --from itself
  --json         print a JSON array of UTC instants instead
  --config FILE  with TASK: the config file (default caretaker.config.yaml in cwd)

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

/** A configured task's next instants, as its scheduler computes them (windows included). */
function taskInstants(name: string, io: CliIo, configFile: string | undefined, count: number, from: string | undefined): Date[] {
  const config = commandConfig(configFile, io);
  const spec = config.tasks.find((t) => t.name === name);
  if (spec === undefined) {
    const guess = closestMatch(name, config.tasks.map((t) => t.name));
    throw new UsageError(`no task "${name}" in ${config.file}${guess !== undefined ? `; did you mean "${guess}"?` : ''} (a schedule needs quotes: caretaker next '0 2 * * *')`);
  }
  const start = from === undefined ? Date.now() : parseInstant(from);
  if (start === undefined) throw new UsageError(`--from: received ${JSON.stringify(from)}; use an ISO-8601 instant with a zone, like 2026-12-01T02:00:00Z`);
  const task = resolveTask({ ...spec.options, name, handler: () => undefined }, parseTaskDefaults(config.defaults), new Map());
  const schedule = task.schedule.bind(null, start);
  const out: Date[] = [];
  for (let tick = schedule.nextAfter(start - 1); tick !== null && out.length < count; tick = schedule.nextAfter(tick)) out.push(new Date(tick + jitterOffset(name, tick, task.policy.jitterMs)));
  return out;
}

/** `caretaker next`: upcoming fire instants of a schedule, or of a configured task. */
export function runNext(argv: readonly string[], io: CliIo): number {
  const out = io.out;
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      tz: { type: 'string' },
      count: { type: 'string' },
      from: { type: 'string' },
      json: { type: 'boolean' },
      config: { type: 'string', short: 'c' },
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
  const argument = positionals[0] as string;
  try {
    // A task name has no spaces and is not a nickname; a schedule has one or the other.
    if (TASK_NAME.test(argument)) {
      if (values.tz !== undefined) throw new UsageError('--tz applies to a schedule; a task has its own zones');
      if (count < 1 || count > 10_000) throw new UsageError(`--count: received ${count}; use a whole number from 1 to 10000`);
      instants = taskInstants(argument, io, values.config, count, values.from);
      // Nothing to print is said, on stderr: a task that runs only after others, or never meets its windows.
      if (instants.length === 0) io.err(`${argument} has no instant of its own to come: it runs only after other tasks, or its schedule never meets its windows`);
    } else instants = nextRuns(scheduleArgument(positionals[0] as string, values.tz), {
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
