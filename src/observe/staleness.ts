/** What staleness needs to know of a task. */
export interface StalenessInput {
  readonly paused: boolean;
  readonly staleAfterMs: number | null;
}

/**
 * A task is stale when it has `staleAfter` set, is not paused, and has had no success for that
 * long: since its last success, or, if it never succeeded, since observation began (a task that
 * was just deployed is not stale at once). Pure.
 */
export function isStale(task: StalenessInput, lastSuccessAt: number | null, observedSince: number, now: number): boolean {
  if (task.staleAfterMs === null || task.paused) return false;
  return now - Math.max(lastSuccessAt ?? Number.NEGATIVE_INFINITY, observedSince) > task.staleAfterMs;
}
