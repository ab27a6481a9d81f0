import { describeValue, InvalidOptionError, type OptionIssue } from '../util/errors.ts';
import type { ClaimRequest } from './port.ts';
import { type AuditQuery, NOTIFICATION_STATUSES, type NotificationQuery, type NotificationStatus, RUN_STATUSES, RUN_TRIGGERS, type RunQuery, type RunStatus, type RunTrigger } from './records.ts';

/** A {@link RunQuery} checked and reduced to what stores filter on. */
export interface NormalisedRunQuery {
  readonly task: string | null;
  readonly statuses: readonly RunStatus[] | null;
  readonly trigger: RunTrigger | null;
  readonly fromMs: number | null;
  readonly toMs: number | null;
  readonly limit: number;
  /** Return runs whose id sorts before this one. */
  readonly before: string | null;
}

export const DEFAULT_RUN_LIMIT = 50;
export const MAX_RUN_LIMIT = 1000;

/** What is wrong with a page's size and cursor (ids are UUIDs: a cursor is the last one seen). */
function pageIssues(limit: unknown, cursor: unknown): OptionIssue[] {
  const issues: OptionIssue[] = [];
  if (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > MAX_RUN_LIMIT) {
    issues.push({ path: 'limit', received: describeValue(limit), fix: `use a whole number from 1 to ${MAX_RUN_LIMIT}` });
  }
  if (cursor !== undefined && (typeof cursor !== 'string' || !/^[0-9a-f-]{36}$/i.test(cursor))) {
    issues.push({ path: 'cursor', received: describeValue(cursor), fix: 'pass the nextCursor of a previous page unchanged' });
  }
  return issues;
}

/** Validates a history query; throws {@link InvalidOptionError} naming the bad field. */
export function normaliseRunQuery(query: RunQuery): NormalisedRunQuery {
  const issues: OptionIssue[] = [];
  const bad = (path: string, value: unknown, fix: string) => issues.push({ path, received: describeValue(value), fix });
  const statuses = query.status === undefined ? null : typeof query.status === 'string' ? [query.status] : [...query.status];
  for (const status of statuses ?? []) {
    if (!RUN_STATUSES.includes(status)) bad('status', status, `use one of ${RUN_STATUSES.join(', ')}`);
  }
  if (query.trigger !== undefined && !RUN_TRIGGERS.includes(query.trigger)) {
    bad('trigger', query.trigger, `use one of ${RUN_TRIGGERS.join(', ')}`);
  }
  const limit = query.limit ?? DEFAULT_RUN_LIMIT;
  issues.push(...pageIssues(limit, query.cursor));
  const instant = (path: string, value: Date | undefined): number | null => {
    if (value === undefined) return null;
    if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
      bad(path, value, 'use a valid Date');
      return null;
    }
    return value.getTime();
  };
  const fromMs = instant('from', query.from);
  const toMs = instant('to', query.to);
  if (issues.length > 0) throw new InvalidOptionError('history query', issues);
  return {
    task: query.task ?? null,
    statuses,
    trigger: query.trigger ?? null,
    fromMs,
    toMs,
    limit,
    before: query.cursor?.toLowerCase() ?? null,
  };
}

/**
 * Where a claim moves its task's persisted cursor: its tick (`t:<ms>` slots; manual runs move
 * nothing), or the newest tick a skip record stands for.
 */
export function cursorTick(request: Pick<ClaimRequest, 'slot' | 'throughTick'>): number | null {
  const tick = request.slot.startsWith('t:') ? Number(request.slot.slice(2)) : null;
  const through = request.throughTick ?? null;
  return tick === null ? null : through === null ? tick : Math.max(tick, through);
}

/** An {@link AuditQuery} checked: the task, the page size and where to continue. */
export interface NormalisedAuditQuery {
  readonly task: string | null;
  readonly limit: number;
  /** Return entries whose id sorts before this one. */
  readonly before: string | null;
}

/** Validates an audit query; throws {@link InvalidOptionError} naming the bad field. */
export function normaliseAuditQuery(query: AuditQuery): NormalisedAuditQuery {
  const issues: OptionIssue[] = [];
  const page = taskPage(query, issues);
  if (issues.length > 0) throw new InvalidOptionError('audit query', issues);
  return page;
}

/** The task filter and paging that audit and notification queries share, their problems added to `issues`. */
function taskPage(query: { readonly task?: unknown; readonly limit?: number; readonly cursor?: string }, issues: OptionIssue[]): NormalisedAuditQuery {
  const limit = query.limit ?? DEFAULT_RUN_LIMIT;
  issues.push(...pageIssues(limit, query.cursor));
  if (query.task !== undefined && typeof query.task !== 'string') issues.push({ path: 'task', received: describeValue(query.task), fix: 'use a task name' });
  return { task: (query.task as string | undefined) ?? null, limit, before: query.cursor?.toLowerCase() ?? null };
}

/** A {@link NotificationQuery} checked. */
export interface NormalisedNotificationQuery {
  readonly task: string | null;
  readonly status: NotificationStatus | null;
  readonly limit: number;
  /** Return notifications whose id sorts before this one. */
  readonly before: string | null;
}

/** Validates a notification query; throws {@link InvalidOptionError} naming the bad field. */
export function normaliseNotificationQuery(query: NotificationQuery): NormalisedNotificationQuery {
  const issues: OptionIssue[] = [];
  const page = taskPage(query, issues);
  if (query.status !== undefined && !(NOTIFICATION_STATUSES as readonly unknown[]).includes(query.status)) {
    issues.push({ path: 'status', received: describeValue(query.status), fix: `use one of ${NOTIFICATION_STATUSES.join(', ')}` });
  }
  if (issues.length > 0) throw new InvalidOptionError('notification query', issues);
  return { ...page, status: query.status ?? null };
}
