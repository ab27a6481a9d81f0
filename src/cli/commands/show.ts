import { parseArgs } from 'node:util';
import { formatDuration } from '../../util/duration.ts';
import { type CliIo, CONFIG_OPTIONS, commandConfig, withStore } from '../context.ts';
import { terminalText } from '../style.ts';
import { runJson } from './history.ts';
import { existingRun, runArgument } from './run-arg.ts';

export const SHOW_HELP = `Usage: caretaker show RUN [--logs] [--config FILE] [--json]

Prints one run's whole record: status, times, trigger, attempt, instance, its error (message,
code, stack) and its output. RUN is a run id, as caretaker history prints it.

Options:
  --logs   also print the lines its handler logged (ctx.logger) or its command printed: the
           newest kept (scheduler.runLogs.maxBytes), one a line, with time and level; with
           --json, as "log": { lines, dropped }`;

const time = (d: Date | null) => (d === null ? '–' : d.toISOString());

/** `caretaker show`. */
export async function showCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], options: { ...CONFIG_OPTIONS, logs: { type: 'boolean' } }, allowPositionals: true, strict: true });
  if (values.help === true) {
    io.out(SHOW_HELP);
    return 0;
  }
  const id = runArgument('show', positionals);
  const config = commandConfig(values.config, io);
  const [run, log] = await withStore(config, async (store) => {
    const found = await existingRun(store, id);
    return [found, values.logs === true ? await store.getRunLog(found.id) : null] as const;
  });
  if (values.json === true) {
    io.out(JSON.stringify(values.logs === true ? { ...runJson(run), log: { lines: log?.lines ?? [], dropped: log?.dropped ?? 0 } } : runJson(run)));
    return 0;
  }
  const status = run.status === 'skipped' ? `skipped (${run.skipReason ?? '?'}${run.skippedTicks > 1 ? `, ${run.skippedTicks} ticks` : ''})` : run.status;
  const lines: [string, string][] = [
    ['run', run.id],
    ['task', run.task],
    ['status', status],
    ['trigger', `${run.trigger}, attempt ${run.attempt}${run.causedBy !== null ? `, caused by run ${run.causedBy}` : ''}`],
    ['scheduled for', time(run.scheduledFor)],
    ['due at', time(run.dueAt)],
    ['started at', `${time(run.startedAt)}${run.latenessMs !== null ? ` (${formatDuration(Math.max(0, run.latenessMs))} late)` : ''}`],
    ['finished at', `${time(run.finishedAt)}${run.durationMs !== null ? ` (took ${formatDuration(run.durationMs)})` : ''}`],
    ['instance', run.instance ?? '–'],
  ];
  if (run.progress !== null) lines.push(['progress', `${Math.round(run.progress.fraction * 100)}%${run.progress.message !== null ? ` ${run.progress.message}` : ''}`]);
  if (run.retryAt !== null) lines.push(['retry at', time(run.retryAt)]);
  const width = Math.max(...lines.map(([k]) => k.length));
  for (const [key, value] of lines) io.out(`${key.padEnd(width)}  ${value}`);
  if (run.error !== null) {
    io.out('');
    io.out(`error${run.error.code !== null ? ` [${run.error.code}]` : ''}: ${run.error.message}`);
    if (run.error.stack !== null) io.out(run.error.stack);
  }
  if (run.output !== null) {
    io.out('');
    io.out('output:');
    io.out(JSON.stringify(run.output, null, 2));
  }
  if (values.logs === true) {
    io.out('');
    if (log === null || log.lines.length === 0) io.out('log: nothing logged');
    else {
      io.out(`log:${log.dropped > 0 ? ` (${log.dropped} earlier lines dropped to keep the newest)` : ''}`);
      // Lines come from handlers and the programs they run: nothing in them reaches the terminal as a control sequence.
      for (const l of log.lines) io.out(`${time(l.at)} ${l.level.toUpperCase().padEnd(5)} ${terminalText(l.message)}${l.fields !== null ? ` ${terminalText(JSON.stringify(l.fields))}` : ''}`);
    }
  }
  return 0;
}
