import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { LoadProbe, LoadSample, LoadWanted } from '../engine/load.ts';

/** How long a sample of the event-loop delay and the CPU lasts. */
const SAMPLE_MS = 100;
/** The delay histogram's resolution: fine enough for a 50 ms limit, coarse enough to cost nothing. */
const RESOLUTION_MS = 10;

function cpuTimes(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const cpu of os.cpus()) {
    const t = cpu.times;
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { idle, total };
}

function memoryInUse(): number {
  const limit = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
  // In a container with a limit below the host's memory, the limit is what runs out first.
  if (limit > 0 && limit < os.totalmem()) return Math.min(1, process.memoryUsage.rss() / limit);
  return 1 - os.freemem() / os.totalmem();
}

/**
 * Reads this process's and host's load for `defer`, only when asked: the event-loop delay and
 * the CPU over a 100 ms sample (the delay histogram exists only during it), memory at once.
 * A scheduler whose runs never wait for quiet time samples nothing.
 */
export function processLoadProbe(): LoadProbe {
  return {
    async sample(wanted: LoadWanted): Promise<LoadSample> {
      const histogram = wanted.eventLoopLag ? monitorEventLoopDelay({ resolution: RESOLUTION_MS }) : null;
      histogram?.enable();
      const before = wanted.cpu ? cpuTimes() : null;
      if (histogram !== null || before !== null) await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
      histogram?.disable();
      let cpu: number | null = null;
      if (before !== null) {
        const after = cpuTimes();
        const total = after.total - before.total;
        cpu = total > 0 ? Math.min(1, Math.max(0, 1 - (after.idle - before.idle) / total)) : null;
      }
      // The histogram counts delay beyond its own timer's period, in nanoseconds.
      const lag = histogram !== null && histogram.count > 0 ? histogram.percentile(99) / 1e6 : histogram !== null ? 0 : null;
      return {
        eventLoopLagMs: lag,
        cpu,
        memory: wanted.memory ? memoryInUse() : null,
        rssBytes: wanted.memory ? process.memoryUsage.rss() : null,
      };
    },
  };
}
