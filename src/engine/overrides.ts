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
export function patchOverrides(current: TaskOverrides['fields'] | null, patch: unknown, subject: string, requireChange: boolean): Record<string, JsonValue> {
  const issues: OptionIssue[] = [];
  const say = (path: string, value: unknown, fix: string) => issues.length < MAX_ISSUES && issues.push({ path: path.length > 80 ? `${path.slice(0, 80)}…` : path, received: describeValue(value), fix });
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    throw new InvalidOptionError(subject, [{ path: '(overrides)', received: describeValue(patch), fix: `send an object of ${OVERRIDABLE.join(', ')}` }]);
  }
  if (requireChange && Object.keys(patch).length === 0) {
    throw new InvalidOptionError(subject, [{ path: '(overrides)', received: 'no option', fix: `send at least one of ${OVERRIDABLE.join(', ')} (null drops that change)` }]);
  }
  const next: Record<string, JsonValue> = { ...(current ?? {}) };
  for (const [key, value] of Object.entries(patch)) {
    if (!(OVERRIDABLE as readonly string[]).includes(key)) {
      say(key, value, `cannot be changed at run time; change it in the definition (run-time options: ${OVERRIDABLE.join(', ')})`);
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
      say(key, value, 'use a JSON value, as in a config file');
      continue;
    }
    // NaN and Infinity become null in JSON: a number that is not one is refused, not read as "drop it".
    if (!sameJson(value, json)) {
      say(key, value, 'use a finite number, a string or an object of them, as in a config file');
      continue;
    }
    if (key === 'retry' && typeof json === 'object' && json !== null && !Array.isArray(json)) {
      const extra = Object.keys(json).find((k) => !RETRY_KEYS.includes(k));
      if (extra !== undefined) say(`retry.${extra}`, json[extra], `cannot be changed at run time; use ${RETRY_KEYS.join(', ')}`);
      // An empty retry object changes nothing: it is no change.
      if (Object.keys(json).length === 0) {
        delete next[key];
        continue;
      }
      const before = next.retry;
      json = { ...(typeof before === 'object' && before !== null && !Array.isArray(before) ? before : {}), ...json };
    }
    next[key] = json;
  }
  if (issues.length > 0) throw new InvalidOptionError(subject, issues);
  return next;
}

/** Most problems one refused patch reports (a patch of a thousand unknown keys is one mistake). */
const MAX_ISSUES = 10;

/** True when a value survived JSON as itself (no NaN, Infinity or undefined turned into null or dropped). */
function sameJson(given: unknown, json: JsonValue): boolean {
  if (typeof given === 'number') return Number.isFinite(given) && json === given;
  if (given === null || typeof given !== 'object') return true;
  if (Array.isArray(given)) return Array.isArray(json) && given.every((v, i) => sameJson(v, (json as JsonValue[])[i] as JsonValue));
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return true;
  return Object.entries(given).every(([k, v]) => v === undefined || typeof v === 'function' || sameJson(v, (json as Record<string, JsonValue>)[k] as JsonValue));
}

/** The definition with the overrides over it; `retry` merges field by field, as config defaults do. */
export function withOverrides(definition: TaskDefinition, fields: TaskOverrides['fields'] | null): TaskDefinition {
  if (fields === null) return definition;
  const merged: Record<string, unknown> = { ...definition, ...fields };
  // A changed overlap other than allow drops the definition's maxConcurrent (it applies to allow only).
  if (fields.overlap !== undefined && fields.overlap !== 'allow' && fields.maxConcurrent === undefined) delete merged.maxConcurrent;
  const retry = fields.retry;
  if (typeof retry === 'object' && retry !== null && !Array.isArray(retry) && typeof definition.retry === 'object') merged.retry = { ...definition.retry, ...retry };
  return merged as unknown as TaskDefinition;
}

/** True when two override sets say the same (a store may hand keys back in another order). */
export function sameOverrides(a: TaskOverrides | null, b: TaskOverrides | null): boolean {
  return isDeepStrictEqual(a, b);
}
