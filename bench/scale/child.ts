/**
 * One point of the task-count scale in a fresh process: `child.ts <memory|sqlite> <json options>`
 * with options `{ count, idleSeconds }`. Prints one JSON line with the result.
 *
 * - memory: add `count` tasks and start (memory store), heap and RSS retained per task, then CPU
 *   per second of wall time while none of them is due.
 * - sqlite: the same on a SQLite file, where `start()` registers every task in the store; then a
 *   restart on the same file (every task already stored) and the file's size per task.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createScheduler, type Scheduler, type Store, sqliteStore } from 'caretaker';
import { settledHeap, sleep } from '../lib/stats.ts';

const [scenario, optionsJson] = process.argv.slice(2);
const options = JSON.parse(optionsJson ?? '{}') as { count: number; idleSeconds: number };
const { count } = options;

const noop = () => {};
/** Daily tasks, the first due in an hour and the rest a second apart after it: none fires here. */
const schedule = (i: number) => ({ every: '1d', initialDelay: 3_600_000 + (i % 86_400) * 1000 });

/** Adds `count` tasks and starts; the two phases timed apart. */
async function fill(scheduler: Scheduler): Promise<{ addMs: number; startMs: number }> {
  const t0 = performance.now();
  for (let i = 0; i < count; i++) scheduler.add({ name: `task-${i}`, schedule: schedule(i), handler: noop });
  const t1 = performance.now();
  await scheduler.start();
  return { addMs: t1 - t0, startMs: performance.now() - t1 };
}

/** CPU (user + system) per second of wall time over the idle window, after start-up settled. */
async function idleCpuPerSecond(): Promise<number> {
  // Background JIT compilation and sweeping after start-up are not idle cost.
  await sleep(2000);
  settledHeap();
  await sleep(500);
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  await sleep(options.idleSeconds * 1000);
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / 1000 / ((performance.now() - t0) / 1000);
}

async function memory(): Promise<object> {
  const scheduler = createScheduler({ instance: 'bench' });
  const heap0 = settledHeap();
  const rss0 = process.memoryUsage.rss();
  const { addMs, startMs } = await fill(scheduler);
  const heap1 = settledHeap();
  const rss1 = process.memoryUsage.rss();
  const cpuMsPerSecond = await idleCpuPerSecond();
  await scheduler.stop({ timeout: 1000 });
  return { ms: addMs + startMs, addMs, startMs, heapPerTask: (heap1 - heap0) / count, rssPerTask: (rss1 - rss0) / count, cpuMsPerSecond };
}

async function sqlite(): Promise<object> {
  const dir = mkdtempSync(join(tmpdir(), 'caretaker-scale-'));
  const path = join(dir, 'scale.db');
  const store = (): Store => sqliteStore({ path });
  try {
    const first = createScheduler({ instance: 'bench', store: store() });
    const { addMs, startMs } = await fill(first);
    const cpuMsPerSecond = await idleCpuPerSecond();
    await first.stop({ timeout: 1000 });
    const size = (suffix: string) => statSync(`${path}${suffix}`, { throwIfNoEntry: false })?.size ?? 0;
    const fileBytesPerTask = (size('') + size('-wal')) / count;
    const again = createScheduler({ instance: 'bench', store: store() });
    const restart = await fill(again);
    await again.stop({ timeout: 1000 });
    return { addMs, startMs, restartMs: restart.startMs, cpuMsPerSecond, fileBytesPerTask };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const SCENARIOS: Record<string, () => Promise<object>> = { memory, sqlite };
const run = SCENARIOS[scenario ?? ''];
if (run === undefined) throw new Error(`unknown scenario ${scenario}`);
const result = await run();
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
