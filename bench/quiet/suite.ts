import { runChild } from '../lib/child.ts';
import { percentile } from '../lib/stats.ts';
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

/**
 * What `defer` costs a scheduler whose runs are never held: idle CPU of the same 10,000 tasks
 * with and without it. The figure is about a millisecond per 10 s, as noisy as a wake-up of the
 * process, so the variants run in interleaved rounds (each round one fresh process per variant,
 * in an order rotated round by round) and the table reports paired differences as well as medians.
 */
export async function quietSuite({ quick, log }: SuiteOptions): Promise<SuiteResult> {
  const rounds = quick ? 2 : 7;
  const seconds = quick ? 3 : 10;
  const cpu: Record<Variant, number[]> = { caretaker: [], 'caretaker+options': [], 'caretaker+defer': [] };
  const failures: string[] = [];
  for (let round = 0; round < rounds; round++) {
    // Each round starts with another variant, so none always runs right after the same one.
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length] as (typeof VARIANTS)[number]);
    for (const { library } of order) {
      log(`  idleCpu ${library} round ${round + 1}/${rounds}`);
      const outcome = await runChild<{ cpuMs: number }>(CHILD, ['idleCpu', library, JSON.stringify({ kind: 'every', count: 10_000, seconds })], { timeoutMs: (seconds + 60) * 1000 });
      if (outcome.ok) cpu[library].push(outcome.value.cpuMs);
      else failures.push(`${library}: ${outcome.reason}`);
    }
  }
  const median = (xs: readonly number[]) => (xs.length === 0 ? Number.NaN : percentile(xs, 50));
  /** defer − other, round by round: the median difference, its range, and how many rounds defer used more. */
  const paired = (other: Variant) => {
    const d = cpu['caretaker+defer'].map((x, i) => x - (cpu[other][i] ?? Number.NaN)).filter(Number.isFinite);
    return { median: median(d), min: Math.min(...d), max: Math.max(...d), higher: d.filter((x) => x > 0).length, rounds: d.length };
  };
  const vsOptions = paired('caretaker+options');
  const vsPlain = paired('caretaker');
  const ms = (v: number) => fmt.ms(v, 2);
  return {
    raw: { rounds, seconds, cpuMs: cpu, deferMinusOptions: vsOptions, deferMinusPlain: vsPlain, failures },
    tables: [
      {
        title: `Idle CPU with quiet time: 10,000 tasks, ${seconds} s, ${rounds} interleaved rounds of fresh processes`,
        header: ['tasks with', 'median CPU', 'min', 'max'],
        rows: VARIANTS.map(({ library, label }) => [label, ms(median(cpu[library])), ms(Math.min(...cpu[library])), ms(Math.max(...cpu[library]))]),
        note:
          `defer − the same tasks with an option and no defer, per round: median ${ms(vsOptions.median)} (${ms(vsOptions.min)} to ${ms(vsOptions.max)}; ` +
          `higher in ${vsOptions.higher} of ${vsOptions.rounds}). defer − no options: median ${ms(vsPlain.median)} (${ms(vsPlain.min)} to ${ms(vsPlain.max)}; ` +
          `higher in ${vsPlain.higher} of ${vsPlain.rounds}). A definition with any option is validated in full, one without takes a shorter path.` +
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
