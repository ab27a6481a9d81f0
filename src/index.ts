/**
 * Caretaker: periodic tasks for Node.js services.
 * @packageDocumentation
 */
export { createScheduler } from './create-scheduler.ts';
export { type Clock, MAX_TIMER_DELAY, systemClock, type TimerHandle } from './engine/clock.ts';
export type { ErrorContext, ProgressEvent, SchedulerEventName, SchedulerEvents, StopReport } from './engine/events.ts';
export { Scheduler, type SchedulerState } from './engine/scheduler.ts';
export type { SignalSource, StopOnSignalsOptions } from './engine/stop-on-signals.ts';
export type { PauseOptions } from './engine/pause-note.ts';
export type { SchedulerOptions } from './engine/scheduler-options.ts';
export type { BackfillRange } from './engine/backfill-plan.ts';
export {
  type AtSpec,
  type CronSpec,
  type DstOptions,
  type EverySpec,
  nextRuns,
  type NextRunsOptions,
  parseSchedule,
  type Schedule,
  type ScheduleDefinition,
  type ScheduleSpec,
} from './engine/schedules/index.ts';
export type {
  CatchUpPolicy,
  OverlapPolicy,
  Priority,
  RetryOptions,
  TaskContext,
  TaskDefinition,
  TaskHandler,
  TaskInfo,
  TaskOptions,
  TaskSettings,
} from './engine/task.ts';
export type { LoadProbe, LoadSample, LoadWanted } from './engine/load.ts';
export type { AfterSpec, ConditionCheck, ConditionContext, ConditionResult, DeferSpec, DependencyOn, UpstreamSpec, WhenSpec } from './engine/smart-options.ts';
export type { OutsidePolicy, TimeWindowSpec } from './engine/schedules/windows.ts';
export { memoryStore } from './store/memory/memory-store.ts';
export { type PgPoolLike, postgresStore, type PostgresStoreOptions } from './store/postgres/postgres-store.ts';
export { sqliteStore, type SqliteStoreOptions } from './store/sqlite/sqlite-store.ts';
export type * from './store/port.ts';
export type { OverridableOption, TaskOverridePatch } from './engine/overrides.ts';
export {
  AUDIT_SOURCES,
  type AuditEntry,
  type AuditPage,
  type AuditQuery,
  type AuditSource,
  BACKFILL_STATUSES,
  type BackfillProgress,
  type BackfillRecord,
  type BackfillStatus,
  type DurationPoint,
  type DurationSummary,
  type FieldSummary,
  type FinalStatus,
  type LastSuccess,
  NOTIFICATION_STATUSES,
  type NotificationPage,
  type NotificationQuery,
  type NotificationRecord,
  type NotificationStatus,
  RUN_STATUSES,
  RUN_TRIGGERS,
  type RetentionPolicy,
  type RunPage,
  type RunProgress,
  type RunQuery,
  type RunRecord,
  type RunStats,
  type RunStatsQuery,
  type RunStatus,
  type RunTrigger,
  SKIP_REASONS,
  type StatsBucket,
  type SkipReason,
} from './store/records.ts';
export { type Duration, formatDuration, parseDuration } from './util/duration.ts';
export {
  BackfillNotFoundError,
  CaretakerError,
  DuplicateTaskError,
  ErrorCode,
  InvalidOptionError,
  LeaseLostError,
  type OptionIssue,
  RunCancelledError,
  RunNotFoundError,
  RunTimeoutError,
  ShutdownError,
  TaskNotFoundError,
} from './util/errors.ts';
export type { JsonValue, RunError } from './util/json.ts';
export type { Logger } from './util/logger.ts';
export { NOTIFY_KINDS, type NotifyEvent, type NotifyKind, type NotifyRun } from './notify/event.ts';
export type { NotifyChannelOptions, NotifyOptions, NotifyRuleOptions, NotifySend } from './notify/config.ts';
export { NotifyDeliveryError } from './notify/delivery-error.ts';
