import type { TaskStatus } from '../observe/task-status.ts';

/** A task as `GET /api/tasks` shows it (docs/http-api.md); dates become ISO strings in JSON. */
export function taskView(status: TaskStatus) {
  const { info } = status;
  return {
    name: info.name,
    description: info.description,
    schedule: info.schedule,
    scheduleText: info.scheduleText,
    paused: info.paused,
    pauseNote: info.pauseNote,
    pausedAt: info.pausedAt,
    nextRunAt: info.nextRunAt,
    lastRun: status.lastRun,
    lastSuccessAt: status.lastSuccessAt,
    stale: status.stale,
    running: status.running,
    timeoutMs: info.timeoutMs,
    staleAfterMs: info.staleAfterMs,
    overlap: info.overlap,
    priority: info.priority,
    settings: info.settings,
    after: info.after,
    downstream: info.downstream,
    hasCondition: info.hasCondition,
    overrides: info.overrides,
    recent: status.recent.map((r) => ({ id: r.id, scheduledFor: r.scheduledFor, status: r.status, durationMs: r.durationMs })),
    successRate: status.successRate,
    ticks: status.ticks,
  };
}
