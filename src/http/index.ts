/**
 * The HTTP admin API, metrics and dashboard, to serve with the daemon or mount in your own app.
 * @packageDocumentation
 */
export { type AdminApi, type AdminApiEnv, type AdminApiOptions, createAdminApi } from './admin-api.ts';
export type { ApiRole, ApiToken } from './auth.ts';
export { type AdminServer, isLoopback, startAdminServer } from './server.ts';
export { createMetrics, type SchedulerMetrics } from '../observe/metrics.ts';
export { TaskStatusReader, type TaskStatus } from '../observe/task-status.ts';
