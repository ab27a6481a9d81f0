import type { ScheduleSpec } from 'caretaker';

/** What the soak runs: `tasks` tasks over `minutes`, on the PostgreSQL database at `url`. */
export interface SoakOptions {
  readonly url: string;
  readonly tasks: number;
  /** Tasks more, all due together once a minute. */
  readonly burst: number;
  /** Where in the minute the burst falls, ms past it. */
  readonly burstOffsetMs: number;
}

/** A soak task: its name, its schedule, and the interval between its ticks. */
export interface SoakTask {
  readonly name: string;
  readonly schedule: ScheduleSpec;
  readonly intervalMs: number;
  /** Where its ticks fall within the interval (its anchor past the epoch), ms. */
  readonly offsetMs: number;
}

/** Ticks on whole multiples of the interval, so the parent knows every tick's instant. */
const EPOCH = '1970-01-01T00:00:00.000Z';

/**
 * The mixed cadences of a service's upkeep: a tenth every second, three tenths every 5 s, three
 * tenths on a seconds cron every 15 s, the rest every minute (about 190 runs a second per 1,000);
 * then `burst` tasks due together at `burstOffsetMs` past every minute.
 */
export function taskMix(count: number, burst = 0, burstOffsetMs = 30_000): SoakTask[] {
  const mixed = Array.from({ length: count }, (_, i): SoakTask => {
    const band = i % 10;
    if (band === 0) return { name: `s1-${i}`, schedule: { every: '1s', anchor: EPOCH }, intervalMs: 1_000, offsetMs: 0 };
    if (band <= 3) return { name: `s5-${i}`, schedule: { every: '5s', anchor: EPOCH }, intervalMs: 5_000, offsetMs: 0 };
    if (band <= 6) return { name: `c15-${i}`, schedule: { cron: '*/15 * * * * *' }, intervalMs: 15_000, offsetMs: 0 };
    return { name: `m1-${i}`, schedule: { every: '1m', anchor: EPOCH }, intervalMs: 60_000, offsetMs: 0 };
  });
  // Per-tenant upkeep on the same minute (decision 025), away from the minute's other ticks.
  const anchor = new Date(burstOffsetMs).toISOString();
  const bursting = Array.from({ length: burst }, (_, i): SoakTask => ({ name: `b-${i}`, schedule: { every: '1m', anchor }, intervalMs: 60_000, offsetMs: burstOffsetMs }));
  return [...mixed, ...bursting];
}
