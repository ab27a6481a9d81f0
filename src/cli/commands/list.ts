import { parseArgs } from 'node:util';
import { nextRuns } from '../../engine/schedules/index.ts';
import type { ScheduleSpec } from '../../engine/schedules/types.ts';
import { type CliIo, CONFIG_OPTIONS, commandConfig, withStore } from '../context.ts';
import { painter } from '../style.ts';
import { renderTable } from '../table.ts';

export const LIST_HELP = `Usage: caretaker list [--config FILE] [--json]

Lists the configured tasks with their schedule, next run, last run and whether they are paused,
as the store records them.`;

function nextRun(schedule: ScheduleSpec, anchor: number | null, now: number): Date | null {
  try {
    const spec = 'every' in schedule && anchor !== null ? { ...schedule, anchor: new Date(anchor), initialDelay: 0 } : schedule;
    return nextRuns(spec as ScheduleSpec, { count: 1, from: new Date(now) })[0] ?? null;
  } catch {
    return null;
  }
}

function describeSchedule(schedule: ScheduleSpec): string {
  if ('every' in schedule) return `every ${String(schedule.every)}`;
  if ('cron' in schedule) return `cron ${schedule.cron}${schedule.timezone !== undefined ? ` (${schedule.timezone})` : ''}`;
  return `at ${String(schedule.at)}`;
}

/** `caretaker list`. */
export async function listCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: [...argv], options: CONFIG_OPTIONS, strict: true });
  if (values.help === true) {
    io.out(LIST_HELP);
    return 0;
  }
  const config = commandConfig(values.config, io);
  const states = await withStore(config, (store) => store.listTasks());
  const byName = new Map(states.map((s) => [s.name, s]));
  const now = Date.now();
  const tasks = config.tasks.map((spec) => {
    const state = byName.get(spec.name);
    const schedule = spec.options.schedule as ScheduleSpec;
    return {
      name: spec.name,
      schedule: describeSchedule(schedule),
      paused: state?.paused ?? spec.options.paused === true,
      nextRunAt: nextRun(schedule, state?.anchor ?? null, now)?.toISOString() ?? null,
      lastRun: state?.lastRun === null || state?.lastRun === undefined ? null : { id: state.lastRun.id, status: state.lastRun.status, scheduledFor: state.lastRun.scheduledFor.toISOString(), finishedAt: state.lastRun.finishedAt?.toISOString() ?? null },
      registered: state !== undefined,
    };
  });
  if (values.json === true) {
    io.out(JSON.stringify(tasks));
    return 0;
  }
  const paint = painter(io.stdout);
  const statusColour = (s: string) => (s === 'succeeded' ? paint('green', s) : s === 'running' ? paint('cyan', s) : paint('red', s));
  const rows = tasks.map((t) => [
    t.name,
    t.schedule,
    t.paused ? 'paused' : (t.nextRunAt ?? '–'),
    t.lastRun === null ? (t.registered ? '–' : 'never ran') : `${t.lastRun.status} ${t.lastRun.finishedAt ?? t.lastRun.scheduledFor}`,
  ]);
  for (const line of renderTable(['TASK', 'SCHEDULE', 'NEXT RUN', 'LAST RUN'], rows, (h) => paint('bold', h))) io.out(line.replace(/\b(succeeded|failed|timed_out|interrupted|cancelled|running)\b/, statusColour));
  return 0;
}
