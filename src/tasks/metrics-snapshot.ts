import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { TaskHandler } from '../engine/task.ts';

/** What a metrics snapshot records as its run's output. */
export interface MetricsSnapshot {
  readonly process: {
    readonly pid: number;
    readonly uptimeSeconds: number;
    readonly rssBytes: number;
    readonly heapUsedBytes: number;
    readonly heapTotalBytes: number;
    readonly externalBytes: number;
    /** CPU used since the previous snapshot (or since start), in milliseconds. */
    readonly cpuUserMs: number;
    readonly cpuSystemMs: number;
    /** Event-loop utilisation since the previous snapshot, 0 to 1. */
    readonly eventLoopUtilization: number;
  };
  readonly system: {
    readonly loadAverage: readonly [number, number, number];
    readonly freeMemoryBytes: number;
    readonly totalMemoryBytes: number;
    readonly cpus: number;
  };
}

/**
 * A handler that samples process and system metrics into the run's output, so history holds a
 * time series without a metrics stack. CPU and event-loop figures cover the time since the
 * previous snapshot of the same handler.
 *
 * @example
 * import { metricsSnapshot } from 'caretaker/tasks';
 * scheduler.add({ name: 'metrics', schedule: { every: '1m' }, handler: metricsSnapshot() });
 */
export function metricsSnapshot(): TaskHandler {
  let lastCpu = process.cpuUsage();
  let lastLoop = performance.eventLoopUtilization();
  return (): MetricsSnapshot => {
    const cpu = process.cpuUsage(lastCpu);
    const loop = performance.eventLoopUtilization(lastLoop);
    lastCpu = process.cpuUsage();
    lastLoop = performance.eventLoopUtilization();
    const memory = process.memoryUsage();
    const [one = 0, five = 0, fifteen = 0] = os.loadavg();
    return {
      process: {
        pid: process.pid,
        uptimeSeconds: Math.round(process.uptime()),
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
        heapTotalBytes: memory.heapTotal,
        externalBytes: memory.external,
        cpuUserMs: Math.round(cpu.user / 1000),
        cpuSystemMs: Math.round(cpu.system / 1000),
        eventLoopUtilization: Math.round(loop.utilization * 1000) / 1000,
      },
      system: { loadAverage: [one, five, fifteen], freeMemoryBytes: os.freemem(), totalMemoryBytes: os.totalmem(), cpus: os.availableParallelism() },
    };
  };
}
