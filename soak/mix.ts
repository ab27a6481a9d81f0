import type { ScheduleSpec } from 'caretaker';

/** What the soak runs: `tasks` tasks over `minutes`, on the PostgreSQL database at `url`. */
export interface SoakOptions {
  readonly url: string;
  readonly tasks: number;
}

/** A soak task: its name, its schedule, and the interval between its ticks. */
export interface SoakTask {
  readonly name: string;
  readonly schedule: ScheduleSpec;
  readonly intervalMs: number;
}

/** Ticks on whole multiples of the interval, so the parent knows every tick's instant. */
const EPOCH = '1970-01-01T00:00:00.000Z';

/**
 * The mixed cadences of a service's upkeep: a tenth every second, three tenths every 5 s, three
 * tenths on a seconds cron every 15 s, the rest every minute (about 190 runs a second per 1,000).
 */
export function taskMix(count: number): SoakTask[] {
  return Array.from({ length: count }, (_, i): SoakTask => {
    const band = i % 10;
    if (band === 0) return { name: `s1-${i}`, schedule: { every: '1s', anchor: EPOCH }, intervalMs: 1_000 };
    if (band <= 3) return { name: `s5-${i}`, schedule: { every: '5s', anchor: EPOCH }, intervalMs: 5_000 };
    if (band <= 6) return { name: `c15-${i}`, schedule: { cron: '*/15 * * * * *' }, intervalMs: 15_000 };
    return { name: `m1-${i}`, schedule: { every: '1m', anchor: EPOCH }, intervalMs: 60_000 };
  });
}
