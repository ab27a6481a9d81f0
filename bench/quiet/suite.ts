import { runChild } from '../lib/child.ts';
import type { SuiteOptions, SuiteResult } from '../lib/suite.ts';
import { caretakerOnly } from '../lib/summary.ts';
import { fmt } from '../lib/table.ts';

const CHILD = new URL('../engine/child.ts', import.meta.url);

/** The three schedulers compared, each 10,000 hourly tasks that do not fire in the window. */
const VARIANTS = [
  { library: 'caretaker', label: 'no options' },
  { library: 'caretaker+options', label: 'an option (overlap: skip), no defer' },
  { library: 'caretaker+defer', label: 'defer on every signal, none held' },
] as const;

type Variant = (typeof VARIANTS)[number]['library'];

/** Every order of the three variants: cycling through them, each runs first, second and third as often, after each other one. */
const ORDERS = [
  [0, 1, 2],
  [2, 0, 1],
  [1, 2, 0],
  [2, 1, 0],
  [0, 2, 1],
  [1, 0, 2],
] as const;

/** The middle value; for an even count, the mean of the two middle ones. */
const median = (xs: readonly number[]) => {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
const least = (xs: readonly number[]) => (xs.length === 0 ? Number.NaN : Math.min(...xs));
const most = (xs: readonly number[]) => (xs.length === 0 ? Number.NaN : Math.max(...xs));

/**
 * What `defer` costs a scheduler whose runs are never held: idle CPU of the same 10,000 tasks
 * with and without it. The figure is about a millisecond per 10 s, as noisy as a wake-up of the
 * process, so the variants run in interleaved rounds (each round one fresh process per variant,
 * in each of the six orders in turn) and the table reports paired differences as well as medians,
 * and the wake-ups of the process, which CPU time on a shared machine only estimates.
 */
export async function quietSuite({ quick, log }: SuiteOptions): Promise<SuiteResult> {
  const rounds = quick ? 2 : ORDERS.length;
  const seconds = quick ? 3 : 20;
  /** CPU by variant and round; NaN where that run failed, so rounds stay paired. */
  const cpu: Record<Variant, number[]> = { caretaker: [], 'caretaker+options': [], 'caretaker+defer': [] };
  /** Times the process was woken in the window, by variant and round (NaN where the run failed). */
  const wakeups: Record<Variant, number[]> = { caretaker: [], 'caretaker+options': [], 'caretaker+defer': [] };
  const failures: string[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const index of ORDERS[round % ORDERS.length] as readonly number[]) {
      const { library } = VARIANTS[index] as (typeof VARIANTS)[number];
      log(`  idleCpu ${library} round ${round + 1}/${rounds}`);
      const outcome = await runChild<{ cpuMs: number; wakeups: number }>(CHILD, ['idleCpu', library, JSON.stringify({ kind: 'every', count: 10_000, seconds })], { timeoutMs: (seconds + 60) * 1000 });
      cpu[library][round] = outcome.ok ? outcome.value.cpuMs : Number.NaN;
      wakeups[library][round] = outcome.ok ? outcome.value.wakeups : Number.NaN;
      if (!outcome.ok) failures.push(`${library} round ${round + 1}: ${outcome.reason}`);
    }
  }
  const measured = (library: Variant, of = cpu) => of[library].filter(Number.isFinite);
  /** defer − other, round by round (rounds where either failed left out): the median difference, its range, and how many rounds defer used more. */
  const paired = (other: Variant) => {
    const d = cpu['caretaker+defer'].map((x, i) => x - (cpu[other][i] ?? Number.NaN)).filter(Number.isFinite);
    return { median: median(d), min: least(d), max: most(d), higher: d.filter((x) => x > 0).length, rounds: d.length };
  };
  const vsOptions = paired('caretaker+options');
  const vsPlain = paired('caretaker');
  const ms = (v: number) => fmt.ms(v, 2);
  const perSecond = (v: number) => `${(v / seconds).toFixed(3)} ms/s`;
  return {
    raw: { rounds, seconds, cpuMs: cpu, wakeups, deferMinusOptions: vsOptions, deferMinusPlain: vsPlain, failures },
    tables: [
      {
        title: `Idle CPU with quiet time: 10,000 tasks, ${seconds} s, ${rounds} interleaved rounds of fresh processes`,
        header: ['tasks with', 'median CPU', 'min', 'max', 'wake-ups (min–max)'],
        rows: VARIANTS.map(({ library, label }) => [
          label,
          ms(median(measured(library))),
          ms(least(measured(library))),
          ms(most(measured(library))),
          `${least(measured(library, wakeups))}–${most(measured(library, wakeups))}`,
        ]),
        note:
          `defer − the same tasks with an option and no defer, per round: median ${ms(vsOptions.median)} = ${perSecond(vsOptions.median)} (${ms(vsOptions.min)} to ${ms(vsOptions.max)}; ` +
          `higher in ${vsOptions.higher} of ${vsOptions.rounds}). defer − no options: median ${ms(vsPlain.median)} (${ms(vsPlain.min)} to ${ms(vsPlain.max)}; ` +
          `higher in ${vsPlain.higher} of ${vsPlain.rounds}). A definition with any option is validated in full, one without takes a shorter path. ` +
          'Wake-ups: voluntary context switches of the process in the window (timers, I/O, helper threads), exact where CPU time is noisy.' +
          (failures.length > 0 ? ` Failed runs: ${failures.join('; ')}.` : ''),
      },
    ],
    headlines: [
      caretakerOnly(
        `idle CPU added by defer, 10,000 tasks, ${seconds} s (median of paired rounds)`,
        [{ name: 'defer − same tasks without defer', value: vsOptions.median }],
        ms,
      ),
    ],
  };
}
