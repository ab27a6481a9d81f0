import { setTimeout as delay } from 'node:timers/promises';
import type { TaskContext } from '../engine/task.ts';

/**
 * Waits `ms`, rejecting with the signal's own reason on abort rather than a generic
 * `AbortError`, so the run records why it stopped (timeout, cancel, shutdown).
 */
export async function pause(ms: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  if (ms <= 0) return;
  try {
    await delay(ms, undefined, { signal });
  } catch (error) {
    signal.throwIfAborted();
    throw error;
  }
}

/**
 * Reports `done / total` through `ctx.progress`, at most once per whole percent: a loop over a
 * million files must not emit a million events.
 */
export function progressCounter(ctx: TaskContext, total: number, label: string): (done: number) => void {
  let last = -1;
  return (done) => {
    const fraction = total <= 0 ? 1 : Math.min(1, done / total);
    const percent = Math.floor(fraction * 100);
    if (percent === last) return;
    last = percent;
    ctx.progress(fraction, `${label} ${done}/${total}`);
  };
}
