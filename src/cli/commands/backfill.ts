import { parseArgs } from 'node:util';
import { planBackfill } from '../../engine/backfill-plan.ts';
import { withOverrides } from '../../engine/overrides.ts';
import { parseTaskDefaults, resolveTask } from '../../engine/task-options.ts';
import type { TaskSpec } from '../../config/load.ts';
import type { Store } from '../../store/port.ts';
import type { BackfillRecord } from '../../store/records.ts';
import { InvalidOptionError } from '../../util/errors.ts';
import { uuidv7 } from '../../util/ids.ts';
import { type CliIo, CONFIG_OPTIONS, cliActor, commandConfig, recordCliChange, withStore } from '../context.ts';
import { renderTable } from '../table.ts';
import { terminalText } from '../style.ts';
import { UsageError } from '../usage-error.ts';
import { whoRuns } from './run-result.ts';
import { definitionOf } from './set.ts';
import { taskArgument } from './tasks-arg.ts';

export const BACKFILL_HELP = `Usage: caretaker backfill TASK --from INSTANT --to INSTANT [--config FILE] [--json]
       caretaker backfill TASK --list
       caretaker backfill --cancel ID

Runs every instant of TASK's schedule from --from to --to (both included, both in the past)
on the running instances that run TASK, as trigger backfill: one at a time (with overlap
allow, up to maxConcurrent), each instant once across instances. Prints the backfill's id.
Refused past scheduler.backfillLimit instants (default 1000). Exit 1 when no running
instance runs TASK.

Options:
  --from INSTANT  the first instant, ISO-8601 with a zone (2026-11-01T00:00:00Z) or Unix ms
  --to INSTANT    the last instant
  --list          TASK's backfills, newest first, with their progress
  --cancel ID     cancel a backfill: nothing more of it starts, its running runs are cancelled`;

/** `caretaker backfill`. */
export async function backfillCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { ...CONFIG_OPTIONS, from: { type: 'string' }, to: { type: 'string' }, list: { type: 'boolean' }, cancel: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) {
    io.out(BACKFILL_HELP);
    return 0;
  }
  const json = values.json === true;
  const config = commandConfig(values.config, io);
  if (values.cancel !== undefined) {
    if (positionals.length > 0 || values.from !== undefined || values.to !== undefined || values.list === true) throw new UsageError('--cancel ID takes no TASK, --from, --to or --list');
    const id = values.cancel;
    return withStore(config, async (store) => {
      const result = await store.endBackfill(id, 'cancelled', (await store.storeTime?.()) ?? Date.now());
      if (result === 'not-found') throw new UsageError(`--cancel: no backfill with id "${terminalText(id)}"; caretaker backfill TASK --list shows them`, 'ERR_BACKFILL_NOT_FOUND');
      const record = (await store.getBackfill(id)) as BackfillRecord;
      if (result === 'not-running') {
        const message = `backfill ${id} is ${record.status} already`;
        if (json) io.out(JSON.stringify({ error: { code: 'ERR_BACKFILL_NOT_RUNNING', message } }));
        else io.err(message);
        return 1;
      }
      await recordCliChange(store, io, { action: 'cancel-backfill', task: record.task, detail: { backfillId: id } });
      if (json) io.out(JSON.stringify({ backfill: record }));
      else io.out(`${record.task}: backfill ${id} cancelled (${progressText(record)})`);
      return 0;
    });
  }
  const task = taskArgument('backfill', positionals, config);
  if (values.list === true) {
    if (values.from !== undefined || values.to !== undefined) throw new UsageError('--list takes no --from or --to');
    return withStore(config, async (store) => {
      const backfills = await store.listBackfills({ task, limit: 100 });
      if (json) io.out(JSON.stringify({ backfills }));
      else if (backfills.length === 0) io.out(`${task}: no backfills`);
      else for (const line of renderTable(['ID', 'RANGE', 'STATUS', 'PROGRESS', 'BY'], backfills.map((b) => [b.id, `${b.from.toISOString()} … ${b.to.toISOString()}`, b.status, progressText(b), terminalText(b.requestedBy)]))) io.out(line);
      return 0;
    });
  }
  if (values.from === undefined || values.to === undefined) throw new UsageError('backfill needs --from and --to (ISO-8601 instants with a zone), e.g. --from 2026-11-01T00:00:00Z --to 2026-11-07T23:59:59Z');
  return withStore(config, async (store) => {
    const now = (await store.storeTime?.()) ?? Date.now();
    const plan = await plannedHere(store, config.tasks.find((t) => t.name === task) as TaskSpec, config.defaults, { from: instantArg(values.from as string), to: instantArg(values.to as string) }, cliActor(io.env), now, config.scheduler.backfillLimit ?? 1_000);
    const { live, why } = await whoRuns(store, task);
    if (!live) {
      const message = `${task}: ${why}; start one (caretaker run), then backfill`;
      if (json) io.out(JSON.stringify({ error: { code: 'ERR_NO_INSTANCE', message } }));
      else io.err(message);
      return 1;
    }
    const id = uuidv7();
    await store.requestBackfill({ id, task, from: plan.from, to: plan.to, instants: plan.instants, requestedBy: plan.requestedBy, requestedAt: now });
    await recordCliChange(store, io, { action: 'backfill', task, detail: { backfillId: id, from: new Date(plan.from).toISOString(), to: new Date(plan.to).toISOString(), instants: plan.instants.length } });
    const record = await store.getBackfill(id);
    if (json) io.out(JSON.stringify({ backfill: record }));
    else io.out(`${task}: backfill ${id} of ${plan.instants.length} instants requested (caretaker backfill ${task} --list shows its progress)`);
    return 0;
  });
}

/**
 * The instants as the daemon computes them: the task's definition with its run-time changes over
 * it, bound to its stored anchor. Errors name the flag.
 */
async function plannedHere(store: Store, spec: TaskSpec, defaults: Record<string, unknown>, range: { from: string | number; to: string | number }, by: string, now: number, limit: number) {
  const overrides = (await store.listOverrides([spec.name]))[0]?.overrides ?? null;
  const definition = overrides === null ? definitionOf(spec) : withOverrides(definitionOf(spec), overrides.fields);
  // A change that no longer fits the definition is not applied by the daemon either.
  let resolved: ReturnType<typeof resolveTask>;
  try {
    resolved = resolveTask(definition, parseTaskDefaults(defaults), new Map());
  } catch {
    resolved = resolveTask(definitionOf(spec), parseTaskDefaults(defaults), new Map());
  }
  const state = (await store.listTasks()).find((t) => t.name === spec.name);
  const anchor = state !== undefined && state.scheduleKey === resolved.schedule.key ? state.anchor : null;
  try {
    return planBackfill(spec.name, resolved.schedule, resolved.schedule.bind(anchor, now), range, by, now, limit);
  } catch (error) {
    if (!(error instanceof InvalidOptionError)) throw error;
    throw new UsageError(error.issues.map((i) => `--${i.path}: received ${i.received}; ${i.fix}`).join('\n'));
  }
}

/** An instant on the command line: ISO-8601 with a zone, or Unix milliseconds (digits). */
function instantArg(text: string): string | number {
  return /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : text;
}

function progressText(b: BackfillRecord): string {
  const p = b.progress;
  const parts = [`${p.total - p.pending}/${p.total} started`, `${p.succeeded} succeeded`];
  if (p.failed > 0) parts.push(`${p.failed} failed`);
  if (p.running > 0) parts.push(`${p.running} running`);
  if (p.cancelled > 0) parts.push(`${p.cancelled} cancelled`);
  return parts.join(', ');
}
