import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Scheduler } from '../engine/scheduler.ts';
import type { TaskStatusReader } from './task-status.ts';

/** Prometheus metrics of one scheduler, in a registry of their own. */
export interface SchedulerMetrics {
  readonly registry: Registry;
  /** The Prometheus text exposition of every metric. */
  text(): Promise<string>;
  /** Unsubscribes from the scheduler. */
  close(): void;
}

const DURATION_BUCKETS = [0.005, 0.025, 0.1, 0.5, 1, 5, 15, 60, 300, 1800, 3600];
const LATENESS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 30];

/**
 * Counts runs and ticks from the scheduler's events and reads per-task state (last success,
 * staleness, pause) from the store at scrape time, so every replica reports the cluster's view.
 *
 * @example
 * const metrics = createMetrics(scheduler, new TaskStatusReader(scheduler));
 * res.end(await metrics.text());
 */
export function createMetrics(
  scheduler: Scheduler,
  status: TaskStatusReader,
  options: { readonly processMetrics?: boolean; readonly eventStreams?: { readonly open: number; readonly dropped: number } } = {},
): SchedulerMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ instance_name: scheduler.instance });
  // prom-client's names already start with process_ or nodejs_: the prefix adds only ours.
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'caretaker_' });
  const registers = [registry];

  const runs = new Counter({ name: 'caretaker_runs_total', help: 'Runs finished by this instance, and ticks it recorded skipped, by task and status.', labelNames: ['task', 'status'], registers });
  const duration = new Histogram({ name: 'caretaker_run_duration_seconds', help: 'How long runs on this instance took.', labelNames: ['task', 'status'], buckets: DURATION_BUCKETS, registers });
  const lateness = new Histogram({ name: 'caretaker_run_lateness_seconds', help: 'How late runs on this instance started after their due instant.', labelNames: ['task'], buckets: LATENESS_BUCKETS, registers });
  const skips = new Counter({ name: 'caretaker_ticks_skipped_total', help: 'Ticks this instance recorded skipped, by task and reason (overlap, paused, missed, condition, deferred).', labelNames: ['task', 'reason'], registers });
  const deferred = new Counter({ name: 'caretaker_runs_deferred_total', help: 'Runs held for quiet time (defer) on this instance, by how the wait ended: ran, or skipped at maxDelay.', labelNames: ['task', 'outcome'], registers });
  const deferredFor = new Histogram({ name: 'caretaker_run_deferred_seconds', help: 'How long runs were held for quiet time (defer) before they started or were skipped; apart from lateness.', labelNames: ['task'], buckets: DURATION_BUCKETS, registers });
  const conflicts = new Counter({ name: 'caretaker_claim_conflicts_total', help: 'Claims this instance lost because another instance had made them first.', labelNames: ['task'], registers });
  const storeErrors = new Counter({ name: 'caretaker_store_errors_total', help: 'Store operations that failed in the background (the scheduler retries).', registers });
  const alertsSent = new Counter({ name: 'caretaker_notifications_sent_total', help: 'Alerts this instance delivered, by channel and kind.', labelNames: ['channel', 'kind'], registers });
  const alertFailures = new Counter({
    name: 'caretaker_notification_failures_total',
    help: 'Alert delivery attempts that failed on this instance, by channel and kind; final="true" when no attempt follows.',
    labelNames: ['channel', 'kind', 'final'],
    registers,
  });
  new Gauge({
    name: 'caretaker_runs_running',
    help: 'Runs in progress on this instance.',
    labelNames: ['task'],
    registers,
    collect() {
      this.reset();
      for (const task of scheduler.tasks()) this.set({ task: task.name }, task.running);
    },
  });
  new Gauge({
    name: 'caretaker_task_paused',
    help: '1 when the task is paused.',
    labelNames: ['task'],
    registers,
    collect() {
      this.reset();
      for (const task of scheduler.tasks()) this.set({ task: task.name }, task.paused ? 1 : 0);
    },
  });
  new Gauge({
    name: 'caretaker_clock_offset_seconds',
    help: "How far the store's clock (which ticks and leases follow) is ahead of this host's wall clock; 0 for stores on one host.",
    registers,
    collect() {
      this.set(scheduler.clockOffsetMs / 1000);
    },
  });
  // Both read the store; one read serves both (the reader caches briefly).
  new Gauge({
    name: 'caretaker_task_last_success_timestamp_seconds',
    help: 'When the task last succeeded on any instance (Unix seconds); absent when never.',
    labelNames: ['task'],
    registers,
    async collect() {
      this.reset();
      for (const s of await status.all()) if (s.lastSuccessAt !== null) this.set({ task: s.info.name }, s.lastSuccessAt.getTime() / 1000);
    },
  });
  new Gauge({
    name: 'caretaker_task_stale',
    help: '1 when the task has had no success within its staleAfter.',
    labelNames: ['task'],
    registers,
    async collect() {
      this.reset();
      for (const s of await status.all()) this.set({ task: s.info.name }, s.stale ? 1 : 0);
    },
  });
  const streams = options.eventStreams;
  if (streams !== undefined) {
    new Gauge({
      name: 'caretaker_sse_clients',
      help: 'Clients connected to the event stream (GET /api/events).',
      registers,
      collect() {
        this.set(streams.open);
      },
    });
    new Counter({
      name: 'caretaker_sse_clients_dropped_total',
      help: 'Event-stream clients disconnected because they fell behind (they resume with Last-Event-ID).',
      registers,
      collect() {
        this.reset();
        this.inc(streams.dropped);
      },
    });
  }

  const off = [
    scheduler.on('run:finished', (run) => {
      runs.inc({ task: run.task, status: run.status });
      if (run.status === 'skipped' && run.skipReason !== null) skips.inc({ task: run.task, reason: run.skipReason });
      if (run.durationMs !== null) duration.observe({ task: run.task, status: run.status }, run.durationMs / 1000);
    }),
    scheduler.on('tick:skipped', (run) => {
      runs.inc({ task: run.task, status: 'skipped' }, run.skippedTicks);
      if (run.skipReason !== null) skips.inc({ task: run.task, reason: run.skipReason }, run.skippedTicks);
    }),
    scheduler.on('run:undeferred', (event) => {
      deferred.inc({ task: event.task, outcome: event.outcome });
      deferredFor.observe({ task: event.task }, event.waitedMs / 1000);
    }),
    scheduler.on('run:started', (run) => {
      if (run.latenessMs !== null) lateness.observe({ task: run.task }, Math.max(0, run.latenessMs) / 1000);
    }),
    scheduler.on('claim:taken', (event) => conflicts.inc({ task: event.task })),
    scheduler.on('notification:sent', (event) => alertsSent.inc({ channel: event.channel, kind: event.kind })),
    scheduler.on('notification:failed', (event) => alertFailures.inc({ channel: event.channel, kind: event.kind, final: String(event.final) })),
    scheduler.on('error', (event) => {
      if (event.context === 'store') storeErrors.inc();
    }),
  ];
  return {
    registry,
    text: () => registry.metrics(),
    close: () => off.forEach((unsubscribe) => unsubscribe()),
  };
}
