import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { percentile } from './stats.ts';

/** What a benchmark child reported, or why it did not. */
export type ChildResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * Runs `script` in a fresh Node process (clean heap, own event loop) and parses the last line
 * it prints as JSON. Out-of-memory and timeouts are results, not crashes of the benchmark.
 */
export function runChild<T>(script: URL, args: readonly string[], options: { timeoutMs: number; heapMb?: number }): Promise<ChildResult<T>> {
  const flags = ['--expose-gc', `--max-old-space-size=${options.heapMb ?? 4096}`];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...flags, fileURLToPath(script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const last = stdout.trim().split('\n').at(-1) ?? '';
      if (code === 0 && last.startsWith('{')) {
        resolve({ ok: true, value: JSON.parse(last) as T });
        return;
      }
      if (/heap out of memory|Allocation failed/i.test(stderr)) resolve({ ok: false, reason: 'out of memory' });
      else if (signal === 'SIGKILL') resolve({ ok: false, reason: `timed out after ${options.timeoutMs / 1000} s` });
      else resolve({ ok: false, reason: `exit ${code ?? signal}: ${stderr.trim().split('\n').slice(-3).join(' | ')}` });
    });
  });
}

/**
 * Runs a child `repeat` times and reports the median of every figure it returns, each taken on
 * its own (fresh processes vary; one slow start should not pick the other figures). The first
 * failure ends the series and is the result.
 */
export async function medianOfChildren(repeat: number, run: () => Promise<ChildResult<Record<string, number>>>): Promise<ChildResult<Record<string, number>>> {
  const values: Record<string, number>[] = [];
  for (let i = 0; i < repeat; i++) {
    const outcome = await run();
    if (!outcome.ok) return outcome;
    values.push(outcome.value);
  }
  const keys = Object.keys(values[0] ?? {});
  return { ok: true, value: Object.fromEntries(keys.map((k) => [k, percentile(values.map((v) => v[k] ?? Number.NaN), 50)])) };
}
