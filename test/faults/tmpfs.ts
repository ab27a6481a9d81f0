import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A small filesystem of the test's own, to fill up or make read-only. */
export interface Tmpfs {
  readonly dir: string;
  readOnly(): void;
  writable(): void;
  dispose(): void;
}

const mount = (...args: string[]) => execFileSync('mount', args, { stdio: 'pipe' });

/** Mounts a tmpfs of `size` (e.g. `4m`) on a new temporary directory. Needs root. */
export function mountTmpfs(size: string): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), 'caretaker-fs-'));
  mount('-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir);
  return {
    dir,
    // Linux refuses to remount read-only while a file is open for writing: close the store first.
    readOnly: () => void mount('-o', 'remount,ro', dir),
    writable: () => void mount('-o', 'remount,rw', dir),
    dispose() {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Why a tmpfs cannot be mounted here, or false. In CI it must work: this throws. */
export function tmpfsSkip(): string | false {
  let problem: string | null = null;
  try {
    mountTmpfs('64k').dispose();
  } catch (error) {
    problem = `mounting a tmpfs failed (${String((error as Error).message).split('\n')[0]}); these tests need root to fill up or freeze a filesystem`;
  }
  if (problem === null) return false;
  if (process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false') throw new Error(`${problem} (required in CI)`);
  return problem;
}
