/**
 * One soak replica: a scheduler on PostgreSQL with the soak's task mix. Handler starts go to the
 * parent in batches (task index, nominal instant, start instant); memory every few seconds.
 * SIGTERM stops it gracefully.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createScheduler, postgresStore } from 'caretaker';
import { preciseNow } from '../bench/lib/stats.ts';
import { type SoakOptions, taskMix } from './mix.ts';

preciseNow(); // calibrate before the first run
const options = JSON.parse(process.argv[2] ?? '{}') as SoakOptions & { readonly instance: string };
const scheduler = createScheduler({ store: postgresStore({ url: options.url, poolSize: 4 }), instance: options.instance });
let batch: [number, number, number][] = [];
const flush = () => {
  if (batch.length > 0) process.send?.({ type: 'runs', runs: batch });
  batch = [];
};
for (const [index, task] of taskMix(options.tasks, options.burst, options.burstOffsetMs).entries()) {
  scheduler.add({
    name: task.name,
    schedule: task.schedule,
    catchUp: 'none',
    handler: (ctx) => void batch.push([index, ctx.scheduledFor.getTime(), preciseNow()]),
  });
}
let errors = 0;
const seen = new Set<string>();
scheduler.on('error', (e) => {
  errors++;
  // Each distinct message once, so the report can say what went wrong, not only how often.
  const message = `${e.context}: ${e.error instanceof Error ? e.error.message : String(e.error)}`;
  if (seen.size < 20 && !seen.has(message)) {
    seen.add(message);
    process.send?.({ type: 'error', message });
  }
});
setInterval(flush, 200).unref();
// The longest the loop was blocked in each report's interval: a stall shows up here before it shows as missed ticks.
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
setInterval(() => {
  process.send?.({ type: 'memory', rss: process.memoryUsage().rss, errors, blockedMs: loop.max / 1e6 });
  loop.reset();
}, 5_000).unref();
process.on('SIGTERM', () => {
  void scheduler.stop({ timeout: '5s' }).then(() => {
    flush();
    process.send?.({ type: 'stopped', errors }, () => process.exit(0));
  });
});
await scheduler.start();
process.send?.({ type: 'ready' });
