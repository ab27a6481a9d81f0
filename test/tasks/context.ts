import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LastSuccess, TaskContext } from '../../src/index.ts';
import { silentLogger } from '../../src/util/logger.ts';

/** A handler context outside a scheduler, recording every progress report. */
export interface FakeContext extends TaskContext {
  readonly reports: { fraction: number; message: string | undefined }[];
  /** Lines written with `ctx.log`. */
  readonly lines: { message: string; level: string }[];
}

/** A context for calling a handler directly, as the engine would. */
export function fakeContext(
  options: { signal?: AbortSignal; lastSuccess?: LastSuccess | null; onProgress?: (fraction: number) => void } = {},
): FakeContext {
  const reports: FakeContext['reports'] = [];
  const lines: FakeContext['lines'] = [];
  return {
    signal: options.signal ?? new AbortController().signal,
    runId: 'run-test',
    task: 'test',
    scheduledFor: new Date(),
    attempt: 1,
    trigger: 'manual',
    lastSuccess: options.lastSuccess ?? null,
    logger: silentLogger,
    idempotencyKey: 'test@manual:run-test',
    fencingToken: 1,
    reports,
    lines,
    log(message, level = 'info') {
      lines.push({ message, level });
    },
    progress(fraction, message) {
      reports.push({ fraction, message });
      options.onProgress?.(fraction);
    },
  };
}

/** A temporary directory (real path) removed by the returned `cleanup`. */
export async function tempDir(prefix = 'caretaker-tasks-'): Promise<{ readonly dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

const DAY = 86_400_000;

/** Writes `bytes` bytes at `file` (creating nothing but the file) with an mtime `ageDays` ago. */
export async function writeAged(file: string, bytes: number, ageDays: number): Promise<void> {
  await writeFile(file, Buffer.alloc(bytes, 'x'));
  const when = new Date(Date.now() - ageDays * DAY);
  await utimes(file, when, when);
}
