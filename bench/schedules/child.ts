/**
 * One measurement of the schedules suite in a fresh process: `child.ts <scenario> <json options>`.
 * Prints one JSON line with the result.
 *
 * - catch-up `{ cron, timezone, dst?, downtimesMs, samples }`: a task first registered at T0 and
 *   back at T0 + downtime, on the memory store and a virtual clock: how long the second
 *   scheduler's start() takes (it plans the missed ticks: one skipped record, the latest run),
 *   against the same start() without the outage, and the longest the event loop went unserved
 *   meanwhile; the first restart of the process (cold) apart, then warmed samples.
 * - distinct `{ count, distinct }`: `count` cron tasks with `count` distinct expressions (or all
 *   the same one), added and started on the memory store; time and heap retained.
 */
import { createScheduler, type DstOptions, memoryStore } from 'caretaker';
import { createTestClock } from 'caretaker/testing';
import { settledHeap } from '../lib/stats.ts';

const [scenario, optionsJson] = process.argv.slice(2);
const options = JSON.parse(optionsJson ?? '{}') as Record<string, unknown>;
const noop = () => {};

/** The longest gap between turns of the event loop while `work` runs: how long it blocked it. */
async function longestStall<T>(work: () => Promise<T>): Promise<{ value: T; ms: number; stallMs: number }> {
  let longest = 0;
  let last = performance.now();
  let watching = true;
  const beat = () => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (watching) setImmediate(beat);
  };
  setImmediate(beat);
  const t0 = performance.now();
  const value = await work();
  const ms = performance.now() - t0;
  watching = false;
  beat();
  return { value, ms, stallMs: longest };
}

/** One restart after `downtimeMs` (0: no outage) of a cron task first registered then. */
async function restart(backAt: number, downtimeMs: number): Promise<{ ms: number; stallMs: number; skipped: number }> {
  const { cron, timezone } = options as { cron: string; timezone: string };
  const dst = options.dst as DstOptions | undefined;
  const store = memoryStore();
  const def = { name: 'job', schedule: { cron, timezone, ...(dst === undefined ? {} : { dst }) }, catchUp: 'latest' as const, handler: noop };
  const first = createScheduler({ instance: 'before', store, clock: createTestClock({ start: backAt - downtimeMs }) });
  first.add(def);
  await first.start();
  await first.stop({ timeout: 0 });
  let skipped = 0;
  const again = createScheduler({ instance: 'after', store, clock: createTestClock({ start: backAt }) });
  again.on('tick:skipped', (event) => (skipped += event.skippedTicks));
  again.add(def);
  const { ms, stallMs } = await longestStall(() => again.start());
  await again.stop({ timeout: 0 });
  return { ms, stallMs, skipped };
}

async function catchUp(): Promise<object> {
  const downtimes = options.downtimesMs as number[];
  const samples = options.samples as number;
  // Back mid-April 2026: 30 days down cross the March change of offset in Europe and the April one on Lord Howe.
  const back = Date.UTC(2026, 3, 15, 12, 0, 0);
  // Samples a few seconds apart: the shared schedule's memo answers nothing twice.
  let sample = 0;
  const next = (downtime: number) => restart(back + sample++ * 7_777, downtime);
  // The first restart of the process, after the longest outage (every expression missed ticks in it): compiled cold.
  const first = await next(Math.max(...downtimes));
  for (const downtime of [0, ...downtimes]) await next(downtime);
  const series = async (downtime: number) => {
    const runs = [];
    for (let i = 0; i < samples; i++) {
      // A collection owed to earlier samples is not this one's cost.
      settledHeap();
      runs.push(await next(downtime));
    }
    return runs;
  };
  const controlMs = (await series(0)).map((r) => r.ms);
  const byDowntime: Record<string, object> = {};
  for (const downtime of downtimes) {
    const runs = await series(downtime);
    byDowntime[downtime] = { ms: runs.map((r) => r.ms), stallMs: runs.map((r) => r.stallMs), skipped: runs.map((r) => r.skipped) };
  }
  return { firstMs: first.ms, firstStallMs: first.stallMs, controlMs, byDowntime };
}

/** `count` distinct expressions: a second, minute and hour of their own, with varied day fields. */
function expression(i: number): string {
  const time = `${i % 60} ${Math.floor(i / 60) % 60} ${Math.floor(i / 3600) % 24}`;
  switch (i % 4) {
    case 0:
      return `${time} * * *`;
    case 1:
      return `${time} * * ${i % 7}`;
    case 2:
      return `${time} ${1 + (i % 28)} * *`;
    default:
      return `${time} L */${1 + (i % 6)} *`;
  }
}

async function distinct(): Promise<object> {
  const count = options.count as number;
  // A virtual clock at the present, as a daemon's clock is (nothing fires while measuring).
  const scheduler = createScheduler({ instance: 'bench', clock: createTestClock({ start: Date.now() }) });
  const before = settledHeap();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const cron = options.distinct === true ? expression(i) : expression(0);
    scheduler.add({ name: `task-${i}`, schedule: { cron, timezone: i % 2 === 0 ? 'UTC' : 'Europe/Berlin' }, handler: noop });
  }
  const t1 = performance.now();
  const { stallMs } = await longestStall(() => scheduler.start());
  const ms = performance.now() - t0;
  const after = settledHeap();
  const tasks = scheduler.tasks().length;
  await scheduler.stop({ timeout: 0 });
  return { ms, addMs: t1 - t0, startMs: ms - (t1 - t0), stallMs, heapBytes: after - before, tasks };
}

const SCENARIOS: Record<string, () => Promise<object>> = { 'catch-up': catchUp, distinct };
const run = SCENARIOS[scenario ?? ''];
if (run === undefined) throw new Error(`unknown scenario ${scenario}`);
const result = await run();
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
