import { isDeepStrictEqual } from 'node:util';
import type { TaskOverrides } from '../store/port.ts';
import { describeValue, InvalidOptionError, type OptionIssue } from '../util/errors.ts';
import type { JsonValue } from '../util/json.ts';
import type { TaskDefinition } from './task.ts';

/** The options a person may change at run time; the rest belong to the code or config. */
export const OVERRIDABLE = ['schedule', 'timeout', 'retry', 'overlap', 'maxConcurrent', 'catchUp', 'priority', 'jitter'] as const;
export type OverridableOption = (typeof OVERRIDABLE)[number];
const RETRY_KEYS = ['attempts', 'backoff', 'maxBackoff', 'factor'];

/**
 * A change to a task's run-time overrides: each option given replaces its override (JSON values,
 * as in a config file); `null` removes that override, so the definition's value applies again.
 *
 * @example
 * await scheduler.override('db-vacuum', { schedule: { cron: '0 4 * * *', timezone: 'Europe/Berlin' }, timeout: '45m' });
 */
export type TaskOverridePatch = { readonly [K in OverridableOption]?: JsonValue | null };

/**
 * The overrides a patch leaves, checked in shape: only overridable options, JSON values, `retry`
 * with its plain fields (no `retryOn`). Whether the values are valid for the task is checked by
 * resolving the definition with them.
 */
export function patchOverrides(current: TaskOverrides['fields'] | null, patch: unknown, subject: string): Record<string, JsonValue> {
  const issues: OptionIssue[] = [];
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    throw new InvalidOptionError(subject, [{ path: '(overrides)', received: describeValue(patch), fix: `send an object of ${OVERRIDABLE.join(', ')}` }]);
  }
  const next: Record<string, JsonValue> = { ...(current ?? {}) };
  for (const [key, value] of Object.entries(patch)) {
    if (!(OVERRIDABLE as readonly string[]).includes(key)) {
      issues.push({ path: key, received: describeValue(value), fix: `cannot be changed at run time; change it in the definition (run-time options: ${OVERRIDABLE.join(', ')})` });
      continue;
    }
    if (value === null) {
      delete next[key];
      continue;
    }
    let json: JsonValue;
    try {
      json = JSON.parse(JSON.stringify(value)) as JsonValue;
    } catch {
      issues.push({ path: key, received: describeValue(value), fix: 'use a JSON value, as in a config file' });
      continue;
    }
    if (key === 'retry' && typeof json === 'object' && json !== null && !Array.isArray(json)) {
      const extra = Object.keys(json).find((k) => !RETRY_KEYS.includes(k));
      if (extra !== undefined) issues.push({ path: `retry.${extra}`, received: describeValue(json[extra]), fix: `cannot be changed at run time; use ${RETRY_KEYS.join(', ')}` });
    }
    next[key] = json;
  }
  if (issues.length > 0) throw new InvalidOptionError(subject, issues);
  return next;
}

/** The definition with the overrides over it; `retry` merges field by field, as config defaults do. */
export function withOverrides(definition: TaskDefinition, fields: TaskOverrides['fields'] | null): TaskDefinition {
  if (fields === null) return definition;
  const merged: Record<string, unknown> = { ...definition, ...fields };
  const retry = fields.retry;
  if (typeof retry === 'object' && retry !== null && !Array.isArray(retry) && typeof definition.retry === 'object') merged.retry = { ...definition.retry, ...retry };
  return merged as unknown as TaskDefinition;
}

/** True when two override sets say the same (a store may hand keys back in another order). */
export function sameOverrides(a: TaskOverrides | null, b: TaskOverrides | null): boolean {
  return isDeepStrictEqual(a, b);
}
