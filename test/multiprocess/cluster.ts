import { type ChildProcess, fork } from 'node:child_process';
import type { RunRecord, Store } from '../../src/index.ts';

/** A replica process and what it reported. */
export interface Replica {
  readonly instance: string;
  readonly child: ChildProcess;
  readonly messages: Record<string, unknown>[];
  /** Resolves when the process exited. */
  readonly exited: Promise<number | null>;
}

const SCRIPT = new URL('./replica.ts', import.meta.url);
/** Every replica started and not yet exited: a failed test must not leave processes behind. */
const alive = new Set<ChildProcess>();

/** Kills (SIGKILL) every replica still running; for `afterEach`, so a failing test cannot hang the run. */
export async function killAllReplicas(): Promise<void> {
  const exits = [...alive].map((child) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once('exit', resolve))));
  for (const child of alive) child.kill('SIGKILL');
  await Promise.all(exits);
}

/**
 * Starts a replica and resolves once its scheduler has started. With `startAt`, the process boots
 * first and its scheduler starts at that wall-clock instant, so a test controls the start's phase.
 */
export async function startReplica(options: { readonly instance: string; readonly startAt?: number; readonly [option: string]: unknown }): Promise<Replica> {
  const { startAt, ...rest } = options;
  const child = fork(SCRIPT, [JSON.stringify({ ...rest, hold: startAt !== undefined })], {
    execArgv: ['--conditions=caretaker-source', '--no-warnings'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const messages: Record<string, unknown>[] = [];
  alive.add(child);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      alive.delete(child);
      resolve(code);
    }),
  );
  await new Promise<void>((resolve, reject) => {
    child.on('message', (m) => {
      messages.push(m as Record<string, unknown>);
      const type = (m as { type?: string }).type;
      if (type === 'booted') setTimeout(() => child.send({ type: 'go' }), Math.max(0, (startAt ?? 0) - Date.now()));
      if (type === 'ready') resolve();
    });
    child.once('exit', (code) => reject(new Error(`replica ${options.instance} exited with ${code} before it was ready`)));
  });
  return { instance: options.instance, child, messages, exited };
}

/** Stops replicas gracefully (SIGTERM) and waits for them to exit. */
export async function stopReplicas(replicas: readonly Replica[]): Promise<void> {
  for (const r of replicas) if (r.child.exitCode === null) r.child.kill('SIGTERM');
  await Promise.all(replicas.map((r) => r.exited));
}

/** Waits until `check` holds, polling every 100 ms, or fails after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Every run in the store (of one task, or all), oldest first. */
export async function storeRuns(store: Store, task?: string): Promise<RunRecord[]> {
  const out: RunRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listRuns({ limit: 1000, ...(task !== undefined ? { task } : {}), ...(cursor !== undefined ? { cursor } : {}) });
    out.push(...page.runs);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return out.reverse();
}
