import { stableFraction } from '../../util/hash.ts';

/**
 * The jitter offset of one tick of one task: a stable pseudo-random value in [0, jitterMs),
 * derived from (task, tick) alone, so every replica computes the same due instant while the
 * ticks of many tasks still spread out.
 */
export function jitterOffset(task: string, tick: number, jitterMs: number): number {
  if (jitterMs <= 0) return 0;
  return Math.floor(stableFraction(`${task}@${tick}`) * jitterMs);
}
