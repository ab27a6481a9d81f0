/**
 * `npm run soak -- --minutes N [--tasks 1000] [--burst 10000] [--first-burst 20] [--replicas 4]`: replicas on
 * PostgreSQL running a mix of cadences for N minutes; the burst falls every minute, first
 * `--first-burst` seconds after launch (the default lands it before the replicas' peer list has
 * settled, when each claims it whole: decision 035). `SOAK_CPU_PROF=DIR` writes each replica's
 * CPU profile to DIR when it stops. Prints, per time slice, ticks due, duplicated and missed ticks,
 * lateness percentiles, replica memory and store size; writes bench/results/soak.json. Exits 1
 * if any tick ran twice or not at all.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { dropDatabase, freshDatabase } from '../bench/cluster/databases.ts';
import { percentile } from '../bench/lib/stats.ts';
import { fmt, renderText, type Table } from '../bench/lib/table.ts';
import { taskMix } from './mix.ts';

const { values } = parseArgs({
  options: { minutes: { type: 'string', default: '10' }, tasks: { type: 'string', default: '1000' }, burst: { type: 'string', default: '10000' }, 'first-burst': { type: 'string', default: '20' }, replicas: { type: 'string', default: '4' }, keep: { type: 'boolean' } },
});
const positive = (name: string, text: string | undefined): number => {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`soak: --${name} must be a positive number, got "${text}"\n`);
    process.exit(2);
  }
  return n;
};
const minutes = positive('minutes', values.minutes);
const taskCount = Math.round(positive('tasks', values.tasks));
const replicaCount = Math.round(positive('replicas', values.replicas));
const burstCount = values.burst === '0' ? 0 : Math.round(positive('burst', values.burst));
const firstBurstS = positive('first-burst', values['first-burst']);
if (firstBurstS >= 60) {
  process.stderr.write(`soak: --first-burst must be under 60 seconds (the burst is every minute), got "${values['first-burst']}"\n`);
  process.exit(2);
}
/** Where in the minute the burst falls: `--first-burst` seconds from now, on a whole second. */
const burstOffsetMs = Math.ceil((Date.now() + firstBurstS * 1_000) / 1_000) * 1_000 % 60_000;
const log = (line: string) => process.stderr.write(`${line}\n`);

/** Ticks in flight when the replicas stop, and the first second after they start, are not judged. */
const EDGE_MS = 2_000;
const SAMPLE_MS = 10_000;
const sliceMs = minutes <= 3 ? 30_000 : 60_000;

const DB = 'caretaker_soak';
const url = await freshDatabase(DB);
const tasks = taskMix(taskCount, burstCount, burstOffsetMs);
const starts = new Map<string, number[]>(); // `${task}:${nominal}` → start instants
const rss = new Map<string, number>();
const errors = new Map<string, number>();
const errorMessages = new Set<string>();
/** Each replica's longest event-loop block since the last sample line. */
const blocked = new Map<string, number>();

function startReplica(instance: string): Promise<ChildProcess> {
  const child = fork(new URL('./replica.ts', import.meta.url), [JSON.stringify({ url, tasks: taskCount, burst: burstCount, burstOffsetMs, instance })], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: ['--no-warnings', ...(process.env.SOAK_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.SOAK_CPU_PROF] : [])] });
  return new Promise((resolve, reject) => {
    child.on('message', (m: { type: string; runs?: [number, number, number][]; rss?: number; errors?: number; message?: string; blockedMs?: number }) => {
      if (m.type === 'ready') resolve(child);
      else if (m.type === 'runs') for (const [task, nominal, at] of m.runs ?? []) {
        const key = `${task}:${nominal}`;
        const list = starts.get(key);
        if (list === undefined) starts.set(key, [at]);
        else list.push(at);
      } else if (m.type === 'memory') {
        rss.set(instance, m.rss ?? 0);
        errors.set(instance, m.errors ?? 0);
        blocked.set(instance, Math.max(blocked.get(instance) ?? 0, m.blockedMs ?? 0));
      } else if (m.type === 'error') errorMessages.add(m.message ?? '');
      else if (m.type === 'stopped') errors.set(instance, m.errors ?? 0);
    });
    child.once('exit', (code) => reject(new Error(`replica ${instance} exited with ${code} before it was ready`)));
  });
}

log(`soak: ${taskCount} tasks, ${replicaCount} replicas on PostgreSQL, ${minutes} min`);
const children = await Promise.all(Array.from({ length: replicaCount }, (_, i) => startReplica(`r${i}`)));
const startedAt = Date.now();
const client = new pg.Client({ connectionString: url });
await client.connect();
const samples: { at: number; rss: number; storeBytes: number; runRows: number }[] = [];
const endAt = startedAt + minutes * 60_000;
while (Date.now() < endAt) {
  await sleep(Math.min(SAMPLE_MS, endAt - Date.now()));
  const { rows } = await client.query<{ bytes: string; runs: string }>('SELECT pg_database_size(current_database()) AS bytes, (SELECT count(*) FROM caretaker.caretaker_runs) AS runs');
  samples.push({ at: Date.now(), rss: [...rss.values()].reduce((a, b) => a + b, 0), storeBytes: Number(rows[0]?.bytes), runRows: Number(rows[0]?.runs) });
  const last = samples.at(-1)!;
  log(`  ${Math.round((last.at - startedAt) / 1000)} s: ${starts.size} ticks run, RSS ${(last.rss / 2 ** 20).toFixed(0)} MiB, store ${(last.storeBytes / 2 ** 20).toFixed(1)} MiB, loop blocked ≤ ${[...blocked.values()].map((ms) => ms.toFixed(0)).join(' / ')} ms`);
  blocked.clear();
}
const stoppedAt = Date.now();
await client.end();
await Promise.all(children.map((c) => new Promise((resolve) => (c.kill('SIGTERM'), c.once('exit', resolve)))));

// Judge every tick due in [first, last]: ran exactly once?
const first = startedAt + EDGE_MS;
const last = stoppedAt - EDGE_MS;
interface Slice { ticks: number; duplicated: number; missed: number; lateness: number[] }
const slices: Slice[] = [];
const sliceOf = (t: number) => (slices[Math.floor((t - first) / sliceMs)] ??= { ticks: 0, duplicated: 0, missed: 0, lateness: [] });
const missedExamples: string[] = [];
/** The burst tasks' lateness alone: the mix's figures stay comparable with earlier soaks. */
const burstLateness: number[] = [];
for (const [index, task] of tasks.entries()) {
  const inBurst = index >= taskCount;
  for (let t = Math.ceil((first - task.offsetMs) / task.intervalMs) * task.intervalMs + task.offsetMs; t <= last; t += task.intervalMs) {
    const slice = sliceOf(t);
    slice.ticks++;
    const got = starts.get(`${index}:${t}`);
    if (got === undefined) {
      slice.missed++;
      if (missedExamples.length < 5) missedExamples.push(`${task.name} @ ${new Date(t).toISOString()}`);
      continue;
    }
    slice.duplicated += got.length - 1;
    for (const at of got) (inBurst ? burstLateness : slice.lateness).push(at - t);
  }
}
const sampleAt = (end: number) => samples.filter((s) => s.at <= end).at(-1);
const rows = slices.map((s, i) => {
  const end = first + (i + 1) * sliceMs;
  const sample = sampleAt(Math.min(end, stoppedAt));
  return [
    `${Math.round((i * sliceMs + EDGE_MS) / 1000)}–${Math.round((Math.min(end, last) - startedAt) / 1000)} s`,
    String(s.ticks),
    String(s.duplicated),
    String(s.missed),
    fmt.ms(percentile(s.lateness, 50), 2),
    fmt.ms(percentile(s.lateness, 99), 2),
    fmt.ms(Math.max(...s.lateness), 1),
    sample === undefined ? '–' : `${(sample.rss / 2 ** 20).toFixed(0)} MiB`,
    sample === undefined ? '–' : `${(sample.storeBytes / 2 ** 20).toFixed(1)} MiB`,
    sample === undefined ? '–' : String(sample.runRows),
  ];
});
const all = slices.reduce((a, s) => ({ ticks: a.ticks + s.ticks, duplicated: a.duplicated + s.duplicated, missed: a.missed + s.missed, lateness: a.lateness.concat(s.lateness) }), { ticks: 0, duplicated: 0, missed: 0, lateness: [] as number[] });
const final = samples.at(-1);
rows.push(['all', String(all.ticks), String(all.duplicated), String(all.missed), fmt.ms(percentile(all.lateness, 50), 2), fmt.ms(percentile(all.lateness, 99), 2), fmt.ms(Math.max(...all.lateness), 1), final === undefined ? '–' : `${(final.rss / 2 ** 20).toFixed(0)} MiB`, final === undefined ? '–' : `${(final.storeBytes / 2 ** 20).toFixed(1)} MiB`, final === undefined ? '–' : String(final.runRows)]);
const storeErrors = [...errors.values()].reduce((a, b) => a + b, 0);
const table: Table = {
  title: `Soak: ${taskCount} tasks (1 s / 5 s / 15 s cron / 1 min)${burstCount > 0 ? ` and a burst of ${burstCount} every minute` : ''}, ${replicaCount} replicas on PostgreSQL, ${minutes} min`,
  header: ['window', 'ticks', 'duplicated', 'missed', 'p50', 'p99', 'max', `RSS (${replicaCount})`, 'store', 'run rows'],
  rows,
  note: `Lateness is handler start minus the tick's instant, of the mix's ticks (ticks, duplicated and missed count the burst's too)${burstLateness.length > 0 ? `; the burst's: p50 ${fmt.ms(percentile(burstLateness, 50), 1)}, p99 ${fmt.ms(percentile(burstLateness, 99), 1)}, max ${fmt.ms(Math.max(...burstLateness), 1)}` : ''}. Errors reported by replicas: ${storeErrors}${errorMessages.size > 0 ? ` (${[...errorMessages].join('; ')})` : ''}.${missedExamples.length > 0 ? ` Missed, e.g.: ${missedExamples.join(', ')}` : ''}`,
};
process.stdout.write(`\n${renderText(table)}\n`);
const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`;
mkdirSync(new URL('../bench/results/', import.meta.url), { recursive: true });
writeFileSync(new URL('../bench/results/soak.json', import.meta.url), `${JSON.stringify({ date: new Date().toISOString(), machine, minutes, tasks: taskCount, burst: burstCount, burstLateness: burstLateness.length === 0 ? null : { p50: percentile(burstLateness, 50), p99: percentile(burstLateness, 99), max: Math.max(...burstLateness) }, replicas: replicaCount, totals: { ...all, lateness: undefined, p50: percentile(all.lateness, 50), p99: percentile(all.lateness, 99), max: Math.max(...all.lateness) }, storeErrors, errorMessages: [...errorMessages], slices: slices.map((s) => ({ ...s, lateness: undefined, p50: percentile(s.lateness, 50), p99: percentile(s.lateness, 99) })), samples }, null, 2)}\n`);
if (values.keep !== true) await dropDatabase(DB);
if (all.duplicated > 0 || all.missed > 0 || all.ticks === 0) {
  log(`soak FAILED: ${all.duplicated} duplicated, ${all.missed} missed of ${all.ticks} ticks`);
  process.exit(1);
}
log(`soak passed: ${all.ticks} ticks, none duplicated, none missed`);
