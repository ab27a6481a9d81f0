import { setTimeout as sleep } from 'node:timers/promises';
import { instanceAlive, type Store } from '../../store/port.ts';
import type { RunRecord } from '../../store/records.ts';
import { formatDuration } from '../../util/duration.ts';
import type { CliIo } from '../context.ts';
import { runJson } from './history.ts';

const POLL_MS = 250;

/** Polls the store until the run has ended, or the deadline passes; the run as last read (null if never seen). */
export async function awaitRun(store: Store, id: string, timeoutMs: number): Promise<RunRecord | null> {
  const deadline = Date.now() + timeoutMs;
  let run: RunRecord | null = null;
  while (Date.now() < deadline) {
    run = await store.getRun(id);
    if (run !== null && run.status !== 'running') return run;
    await sleep(POLL_MS);
  }
  return run;
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
