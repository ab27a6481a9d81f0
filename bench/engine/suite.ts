import { runChild } from '../lib/child.ts';
import type { SuiteOptions, SuiteResult } from '../lib/suite.ts';
import { type Headline, versus } from '../lib/summary.ts';
import { fmt, type Table } from '../lib/table.ts';

const CHILD = new URL('./child.ts', import.meta.url);

type Result = Record<string, number>;
export type Row = { library: string; variant: string; result: Result | null; reason?: string };

/**
 * The median of `repeat` fresh-process runs (by `key`); a failed run ends the series. `run` is
 * given the run's number (1-based).
 */
async function medianOf(repeat: number, key: string, run: (n: number) => Promise<Row>): Promise<Row> {
  const rows: Row[] = [];
  for (let i = 0; i < repeat; i++) {
    const row = await run(i + 1);
    if (row.result === null) return row;
    rows.push(row);
  }
  rows.sort((a, b) => (value(a, key) ?? 0) - (value(b, key) ?? 0));
  return rows[rows.length >> 1] as Row;
}

async function measure(scenario: string, library: string, options: object, timeoutMs: number, log: (l: string) => void): Promise<Row> {
  const variant = 'kind' in options ? String((options as { kind: string }).kind) : '';
  log(`  ${scenario} ${library} ${JSON.stringify(options)}`);
  const outcome = await runChild<Result>(CHILD, [scenario, library, JSON.stringify(options)], { timeoutMs });
  return outcome.ok ? { library, variant, result: outcome.value } : { library, variant, result: null, reason: outcome.reason };
}

const label = (row: Row) => (row.variant === '' ? row.library : `${row.library} (${row.variant})`);
const value = (row: Row, key: string) => row.result?.[key];
/** peer / caretaker: above 1 means Caretaker is better (less time, bytes, lateness). */
const ratio = (peer: number | undefined, ours: number | undefined) => (peer === undefined || ours === undefined || ours === 0 ? undefined : peer / ours);

/**
 * The in-process benchmark: Caretaker beside croner, node-cron, cron and toad-scheduler (and a
 * bare setInterval where it applies), each measurement in a fresh process.
 */
export async function engineSuite({ quick, log }: SuiteOptions): Promise<SuiteResult> {
  const raw: Record<string, Row[]> = {};
  const tables: Table[] = [];

  // 1. Registration: time and retained heap per task.
  const sizes = quick ? [1_000, 10_000] : [1_000, 10_000, 100_000];
  const registration: Row[] = [];
  for (const [kind, libraries] of [
    ['every', ['caretaker', 'toad-scheduler']],
    ['cron', ['caretaker', 'croner', 'node-cron', 'cron', 'toad-scheduler']],
  ] as const) {
    for (const library of libraries) {
      for (const count of sizes) {
        const row = await medianOf(3, 'ms', () => measure('registration', library, { kind, count }, 120_000, log));
        registration.push({ ...row, variant: `${kind} ×${count / 1000}k` });
      }
    }
  }
  raw.registration = registration;
  tables.push({
    title: `Registering tasks (time to add and arm, heap retained per task; median of 3 fresh processes)`,
    header: ['library (schedule × tasks)', 'time', 'bytes / task'],
    rows: registration.map((r) => [label(r), r.result === null ? (r.reason ?? '–') : fmt.ms(value(r, 'ms'), 0), r.result === null ? '–' : fmt.bytes(value(r, 'bytesPerTask'))]),
    note: 'Cron tasks use 100 distinct daily expressions round-robin; every tasks fire hourly.',
  });

  // 2. Idle CPU with 10,000 tasks that do not fire during the window.
  const idleSeconds = quick ? 3 : 10;
  const idle: Row[] = [];
  for (const [library, kind] of [
    ['caretaker', 'every'],
    ['caretaker', 'cron'],
    ['toad-scheduler', 'every'],
    ['toad-scheduler', 'cron'],
    ['croner', 'cron'],
    ['node-cron', 'cron'],
    ['cron', 'cron'],
  ] as const) {
    idle.push(await medianOf(3, 'cpuMs', () => measure('idleCpu', library, { kind, count: 10_000, seconds: idleSeconds }, (idleSeconds + 60) * 1000, log)));
  }
  raw.idle = idle;
  const bestPeerIdle = Math.min(...idle.filter((r) => !r.library.startsWith('caretaker')).map((r) => value(r, 'cpuMs') ?? Infinity));
  tables.push({
    title: `CPU used while idle: 10,000 tasks, ${idleSeconds} s (median of 3 fresh processes)`,
    header: ['library (schedule)', 'CPU', 'vs best peer'],
    rows: idle.map((r) => [label(r), r.result === null ? (r.reason ?? '–') : fmt.ms(value(r, 'cpuMs')), fmt.ratio((value(r, 'cpuMs') ?? NaN) / bestPeerIdle)]),
  });

  // 3. Lateness of 100 tasks firing every second, on an idle loop and on a blocked one.
  const seconds = quick ? 8 : 15;
  const lateness: Row[] = [];
  for (const blocked of [false, true]) {
    for (const [library, kind] of [
      ['caretaker', 'every'],
      ['caretaker', 'cron'],
      ['toad-scheduler', 'every'],
      ['croner', 'cron'],
      ['node-cron', 'cron'],
      ['cron', 'cron'],
    ] as const) {
      // Run n of every library meets the same blocks against its instants (seed n).
      const row = await medianOf(quick ? 1 : 3, 'p99', (n) => measure('lateness', library, { kind, count: 100, seconds, blocked, seed: n }, (seconds + 60) * 1000, log));
      lateness.push({ ...row, variant: `${kind}${blocked ? ', blocked' : ''}` });
    }
  }
  raw.lateness = lateness;
  const ours = (blocked: boolean) => lateness.find((r) => r.library === 'caretaker' && r.variant === `every${blocked ? ', blocked' : ''}`);
  tables.push({
    title: `Lateness: 100 tasks every second for ${seconds} s (handler start − nominal instant; the run with the median p99 of 3); "per-run work before a start": (last start − first start) ÷ 99 at each instant, median over the instants (unblocked runs); "blocked": the loop is blocked 50 ms every 200 ms, at the same places against every library's instants (run n: seed n)`,
    header: ['library (schedule)', 'p50', 'p99', 'max', 'per-run work before a start', 'lost ticks', 'doubled', 'p99 vs caretaker'],
    rows: lateness.map((r) => [
      label(r),
      fmt.ms(value(r, 'p50'), 2),
      fmt.ms(value(r, 'p99'), 2),
      fmt.ms(value(r, 'max'), 1),
      value(r, 'perRunUs') == null ? '–' : `${(value(r, 'perRunUs') as number).toFixed(1)} µs`,
      r.result === null ? (r.reason ?? '–') : String(value(r, 'missed')),
      r.result === null ? '–' : String(value(r, 'doubled')),
      fmt.ratio(ratio(value(r, 'p99'), value(ours(r.variant.includes('blocked')) ?? r, 'p99'))),
    ]),
  });

  // 4. Drift of a 100 ms interval.
  const fires = quick ? 100 : 300;
  const drift: Row[] = [];
  for (const library of ['caretaker', 'toad-scheduler', 'setInterval']) drift.push(await measure('drift', library, { ms: 100, fires }, 120_000, log));
  raw.drift = drift;
  tables.push({
    title: `Drift of a 100 ms interval over ${fires} fires (start of fire k − its nominal instant)`,
    header: ['library', `error at k=${fires}`, 'p99 |error|', 'max |error|', 'growth per fire'],
    rows: drift.map((r) => [label(r), fmt.ms(value(r, 'atLast'), 2), fmt.ms(value(r, 'p99Abs'), 2), fmt.ms(value(r, 'maxAbs'), 2), fmt.ms(value(r, 'perFire'), 3)]),
  });

  // 5. A 2.5 s stall of the event loop under a per-second task.
  const stall: Row[] = [];
  for (const [library, kind] of [
    ['caretaker', 'every'],
    ['caretaker', 'cron'],
    ['toad-scheduler', 'every'],
    ['croner', 'cron'],
    ['node-cron', 'cron'],
    ['cron', 'cron'],
  ] as const) {
    stall.push(await measure('stall', library, { kind }, 60_000, log));
  }
  raw.stall = stall;
  tables.push({
    title: 'A 2.5 s event-loop stall under a per-second task: runs in the 3 s window holding it (3 ticks due)',
    header: ['library (schedule)', 'ticks due', 'runs'],
    rows: stall.map((r) => [label(r), String(value(r, 'ticksDue') ?? '–'), r.result === null ? (r.reason ?? '–') : String(value(r, 'ran'))]),
  });
  return { tables, raw, headlines: engineHeadlines(raw, { largest: sizes.at(-1) ?? 0, idleSeconds }) };
}

/**
 * The engine's rows of the combined summary: Caretaker's worst variant against the best peer,
 * per figure (a missing result of a peer, such as out of memory, does not compete).
 */
export function engineHeadlines(raw: Record<string, Row[]>, { largest, idleSeconds }: { largest: number; idleSeconds: number }): Headline[] {
  const split = (rows: readonly Row[] | undefined, key: (r: Row) => number | undefined) => ({
    ours: (rows ?? []).filter((r) => r.library === 'caretaker').map(key),
    peers: (rows ?? []).filter((r) => !r.library.startsWith('caretaker')).map((r) => ({ name: label(r), value: key(r) })),
  });
  const row = (figure: string, rows: readonly Row[] | undefined, key: (r: Row) => number | undefined, format: (v: number) => string) => {
    const { ours, peers } = split(rows, key);
    return versus(figure, ours, peers, format);
  };
  const n = `${largest / 1000}k`;
  const ofSize = (kind: string) => raw.registration?.filter((r) => r.variant === `${kind} ×${n}`);
  const calm = raw.lateness?.filter((r) => !r.variant.includes('blocked'));
  const blocked = raw.lateness?.filter((r) => r.variant.includes('blocked'));
  const ms = (digits: number) => (v: number) => fmt.ms(v, digits);
  return [
    row(`registration time, ${n} tasks (every)`, ofSize('every'), (r) => value(r, 'ms'), ms(0)),
    row(`registration time, ${n} tasks (cron)`, ofSize('cron'), (r) => value(r, 'ms'), ms(0)),
    row(`heap per task, ${n} tasks (every)`, ofSize('every'), (r) => value(r, 'bytesPerTask'), fmt.bytes),
    row(`heap per task, ${n} tasks (cron)`, ofSize('cron'), (r) => value(r, 'bytesPerTask'), fmt.bytes),
    row(`CPU while idle for ${idleSeconds} s, 10,000 tasks`, raw.idle, (r) => value(r, 'cpuMs'), ms(1)),
    row('lateness p99, 100 tasks every second', calm, (r) => value(r, 'p99'), ms(2)),
    row('lateness p99, loop blocked 50 ms every 200 ms (the same blocks for every library)', blocked, (r) => value(r, 'p99'), ms(2)),
    row('per-run work before a start, 100 handlers at one instant', calm, (r) => value(r, 'perRunUs') ?? undefined, (v) => `${v.toFixed(1)} µs`),
    row('lost + doubled ticks, lateness runs', raw.lateness, (r) => (r.result === null ? undefined : (value(r, 'missed') ?? 0) + (value(r, 'doubled') ?? 0)), String),
    row('drift of a 100 ms interval, p99 |error|', raw.drift, (r) => value(r, 'p99Abs'), ms(2)),
    row('runs lost to a 2.5 s loop stall (of 3 due)', raw.stall, (r) => (r.result === null ? undefined : (value(r, 'ticksDue') ?? 0) - (value(r, 'ran') ?? 0)), String),
  ];
}
