import type { FinalStatus, RunStatus } from '../store/records.ts';

/** Why the engine aborted a run's signal. */
export const ABORT_CAUSES = ['timeout', 'cancel', 'replace', 'shutdown', 'lease-lost'] as const;
export type AbortCause = (typeof ABORT_CAUSES)[number];

/** How a handler's execution ended, as the executor saw it. */
export type Settlement =
  /** The handler's promise resolved. */
  | 'returned'
  /** The handler threw or its promise rejected. */
  | 'threw'
  /** The handler ignored its abort signal past the grace period and was left behind. */
  | 'abandoned'
  /** The run never called its handler: its `when` condition said no, or `defer` ran out of time with `then: 'skip'`. */
  | 'declined';

/**
 * The status a run ends in, from how it settled and why (if at all) it was aborted. This is the
 * whole state machine of a run's end: `running → succeeded | failed | timed_out | cancelled |
 * interrupted`.
 *
 * - A timeout is strict: once the limit passed, the run is `timed_out` even if the handler then
 *   returned within the grace period.
 * - A cancel or shutdown the handler did not act on, because it returned normally, leaves the
 *   work done: `succeeded`.
 */
export function endStatus(settlement: Settlement, cause: AbortCause | null): FinalStatus {
  if (cause === null) {
    switch (settlement) {
      case 'declined':
        return 'skipped';
      case 'returned':
        return 'succeeded';
      case 'threw':
        return 'failed';
      case 'abandoned':
        // Only an aborted run is ever abandoned.
        throw new Error('invariant: a run without an abort cause cannot be abandoned');
      default:
        return assertNever(settlement);
    }
  }
  if (settlement === 'returned' && cause !== 'timeout') return 'succeeded';
  switch (cause) {
    case 'timeout':
      return 'timed_out';
    case 'cancel':
    case 'replace':
      return 'cancelled';
    case 'shutdown':
    case 'lease-lost':
      return 'interrupted';
    default:
      return assertNever(cause);
  }
}

/** The statuses a run may move to from `from`; final statuses never change. */
export function nextStatuses(from: RunStatus): readonly RunStatus[] {
  switch (from) {
    case 'running':
      return ['succeeded', 'failed', 'timed_out', 'cancelled', 'interrupted', 'skipped'];
    case 'succeeded':
    case 'failed':
    case 'timed_out':
    case 'cancelled':
    case 'interrupted':
    case 'skipped':
      return [];
    default:
      return assertNever(from);
  }
}

/** True when a run may move from `from` to `to`. */
export function canTransition(from: RunStatus, to: RunStatus): boolean {
  return nextStatuses(from).includes(to);
}

/** Compile-time exhaustiveness check for `switch` statements. */
export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${String(value)}`);
}
