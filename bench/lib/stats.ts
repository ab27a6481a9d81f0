/** The p-th percentile (0–100) of `values`, by nearest rank; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

let offset: number | null = null;

/**
 * Current wall-clock time in Unix milliseconds with sub-millisecond resolution. Schedulers
 * compare `Date.now()` (whole milliseconds) with nominal instants, so the precise clock is
 * aligned to it at a millisecond edge: `performance.timeOrigin + performance.now()` can be off
 * from `Date.now()` by a different fraction of a millisecond in every process, which would bias
 * every lateness figure.
 */
export function preciseNow(): number {
  if (offset === null) {
    // The first performance.now() call is slow (lazy set-up); any delay after an edge makes an
    // estimate too small, so warm up, then keep the largest of several edges.
    performance.now();
    let best = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < 7; i++) {
      const start = Date.now();
      let edge = start;
      while (edge === start) edge = Date.now();
      best = Math.max(best, edge - performance.now());
    }
    offset = best;
  }
  return performance.now() + offset;
}

/** Heap in use after two full collections (the child runs with --expose-gc). */
export function settledHeap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Blocks the event loop for `ms` (a CPU-bound handler, a synchronous parse, a GC pause). */
export function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
