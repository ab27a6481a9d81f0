import { createScheduler } from '../create-scheduler.ts';
import type { RunRecord } from '../store/records.ts';
import { formatDuration } from '../util/duration.ts';
import { painter } from './style.ts';

/**
 * `caretaker demo`: an in-memory scheduler with a few tasks that print their runs as they
 * happen. Ctrl-C stops it gracefully and prints what was interrupted.
 */
export async function runDemo(out: (line: string) => void): Promise<number> {
  const paint = painter(process.stdout);
  const scheduler = createScheduler({ instance: 'demo' });
  scheduler.add({
    name: 'heartbeat',
    description: 'A quick health probe',
    schedule: { every: '2s' },
    handler: () => ({ ok: true, rssMb: Math.round(process.memoryUsage().rss / 1e6) }),
  });
  scheduler.add({
    name: 'cache-cleanup',
    description: 'Pretends to clean a cache, reporting progress',
    schedule: { every: '5s', initialDelay: '1s' },
    priority: 'low',
    handler: async (ctx) => {
      for (let i = 1; i <= 4; i++) {
        await new Promise((resolve) => setTimeout(resolve, 150));
        ctx.progress(i / 4, `pass ${i} of 4`);
      }
      return { removed: Math.floor(Math.random() * 20) };
    },
  });
  let flaky = 0;
  scheduler.add({
    name: 'flaky-sync',
    description: 'Fails every other time, and is retried',
    schedule: { every: '7s', initialDelay: '3s' },
    retry: { attempts: 3, backoff: '500ms' },
    handler: () => {
      flaky++;
      if (flaky % 2 === 1) throw new Error('upstream timed out');
      return { synced: flaky };
    },
  });
  scheduler.add({
    name: 'nightly-report',
    schedule: { cron: '0 2 * * *', timezone: 'Europe/Berlin' },
    handler: () => ({ report: 'done' }),
  });

  const time = () => new Date().toISOString().slice(11, 19);
  const mark: Record<string, string> = { succeeded: paint('green', '✔'), failed: paint('red', '✖'), timed_out: paint('red', '⏱'), cancelled: paint('yellow', '⊘'), interrupted: paint('yellow', '⏹') };
  const describe = (run: RunRecord): string => {
    const detail = run.error !== null ? paint('red', run.error.message) : JSON.stringify(run.output);
    const retry = run.retryAt !== null ? paint('yellow', ` (retry at ${run.retryAt.toISOString().slice(11, 23)})`) : '';
    return `${paint('dim', time())} ${mark[run.status] ?? '·'} ${run.task.padEnd(15)} ${run.status.padEnd(11)} ${formatDuration(run.durationMs ?? 0).padStart(6)}  ${detail}${retry}`;
  };
  scheduler.on('run:started', (run) => out(`${paint('dim', time())} ▶ ${run.task.padEnd(15)} ${paint('cyan', run.trigger)} attempt ${run.attempt}`));
  scheduler.on('run:progress', (p) => out(`${paint('dim', time())}   ${p.task.padEnd(15)} ${Math.round(p.fraction * 100)}% ${p.message ?? ''}`));
  scheduler.on('run:finished', (run) => out(describe(run)));
  scheduler.on('tick:skipped', (run) => out(`${paint('dim', time())} ⤼ ${run.task.padEnd(15)} skipped (${run.skipReason})`));

  await scheduler.start();
  out(paint('bold', `Caretaker demo: ${scheduler.tasks().length} tasks on an in-memory store. Ctrl-C to stop.`));
  for (const task of scheduler.tasks()) {
    out(`  ${task.name.padEnd(15)} ${task.scheduleText.padEnd(38)} next ${task.nextRunAt?.toISOString() ?? '-'}`);
  }
  await new Promise<void>((resolve) => {
    const onSignal = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  out('\nstopping...');
  const report = await scheduler.stop({ timeout: '5s' });
  out(`stopped in ${formatDuration(report.durationMs)}: ${report.finished.length} finished, ${report.interrupted.length} interrupted`);
  return 0;
}
