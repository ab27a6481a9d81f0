import { type ChildProcess, fork } from 'node:child_process';
import type { RunMessage, WorkerOptions } from './worker.ts';

const WORKER = new URL('./worker.ts', import.meta.url);

/** Replica processes of one library and every handler start they reported. */
export interface Fleet {
  readonly runs: RunMessage[];
  readonly children: readonly ChildProcess[];
  /** SIGTERM to every live replica; resolves when all have exited. */
  stop(): Promise<void>;
}

function startWorker(options: WorkerOptions, runs: RunMessage[]): Promise<ChildProcess> {
  const child = fork(WORKER, [JSON.stringify(options)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: ['--no-warnings'] });
  return new Promise((resolve, reject) => {
    child.on('message', (m: { type: string }) => {
      if (m.type === 'ready') resolve(child);
      else if (m.type === 'run') runs.push(m as RunMessage);
    });
    child.once('exit', (code) => reject(new Error(`${options.library} replica ${options.instance} exited with ${code} before it was ready`)));
  });
}

/** Starts `count` replicas (r0, r1, …) with the same options and waits until each is ready. */
export async function startFleet(count: number, options: Omit<WorkerOptions, 'instance'>): Promise<Fleet> {
  const runs: RunMessage[] = [];
  const children = await Promise.all(Array.from({ length: count }, (_, i) => startWorker({ ...options, instance: `r${i}` }, runs)));
  const exited = children.map((c) => new Promise<void>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve()))));
  return {
    runs,
    children,
    async stop() {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
      await Promise.all(exited);
    },
  };
}

/** What a series of handler starts says about ticks `interval` apart from `first` to `last`. */
export function tickReport(runs: readonly RunMessage[], first: number, last: number, interval: number): { ticks: number; missed: number; duplicated: number; lateness: number[] } {
  const perTick = new Map<number, number>();
  for (const r of runs) perTick.set(r.nominal, (perTick.get(r.nominal) ?? 0) + 1);
  let ticks = 0;
  let missed = 0;
  let duplicated = 0;
  for (let t = first; t <= last; t += interval) {
    ticks++;
    const n = perTick.get(t) ?? 0;
    if (n === 0) missed++;
    duplicated += Math.max(0, n - 1);
  }
  const lateness = runs.filter((r) => r.nominal >= first && r.nominal <= last).map((r) => r.at - r.nominal);
  return { ticks, missed, duplicated, lateness };
}
