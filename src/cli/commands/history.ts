import { parseArgs } from 'node:util';
import type { RunRecord, RunStatus } from '../../store/records.ts';
import { formatDuration } from '../../util/duration.ts';
import { type CliIo, CONFIG_OPTIONS, commandConfig, withStore } from '../context.ts';
import { painter } from '../style.ts';
import { renderTable } from '../table.ts';
import { UsageError } from '../usage-error.ts';
import { taskArgument } from './tasks-arg.ts';

export const HISTORY_HELP = `Usage: caretaker history [TASK] [--limit N] [--status S] [--config FILE] [--json]

Runs, newest first, including ticks that did not run (skipped, with the reason).

Options:
  --limit N    how many (1 to 1000, default 20)
  --status S   only runs with this status: running, succeeded, failed, timed_out,
               cancelled, interrupted or skipped`;

const STATUSES: readonly RunStatus[] = ['running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'interrupted', 'skipped'];

/** A run as JSON for scripts: times as ISO-8601. */
export function runJson(run: RunRecord): object {
  return JSON.parse(JSON.stringify(run)) as object;
}

/** `caretaker history`. */
export async function historyCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { ...CONFIG_OPTIONS, limit: { type: 'string' }, status: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) {
    io.out(HISTORY_HELP);
    return 0;
  }
  const limit = values.limit === undefined ? 20 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError(`--limit: received ${JSON.stringify(values.limit)}; use a whole number from 1 to 1000`);
  const status = values.status as RunStatus | undefined;
  if (status !== undefined && !STATUSES.includes(status)) throw new UsageError(`--status: received ${JSON.stringify(status)}; use one of ${STATUSES.join(', ')}`);
  const config = commandConfig(values.config, io);
  const task = positionals.length === 0 ? undefined : taskArgument('history', positionals, config);
  const page = await withStore(config, (store) => store.listRuns({ limit, ...(task !== undefined ? { task } : {}), ...(status !== undefined ? { status } : {}) }));
  if (values.json === true) {
    io.out(JSON.stringify(page.runs.map(runJson)));
    return 0;
  }
  const paint = painter(io.stdout);
  const rows = page.runs.map((r) => [
    r.scheduledFor.toISOString(),
    r.task,
    r.status === 'skipped' ? `skipped (${r.skipReason ?? '?'}${r.skippedTicks > 1 ? ` ×${r.skippedTicks}` : ''})` : r.status,
    r.trigger === 'retry' ? `retry #${r.attempt}` : r.trigger,
    r.durationMs === null ? '–' : formatDuration(r.durationMs),
    r.instance ?? '–',
    r.error?.message ?? (r.output === null ? '' : JSON.stringify(r.output).slice(0, 60)),
  ]);
  if (rows.length === 0) io.out('no runs recorded');
  else for (const line of renderTable(['SCHEDULED FOR', 'TASK', 'STATUS', 'TRIGGER', 'DURATION', 'INSTANCE', 'OUTPUT / ERROR'], rows, (h) => paint('bold', h))) io.out(line);
  return 0;
}
