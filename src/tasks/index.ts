/**
 * Built-in maintenance tasks: `import { metricsSnapshot } from 'caretaker/tasks'`. Each export is
 * a handler factory, so it combines with any schedule and task options.
 * @packageDocumentation
 */
export { type MetricsSnapshot, metricsSnapshot } from './metrics-snapshot.ts';
