import { hostname } from 'node:os';
import { Scheduler } from './engine/scheduler.ts';
import type { SchedulerOptions } from './engine/scheduler-options.ts';
import { buildChannels } from './notify/channels.ts';
import { processLoadProbe } from './observe/load-probe.ts';
import { openTelemetryTracer } from './observe/otel.ts';

/**
 * Creates a scheduler. Options are validated at once: an unknown or bad option throws an error
 * that names it, the value received and the fix.
 *
 * @example
 * import { createScheduler, memoryStore } from 'caretaker';
 *
 * const scheduler = createScheduler({ store: memoryStore() });
 * scheduler.add({
 *   name: 'cache-cleanup',
 *   schedule: { every: '6h', initialDelay: '5m' },
 *   handler: async (ctx) => ({ removed: 12 }),
 * });
 * await scheduler.start();
 */
export function createScheduler(options: SchedulerOptions = {}): Scheduler {
  const instance = options.instance ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 6)}`;
  // Spans through OpenTelemetry unless turned off; a tracer object passed in is used as it is.
  const tracing = options.tracing === undefined || options.tracing === true ? openTelemetryTracer() : options.tracing;
  return new Scheduler({ ...options, instance, tracing }, { buildChannels, loadProbe: processLoadProbe() });
}
