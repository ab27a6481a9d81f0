import { parseArgs } from 'node:util';
import type { DaemonConfig, TaskSpec } from '../../config/load.ts';
import { jitterOffset } from '../../engine/schedules/index.ts';
import { parseTaskDefaults, type ResolvedTask, resolveTask } from '../../engine/task-options.ts';
import type { TaskOverrides, TaskState } from '../../store/port.ts';
import { withOverrides } from '../../engine/overrides.ts';
import type { TaskDefinition } from '../../engine/task.ts';
import { type CliIo, CONFIG_OPTIONS, commandConfig, withStore } from '../context.ts';
import { painter, terminalText } from '../style.ts';
import { renderTable } from '../table.ts';

export const LIST_HELP = `Usage: caretaker list [--config FILE] [--json]

Lists the configured tasks with their schedule, next run, last run and whether they are paused,
as the store records them. An "every" task the daemon has not run yet starts its cadence when
the daemon starts: its next run is shown as if that were now.`;

/** The task as the scheduler reads it: validated already by loading the config, so this does not throw. */
/** The task as the daemon runs it: its config definition, with the run-time changes over it when they still fit. */
function resolved(spec: TaskSpec, defaults: ReturnType<typeof parseTaskDefaults>, overrides: TaskOverrides | undefined): { task: ResolvedTask; applied: boolean } {
  const definition = { ...spec.options, name: spec.name, handler: () => undefined } as unknown as TaskDefinition;
  if (overrides !== undefined) {
    try {
      return { task: resolveTask(withOverrides(definition, overrides.fields), defaults, new Map()), applied: true };
    } catch {
      // The daemon reports and ignores changes its definition no longer takes: so does the list.
      return { task: resolveTask(definition, defaults, new Map()), applied: false };
    }
  }
  return { task: resolveTask(definition, defaults, new Map()), applied: true };
}

/**
 * When the daemon runs a task next, as the scheduler computes it: the schedule bound to the
 * stored anchor (a fresh one when the store has none, or one of another schedule), the first
 * tick after both now and the last tick handled, plus the task's stable jitter.
 */
function nextRun(task: ResolvedTask, state: TaskState | undefined, now: number): { readonly at: Date | null; readonly estimate: boolean } {
  const known = state !== undefined && state.scheduleKey === task.schedule.key ? state : undefined;
  const schedule = task.schedule.bind(known?.anchor ?? null, now);
  const tick = schedule.nextAfter(Math.max(now - 1, known?.lastTick ?? Number.NEGATIVE_INFINITY));
  return {
    at: tick === null ? null : new Date(tick + jitterOffset(task.name, tick, task.policy.jitterMs)),
    estimate: known === undefined && task.schedule.kind === 'every' && !('anchor' in task.schedule.spec),
  };
}

function tasksOf(config: DaemonConfig, states: readonly TaskState[], overridden: readonly { task: string; overrides: TaskOverrides }[]) {
  const byName = new Map(states.map((s) => [s.name, s]));
  const overridesOf = new Map(overridden.map((o) => [o.task, o.overrides]));
  const defaults = parseTaskDefaults(config.defaults);
  const now = Date.now();
  return config.tasks.map((spec) => {
    const state = byName.get(spec.name);
    const { task, applied } = resolved(spec, defaults, overridesOf.get(spec.name));
    const next = nextRun(task, state, now);
    return {
      name: spec.name,
      schedule: task.schedule.describe(),
      /** The tasks whose ends start it (`after`), or null. */
      after: task.dependency,
      /** True when a `when` condition is checked before each run. */
      hasCondition: spec.when !== null,
      paused: state?.paused ?? spec.options.paused === true,
      pauseNote: state?.paused === true ? state.pauseNote : null,
      pausedAt: state?.paused === true && state.pausedAt !== null ? new Date(state.pausedAt).toISOString() : null,
      nextRunAt: next.at?.toISOString() ?? null,
      /** True when the next run depends on when the daemon starts (shown as if now). */
      nextRunEstimated: next.estimate,
      lastRun: state?.lastRun === null || state?.lastRun === undefined ? null : { id: state.lastRun.id, status: state.lastRun.status, scheduledFor: state.lastRun.scheduledFor.toISOString(), finishedAt: state.lastRun.finishedAt?.toISOString() ?? null },
      registered: state !== undefined,
      /** Options changed at run time (caretaker set, the API, the dashboard), or null. */
      changed: overridesOf.has(spec.name) ? Object.keys(overridesOf.get(spec.name)?.fields ?? {}) : null,
      /** False when the definition no longer takes those changes (the daemon leaves them unapplied). */
      changeApplied: applied,
    };
  });
}

/**
 * A note on one line of the table, shortened: the whole of it is in `--json`. Notes come from
 * whoever may pause (the API too): control characters, escape sequences included, never reach
 * the terminal.
 */
function oneLine(text: string): string {
  const flat = terminalText(text);
  const chars = [...flat];
  return chars.length > 60 ? `${chars.slice(0, 59).join('')}…` : flat;
}

/** `caretaker list`. */
export async function listCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: [...argv], options: CONFIG_OPTIONS, strict: true });
  if (values.help === true) {
    io.out(LIST_HELP);
    return 0;
  }
  const config = commandConfig(values.config, io);
  const [states, overridden] = await withStore(config, async (store) => [await store.listTasks(), await store.listOverrides()] as const);
  const tasks = tasksOf(config, states, overridden);
  if (values.json === true) {
    io.out(JSON.stringify(tasks));
    return 0;
  }
  const paint = painter(io.stdout);
  const statusColour = (s: string) => (s === 'succeeded' ? paint('green', s) : s === 'running' ? paint('cyan', s) : paint('red', s));
  const rows = tasks.map((t) => [
    t.name,
    t.changed === null ? t.schedule : `${t.schedule} (changed: ${t.changed.join(', ')}${t.changeApplied ? '' : '; not applied, see caretaker set --help'})`,
    t.paused ? (t.pauseNote === null ? 'paused' : `paused: ${oneLine(t.pauseNote)}`) : t.nextRunAt === null ? 'none' : `${t.nextRunAt}${t.nextRunEstimated ? ' (if started now)' : ''}`,
    t.lastRun === null ? (t.registered ? '–' : 'never ran') : `${t.lastRun.status} ${t.lastRun.finishedAt ?? t.lastRun.scheduledFor}`,
  ]);
  for (const line of renderTable(['TASK', 'SCHEDULE', 'NEXT RUN', 'LAST RUN'], rows, (h) => paint('bold', h))) io.out(line.replace(/\b(succeeded|failed|timed_out|interrupted|cancelled|running)\b(?!.*\b(succeeded|failed|timed_out|interrupted|cancelled|running)\b)/, statusColour));
  return 0;
}
