import { parseArgs } from 'node:util';
import type { DaemonConfig, TaskSpec } from '../../config/load.ts';
import { OVERRIDABLE, patchOverrides, withOverrides } from '../../engine/overrides.ts';
import { parseTaskDefaults, resolveTask } from '../../engine/task-options.ts';
import type { TaskOverrides } from '../../store/port.ts';
import type { TaskDefinition } from '../../engine/task.ts';
import { InvalidOptionError } from '../../util/errors.ts';
import type { JsonValue } from '../../util/json.ts';
import { type CliIo, CONFIG_OPTIONS, cliActor, commandConfig, recordCliChange, withStore } from '../context.ts';
import { scheduleArgument } from '../next.ts';
import { UsageError } from '../usage-error.ts';
import { taskArgument } from './tasks-arg.ts';

export const SET_HELP = `Usage: caretaker set TASK [--schedule S] [--tz ZONE] [--timeout D] [--attempts N]
                    [--overlap MODE] [--catch-up POLICY] [--priority N] [--jitter D]
                    [--unset OPTION]... [--config FILE] [--json]

Changes a task at run time, over its config definition, on every instance sharing the store
(at their next poll; at once on PostgreSQL), until caretaker reset. Options not given keep their
current value; a config reload goes on changing the ones never set here. A changed schedule
starts afresh. Values are checked as the config's are: nothing is stored when one is refused.

Options:
  --schedule S      a cron expression ("0 4 * * *") or "every 10m"
  --tz ZONE         the IANA time zone of the cron expression
  --timeout D       e.g. 90s, 30m
  --attempts N      attempts per tick, retries included (1: no retries)
  --overlap MODE    skip, queue, allow or replace
  --catch-up P      latest, all or none
  --priority N      a number or low, normal, high, critical
  --jitter D        up to this much later than each tick, e.g. 30s
  --unset OPTION    drop one change (schedule, timeout, retry, overlap, catchUp, priority, jitter)

Example:
  caretaker set db-vacuum --schedule '0 4 * * *' --tz Europe/Berlin --timeout 45m`;

export const RESET_HELP = `Usage: caretaker reset TASK [--config FILE] [--json]

Drops every run-time change of a task (caretaker set, the API, the dashboard): its config
definition applies again on every instance.`;

/** The task's definition as the config gives it, for checking changes the way the daemon will. */
/** A configured task as a definition the engine checks (its handler is never run here). */
export function definitionOf(spec: TaskSpec): TaskDefinition {
  return { ...spec.options, name: spec.name, handler: () => undefined } as unknown as TaskDefinition;
}

/** The options' values as a patch; flags keep the names of the options they set in errors. */
function patchFrom(values: Record<string, unknown>): Record<string, JsonValue | null> {
  const patch: Record<string, JsonValue | null> = {};
  const text = (key: string) => (typeof values[key] === 'string' ? (values[key] as string) : undefined);
  if (text('schedule') !== undefined) patch.schedule = scheduleArgument(text('schedule') as string, text('tz')) as unknown as JsonValue;
  else if (text('tz') !== undefined) throw new UsageError('--tz goes with --schedule: give the cron expression it applies to');
  if (text('timeout') !== undefined) patch.timeout = text('timeout') as string;
  if (text('attempts') !== undefined) {
    if (!/^\d{1,4}$/.test(text('attempts') as string)) throw new UsageError(`--attempts: received "${text('attempts')}"; use a whole number from 1 to 1000`);
    patch.retry = { attempts: Number(text('attempts')) };
  }
  if (text('overlap') !== undefined) patch.overlap = text('overlap') as string;
  if (text('catch-up') !== undefined) patch.catchUp = text('catch-up') as string;
  if (text('priority') !== undefined) patch.priority = /^-?\d+$/.test(text('priority') as string) ? Number(text('priority')) : (text('priority') as string);
  if (text('jitter') !== undefined) patch.jitter = text('jitter') as string;
  for (const option of (values.unset as string[] | undefined) ?? []) {
    if (!(OVERRIDABLE as readonly string[]).includes(option)) throw new UsageError(`--unset: received "${option.slice(0, 80)}"; use one of ${OVERRIDABLE.join(', ')}`);
    patch[option] = null;
  }
  return patch;
}

const FLAG: Readonly<Record<string, string>> = { schedule: '--schedule', timeout: '--timeout', retry: '--attempts', overlap: '--overlap', catchUp: '--catch-up', priority: '--priority', jitter: '--jitter' };

/** `caretaker set`. */
export async function setCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      ...CONFIG_OPTIONS,
      schedule: { type: 'string' },
      tz: { type: 'string' },
      timeout: { type: 'string' },
      attempts: { type: 'string' },
      overlap: { type: 'string' },
      'catch-up': { type: 'string' },
      priority: { type: 'string' },
      jitter: { type: 'string' },
      unset: { type: 'string', multiple: true },
    },
  });
  if (values.help === true) {
    io.out(SET_HELP);
    return 0;
  }
  const config = commandConfig(values.config, io);
  const task = taskArgument('set', positionals, config);
  const patch = patchFrom(values);
  // A cron expression without --tz keeps the zone the task's schedule has now (not UTC).
  const schedule = patch.schedule as { cron?: string; timezone?: string } | undefined;
  if (schedule?.cron !== undefined && schedule.timezone === undefined) {
    const zone = (config.tasks.find((t) => t.name === task)?.options.schedule as { timezone?: unknown } | undefined)?.timezone;
    if (typeof zone === 'string') patch.schedule = { ...schedule, timezone: zone };
  }
  if (Object.keys(patch).length === 0) throw new UsageError('set needs at least one change, e.g. --schedule "0 4 * * *"; see caretaker set --help');
  const overrides = await withStore(config, async (store) => {
    // Over what is stored, only if nobody changed it meanwhile (then read again).
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = (await store.listOverrides([task]))[0]?.overrides ?? null;
      const fields = checked(config, task, current, patch);
      const next: TaskOverrides | null = Object.keys(fields).length === 0 ? null : { fields, by: cliActor(io.env), at: Date.now() };
      const written = await store.setOverrides(task, next, Date.now(), current);
      if (written.status === 'unknown') throw new UsageError(`TASK: "${task}" has never been registered in the store; start the daemon once (caretaker run) first`);
      if (written.status === 'changed') continue;
      await recordCliChange(store, io, { action: 'override', task, detail: patch });
      return next;
    }
    throw new UsageError(`TASK: "${task}" is being changed from elsewhere at the same time; try again`);
  });
  if (values.json === true) io.out(JSON.stringify({ task, overrides }));
  else io.out(overrides === null ? `${task}: no run-time changes left; its definition applies` : `${task} changed: ${Object.keys(overrides.fields).join(', ')} (until caretaker reset ${task})`);
  return 0;
}

/** The fields after the patch, refused as the daemon would refuse them (errors name the flag). */
function checked(config: DaemonConfig, task: string, current: TaskOverrides | null, patch: Record<string, JsonValue | null>): Record<string, JsonValue> {
  const spec = config.tasks.find((t) => t.name === task) as TaskSpec;
  try {
    const fields = patchOverrides(current?.fields ?? null, patch, `task "${task}"`, true);
    resolveTask(withOverrides(definitionOf(spec), fields), parseTaskDefaults(config.defaults), new Map());
    return fields;
  } catch (error) {
    if (!(error instanceof InvalidOptionError)) throw error;
    const option = (path: string) => (path === 'schedule.timezone' ? 'tz' : (path.split('.')[0] ?? ''));
    // A change stored earlier (not on this command line) that no longer fits is named as such.
    const flag = (path: string) => {
      const name = option(path);
      const given = name === 'tz' ? 'schedule' in patch : name in patch || (name === 'retry' && 'retry' in patch);
      return given ? (name === 'tz' ? '--tz' : (FLAG[name] ?? path)) : `${FLAG[name] ?? path} (changed earlier; drop it with --unset ${name === 'tz' ? 'schedule' : name} or caretaker reset ${task})`;
    };
    throw new UsageError(error.issues.map((i) => `${flag(i.path)}: received ${i.received}; ${i.fix}`).join('\n'));
  }
}

/** `caretaker reset`. */
export async function resetCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], options: CONFIG_OPTIONS, allowPositionals: true, strict: true });
  if (values.help === true) {
    io.out(RESET_HELP);
    return 0;
  }
  const config = commandConfig(values.config, io);
  const task = taskArgument('reset', positionals, config);
  await withStore(config, async (store) => {
    if (!(await store.setOverrides(task, null, Date.now()))) throw new UsageError(`TASK: "${task}" has never been registered in the store; start the daemon once (caretaker run) first`);
    await recordCliChange(store, io, { action: 'reset', task });
  });
  if (values.json === true) io.out(JSON.stringify({ task, overrides: null }));
  else io.out(`${task}: back to its definition`);
  return 0;
}
