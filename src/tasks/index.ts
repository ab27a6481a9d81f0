/**
 * Built-in maintenance tasks: `import { directoryCleanup } from 'caretaker/tasks'`. Each export
 * is a handler factory, so it combines with any schedule and task options. Factories validate
 * their options when called (throwing `InvalidOptionError`), and every handler reports progress,
 * stops when its run is aborted, and returns a JSON summary that becomes the run's output.
 * @packageDocumentation
 */
export type { DatabaseTarget } from './database.ts';
export { type DbMaintenanceOptions, type DbMaintenanceResult, dbMaintenance, type MaintenanceOperation, type MaintenanceStep } from './db-maintenance.ts';
export { type DirectoryCleanupOptions, type DirectoryCleanupResult, directoryCleanup } from './directory-cleanup.ts';
export type { CheckOptions, CheckResult } from './health.ts';
export { type HttpCheckOptions, type HttpCheckResult, httpCheck } from './http-check.ts';
export { type LogRotationOptions, type LogRotationResult, logRotation, type RotatedFile } from './log-rotation.ts';
export { type MetricsSnapshot, metricsSnapshot } from './metrics-snapshot.ts';
export { type OrphanCleanupOptions, type OrphanCleanupResult, orphanCleanup } from './orphan-cleanup.ts';
export { type SqlRetentionOptions, type SqlRetentionResult, sqlRetention, type TimestampColumnType } from './sql-retention.ts';
export { type TcpCheckOptions, type TcpCheckResult, tcpCheck } from './tcp-check.ts';
