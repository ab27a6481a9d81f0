import { setTimeout as sleep } from 'node:timers/promises';
import { instanceAlive, type Store } from '../../store/port.ts';
import type { RunRecord } from '../../store/records.ts';
import { formatDuration } from '../../util/duration.ts';
import type { CliIo } from '../context.ts';
import { runJson } from './history.ts';

const POLL_MS = 250;

/** How often a wait checks that an instance that runs the task is still alive. */
const LIVENESS_MS = 2_000;

/** How a wait for a requested run ended. */
export type Awaited =
  | { readonly kind: 'ended'; readonly run: RunRecord }
  /** Still running at the deadline. */
  | { readonly kind: 'running'; readonly run: RunRecord }
  /** Nobody took the request: it was withdrawn, so it will not run days later when a daemon starts. */
  | { readonly kind: 'withdrawn'; readonly why: string };

/**
 * Polls the store until the requested run has ended, or the deadline passes. While no instance
 * has taken the request, the instances that run `task` are checked every few seconds: when none
 * is left, or at the deadline, the request is withdrawn.
 */
export async function awaitRun(store: Store, id: string, task: string, timeoutMs: number): Promise<Awaited> {
  const deadline = Date.now() + timeoutMs;
  let checkedAt = Date.now();
  for (;;) {
    const run = await store.getRun(id);
    if (run !== null && run.status !== 'running') return { kind: 'ended', run };
    const late = Date.now() >= deadline;
    if (run !== null && late) return { kind: 'running', run };
    if (run === null && (late || Date.now() - checkedAt >= LIVENESS_MS)) {
      checkedAt = Date.now();
      const { live, why } = late ? { live: false, why: 'no instance took it in time' } : await whoRuns(store, task);
      // Withdrawn only if still untaken: an instance may have claimed it a moment ago.
      if (!live && (await store.withdrawTrigger(id))) return { kind: 'withdrawn', why };
    }
    await sleep(POLL_MS);
  }
}

/** Prints what a wait that did not see the run end means; the exit code (always 1). */
export function printUnfinished(io: CliIo, task: string, id: string, waited: Exclude<Awaited, { kind: 'ended' }>, timeout: string, json: boolean): number {
  const message =
    waited.kind === 'running'
      ? `${task}: gave up waiting after ${timeout}: run ${id} is still running (caretaker show ${id} follows it)`
      : `${task}: run ${id} withdrawn: ${waited.why}; start an instance (caretaker run), or run it here with --local`;
  if (json) io.out(JSON.stringify({ error: { code: waited.kind === 'running' ? 'ERR_STILL_RUNNING' : 'ERR_NO_INSTANCE', message, runId: id } }));
  else io.err(message);
  return 1;
}

/** Prints how a run ended; the exit code: 0 when it succeeded, else 1. */
export function printRunResult(io: CliIo, run: RunRecord, json: boolean): number {
  if (json) io.out(JSON.stringify(runJson(run)));
  else {
    io.out(`${run.task}: ${run.status}${run.durationMs !== null ? ` in ${formatDuration(run.durationMs)}` : ''} on ${run.instance ?? '?'} (run ${run.id})`);
    if (run.error !== null) io.out(`error: ${run.error.message}`);
    if (run.output !== null) io.out(`output: ${JSON.stringify(run.output)}`);
    if (run.retryAt !== null) io.out(`a retry is scheduled for ${run.retryAt.toISOString()}`);
  }
  return run.status === 'succeeded' ? 0 : 1;
}

/**
 * Whether a running instance on this store runs `task` (every instance's poll is a heartbeat),
 * and if not, a sentence saying what was last seen. Judged on the store's clock where it has one.
 */
export async function whoRuns(store: Store, task: string): Promise<{ readonly live: boolean; readonly why: string }> {
  const now = (await store.storeTime?.()) ?? Date.now();
  const instances = await store.listInstances();
  const running = instances.filter((i) => i.tasks.includes(task));
  if (running.some((i) => instanceAlive(i, now))) return { live: true, why: '' };
  const last = running.sort((a, b) => b.seenAt.getTime() - a.seenAt.getTime())[0];
  const ago = last === undefined ? null : formatDuration(Math.max(0, now - last.seenAt.getTime()));
  const why =
    last === undefined
      ? `no instance on this store runs task "${task}"`
      : `no running instance runs task "${task}" (last: ${last.instance}, ${last.stoppedAt !== null ? 'stopped' : 'seen'} ${ago} ago)`;
  return { live: false, why };
}
