/**
 * One benchmark measurement in a fresh process: `child.ts <scenario> <library> <json options>`.
 * Prints one JSON line with the result.
 */
import { ADAPTERS, type Adapter, type OnFire } from './adapters.ts';
import { busyWait, percentile, preciseNow, settledHeap, sleep } from '../lib/stats.ts';

const [scenario, library, optionsJson] = process.argv.slice(2);
const options = JSON.parse(optionsJson ?? '{}') as Record<string, number | string | boolean>;
const make = ADAPTERS[library ?? ''];
if (make === undefined) throw new Error(`unknown library ${library}`);
const adapter: Adapter = make();

/** 100 distinct daily expressions (minute, hour): parsed once each by libraries that share. */
const DAILY = Array.from({ length: 100 }, (_, k) => `${k % 60} ${Math.floor(k / 60)} * * *`);
/** 100 distinct yearly expressions that will not fire during a benchmark. */
const YEARLY = Array.from({ length: 100 }, (_, k) => `${k % 60} ${Math.floor(k / 60)} 1 1 *`);
const EVERY_SECOND = ['* * * * * *'];

async function register(kind: string, count: number, fire: OnFire, exprs: readonly string[], everyMs: number): Promise<void> {
  if (kind === 'every') {
    if (adapter.every === null) throw new Error('unsupported');
    await adapter.every(count, everyMs, fire);
  } else {
    if (adapter.cron === null) throw new Error('unsupported');
    await adapter.cron(exprs, count, fire);
  }
}

async function registration(): Promise<object> {
  const count = Number(options.count);
  const before = settledHeap();
  const t0 = performance.now();
  await register(String(options.kind), count, null, DAILY, 3_600_000);
  const ms = performance.now() - t0;
  const after = settledHeap();
  return { ms, bytesPerTask: (after - before) / count };
}

async function idleCpu(): Promise<object> {
  await register(String(options.kind), Number(options.count), null, YEARLY, 3_600_000);
  // Let start-up settle (background JIT compilation, sweeping) before the window, for everyone.
  await sleep(3000);
  settledHeap();
  await sleep(500);
  const start = process.cpuUsage();
  const switches = process.resourceUsage().voluntaryContextSwitches;
  await sleep(Number(options.seconds) * 1000);
  const used = process.cpuUsage(start);
  // Each time the process sleeps and is woken (a timer, I/O, a GC helper thread) is one switch:
  // a count of wake-ups, exact where CPU time is noisy.
  return { cpuMs: (used.user + used.system) / 1000, wakeups: process.resourceUsage().voluntaryContextSwitches - switches };
}

async function lateness(): Promise<object> {
  const seconds = Number(options.seconds);
  const warm = preciseNow() + 2500;
  const samples: number[] = [];
  const fires = new Map<string, number>();
  /** Handler starts per nominal instant: the spread from the first to the last is engine work per run. */
  const startsAt = new Map<number, number[]>();
  const perJob: number[][] = [];
  let blocking = options.blocked === true;
  let blocksFrom: number | null = null;
  await register(String(options.kind), Number(options.count), (job, nominal) => {
    const now = preciseNow();
    if (blocking && blocksFrom === null) startBlocks((blocksFrom = nominal));
    if (nominal < warm) return;
    samples.push(now - nominal);
    let starts = startsAt.get(nominal);
    if (starts === undefined) startsAt.set(nominal, (starts = []));
    starts.push(now);
    const key = `${job}@${Math.round(nominal)}`;
    fires.set(key, (fires.get(key) ?? 0) + 1);
    (perJob[job] ??= []).push(nominal);
  }, EVERY_SECOND, 1000);
  // Blocks of 50 ms every 200 ms on average, 100-200 ms apart (a fixed period would either
  // always or never meet the ticks). Every library gets the same blocks against its own
  // instants: a seeded schedule counted from the first instant it fires. With a random phase per
  // process, the library that drew the worse phase lost the comparison (decision 040).
  // The gaps come from the seed through fractional parts of multiples of irrational numbers, so
  // one seed gives every library the same blocks. Three seeds sample the few milliseconds before
  // an instant, where libraries differ, only sparsely (decision 040).
  function startBlocks(firstInstant: number): void {
    const seed = Number(options.seed ?? 1);
    const frac = (x: number) => x - Math.floor(x);
    let k = 0;
    let next = firstInstant + 500 + 200 * frac(seed * 0.6180339887);
    const block = () => {
      if (!blocking) return;
      busyWait(50);
      next += 150 + 100 * frac(0.5 + seed * 0.6180339887 + ++k * 0.7548776662);
      setTimeout(block, Math.max(0, next - preciseNow()));
    };
    setTimeout(block, Math.max(0, next - preciseNow()));
  }
  await sleep((seconds + 3) * 1000);
  blocking = false;
  const end = preciseNow() - 1500;
  // Lost ticks: gaps of more than one interval between a job's consecutive nominal instants.
  let missed = 0;
  for (const nominals of perJob) {
    const inWindow = [...new Set((nominals ?? []).filter((n) => n < end))].sort((a, b) => a - b);
    for (let i = 1; i < inWindow.length; i++) missed += Math.max(0, Math.round(((inWindow[i] as number) - (inWindow[i - 1] as number)) / 1000) - 1);
  }
  const doubled = [...fires.values()].filter((n) => n > 1).length;
  // Per instant, (last start − first start) / (handlers − 1): what each further handler waited for
  // the library's work on the ones before it. Only in runs without blocks (a block, not the
  // library, may split an instant), and only over whole instants (not a partial last one).
  const perRun: number[] = [];
  for (const starts of options.blocked === true ? [] : startsAt.values()) {
    if (starts.length < Number(options.count)) continue;
    perRun.push(((Math.max(...starts) - Math.min(...starts)) / (starts.length - 1)) * 1000);
  }
  return { samples: samples.length, p50: percentile(samples, 50), p99: percentile(samples, 99), max: Math.max(...samples), missed, doubled, perRunUs: perRun.length > 0 ? percentile(perRun, 50) : null };
}

async function drift(): Promise<object> {
  const interval = Number(options.ms);
  const fires = Number(options.fires);
  const errors: number[] = [];
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => (done = resolve));
  // Error of each fire against the instant the library meant: k intervals after registration.
  await register('every', 1, (_job, nominal) => {
    if (errors.length < fires) errors.push(preciseNow() - nominal);
    if (errors.length === fires) done();
  }, [], interval);
  await finished;
  const abs = errors.map(Math.abs);
  return { atLast: errors.at(-1), p99Abs: percentile(abs, 99), maxAbs: Math.max(...abs), perFire: ((errors.at(-1) as number) - (errors[0] as number)) / (fires - 1) };
}

async function stall(): Promise<object> {
  const fires: number[] = [];
  await register(String(options.kind), 1, () => fires.push(preciseNow()), EVERY_SECOND, 1000);
  await sleep(3200 + Math.random() * 1000);
  // A per-second task has exactly 3 ticks due in any 3 s window; this one holds a 2.5 s stall.
  const windowStart = preciseNow();
  busyWait(2500);
  await sleep(1500);
  const ran = fires.filter((t) => t >= windowStart && t < windowStart + 3000).length;
  return { ticksDue: 3, ran };
}

const SCENARIOS: Record<string, () => Promise<object>> = { registration, idleCpu, lateness, drift, stall };
const run = SCENARIOS[scenario ?? ''];
if (run === undefined) throw new Error(`unknown scenario ${scenario}`);
const result = await run();
await adapter.stop();
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
