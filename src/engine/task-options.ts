import { z } from 'zod';
import { TASK_NAME } from './task-name.ts';
import { DURATION_HINT, parseDuration } from '../util/duration.ts';
import { describeValue, InvalidOptionError, type OptionIssue } from '../util/errors.ts';
import { toOptionIssues } from '../util/zod-issues.ts';
import { NO_RETRY, type RetryPolicy } from './retry.ts';
import { checkSchedule } from './schedules/parse.ts';
import { EveryDefinition } from './schedules/every.ts';
import type { ScheduleDefinition } from './schedules/types.ts';
import type { CatchUpPolicy, OverlapPolicy, TaskDefinition, TaskHandler } from './task.ts';
import { type TimeWindowSpec, WindowedDefinition, WindowSet } from './schedules/windows.ts';
import {
  afterSchema,
  type Condition,
  type DeferPolicy,
  deferSchema,
  type Dependency,
  describeDependency,
  NoScheduleDefinition,
  toCondition,
  toDeferPolicy,
  toDependency,
  toWindows,
  whenSchema,
  windowsSchema,
} from './smart-options.ts';

export { TASK_NAME } from './task-name.ts';
const NAME_FIX = 'use lowercase letters, digits, ".", "_" and "-", starting with a letter or digit (at most 128 characters)';

/** A duration field: reads a number or a unit string into milliseconds. */
export const durationField = z.unknown().transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `is not a duration; ${DURATION_HINT}` });
    return z.NEVER;
  }
  return ms;
});

const fn = (what: string) => z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', { message: `expected ${what}` });

const retrySchema = z.strictObject({
  attempts: z.number().int().min(1).max(1000).optional(),
  backoff: durationField.optional(),
  maxBackoff: durationField.optional(),
  factor: z.number().min(1).max(10).optional(),
  retryOn: fn('a function (error) => boolean').optional(),
});

const optionShape = {
  timeout: durationField.optional(),
  abortGrace: durationField.optional(),
  retry: retrySchema.optional(),
  overlap: z.enum(['skip', 'queue', 'allow', 'replace']).optional(),
  maxConcurrent: z.number().int().min(1).optional(),
  catchUp: z.enum(['latest', 'all', 'none']).optional(),
  catchUpWindow: durationField.optional(),
  catchUpLimit: z.number().int().min(1).max(100_000).optional(),
  priority: z.union([z.enum(['low', 'normal', 'high']), z.number().int().min(-1000).max(1000)]).optional(),
  jitter: durationField.optional(),
  staleAfter: durationField.optional(),
  defer: deferSchema.optional(),
};

/** Task options without name, schedule and handler (scheduler `defaults`). */
export const taskOptionsSchema = z.strictObject(optionShape);

const taskSchema = z.strictObject({
  ...optionShape,
  name: z.string().max(128).regex(TASK_NAME, { message: NAME_FIX }),
  // Checked by checkSchedule, which knows the three spec kinds and their fixes.
  schedule: z.unknown().optional(),
  handler: fn('a function (ctx) => result'),
  description: z.string().max(1000).optional(),
  paused: z.boolean().optional(),
  when: whenSchema.optional(),
  windows: windowsSchema.optional(),
  blackout: windowsSchema.optional(),
  outside: z.enum(['defer', 'skip']).optional(),
  after: afterSchema.optional(),
});

/** The smart-scheduling fields of a definition, as given: `toDefinition` hands them back. */
const SMART_KEYS = ['when', 'windows', 'blackout', 'outside', 'after'] as const;
type SmartFields = Partial<Pick<TaskDefinition, (typeof SMART_KEYS)[number]>>;

type ParsedOptions = z.output<typeof taskOptionsSchema>;

/** The options a run needs, resolved with defaults. Identical policies are shared objects. */
/** How long a handler gets after an abort before it is abandoned, when a task sets no `abortGrace`. */
export const DEFAULT_ABORT_GRACE_MS = 5_000;

export interface TaskPolicy {
  /** Infinity when the task has no timeout. */
  readonly timeoutMs: number;
  readonly abortGraceMs: number;
  readonly retry: RetryPolicy;
  readonly overlap: OverlapPolicy;
  /** 1 unless `overlap: 'allow'`. */
  readonly maxConcurrent: number;
  readonly catchUp: CatchUpPolicy;
  /** Infinity when unlimited. */
  readonly catchUpWindowMs: number;
  readonly catchUpLimit: number;
  readonly priority: number;
  readonly jitterMs: number;
  readonly staleAfterMs: number | null;
  /** `defer`: hold a due run while the process or host is busy; null for none. */
  readonly defer: DeferPolicy | null;
}

/** A validated task. */
export interface ResolvedTask {
  readonly name: string;
  readonly schedule: ScheduleDefinition;
  readonly handler: TaskHandler;
  readonly description: string | null;
  readonly startPaused: boolean;
  readonly policy: TaskPolicy;
  /** `when`; null for none. */
  readonly condition: Condition | null;
  /** `after`; null for none. */
  readonly dependency: Dependency | null;
  /** The smart-scheduling fields as given (`when`, `windows`, `blackout`, `outside`, `after`). */
  readonly smart: SmartFields;
}

/** The smart fields of a task that sets none: one object shared by all of them. */
export const NO_SMART: SmartFields = Object.freeze({});

const PRIORITY: Readonly<Record<string, number>> = { low: -1, normal: 0, high: 1 };

/** Validates scheduler-wide task defaults; throws {@link InvalidOptionError}. */
export function parseTaskDefaults(defaults: unknown): ParsedOptions {
  if (defaults === undefined) return {};
  const result = taskOptionsSchema.safeParse(defaults);
  if (!result.success) {
    throw new InvalidOptionError('scheduler option "defaults"', toOptionIssues(result.error, defaults, taskOptionsSchema, ['defaults']));
  }
  return result.data;
}

/**
 * Validates a task definition against the scheduler defaults. Throws one
 * {@link InvalidOptionError} listing every problem, each naming its option.
 */
export function resolveTask(definition: unknown, defaults: ParsedOptions, policies: Map<string, TaskPolicy>): ResolvedTask {
  const plain = plainSchedule(definition, defaults);
  if (plain !== null) {
    // Read once and checked as read, as Scheduler.add does.
    const { name, handler } = definition as PlainDefinition;
    if (isPlainName(name) && typeof handler === 'function') {
      return { name, schedule: plain, handler, description: null, startPaused: false, policy: defaultPolicy(defaults, policies), condition: null, dependency: null, smart: NO_SMART };
    }
  }
  const subject = describeSubject(definition);
  const result = taskSchema.safeParse(definition);
  const issues: OptionIssue[] = result.success ? [] : toOptionIssues(result.error, definition, taskSchema);
  const afterOnly = definitionValue(definition, 'after') !== undefined && isNoSchedule(definitionValue(definition, 'schedule'));
  let schedule = afterOnly ? null : checkSchedule((definition as { schedule?: unknown } | null)?.schedule);
  if (Array.isArray(schedule)) issues.push(...schedule);
  if (result.success) {
    const overlap = result.data.overlap ?? defaults.overlap ?? 'skip';
    const jitter = result.data.jitter ?? defaults.jitter ?? 0;
    if (schedule !== null && !Array.isArray(schedule) && !jitterFits(schedule, jitter)) {
      issues.push({ path: 'jitter', received: describeValue(definitionValue(definition, 'jitter') ?? jitter), fix: `must be shorter than the interval (${schedule.describe()}), or ticks would overtake each other` });
    }
    if (result.data.maxConcurrent !== undefined && overlap !== 'allow') {
      issues.push({ path: 'maxConcurrent', received: String(result.data.maxConcurrent), fix: 'only applies with overlap: "allow"; remove it or set overlap to "allow"' });
    }
  }
  if (result.success && result.data.windows?.length === 0) issues.push({ path: 'windows', received: '[]', fix: 'give at least one window, or remove windows' });
  if (result.success && result.data.outside !== undefined && result.data.windows === undefined && result.data.blackout === undefined) {
    issues.push({ path: 'outside', received: describeValue(result.data.outside), fix: 'only applies with windows or blackout; remove it, or add windows' });
  }
  if (issues.length > 0 || !result.success || Array.isArray(schedule)) throw new InvalidOptionError(subject, issues);
  const def = result.data;
  const dependency = def.after === undefined ? null : toDependency(def.after);
  if (schedule === null) schedule = new NoScheduleDefinition(describeDependency(dependency as Dependency));
  if (def.windows !== undefined || def.blackout !== undefined) {
    schedule = new WindowedDefinition(schedule, new WindowSet(toWindows((def.windows ?? []) as TimeWindowSpec[]), toWindows((def.blackout ?? []) as TimeWindowSpec[])), def.outside ?? 'defer');
  }
  const smart: Record<string, unknown> = {};
  for (const key of SMART_KEYS) if (definitionValue(definition, key) !== undefined) smart[key] = definitionValue(definition, key);
  return {
    name: def.name,
    schedule,
    handler: def.handler as TaskHandler,
    description: def.description ?? null,
    startPaused: def.paused ?? false,
    policy: resolvePolicy(def, defaults, policies),
    condition: def.when === undefined ? null : toCondition(def.when),
    dependency,
    smart: Object.keys(smart).length === 0 ? NO_SMART : (smart as SmartFields),
  };
}

/** True for a task with `after` and no schedule of its own (`schedule` absent, or `{ none: true }` as `toDefinition` gives it). */
function isNoSchedule(spec: unknown): boolean {
  return spec === undefined || (typeof spec === 'object' && spec !== null && (spec as { none?: unknown }).none === true && Object.keys(spec).length === 1);
}

/** Jitter must stay below an `every` interval, or ticks would overtake each other. */
function jitterFits(schedule: ScheduleDefinition, jitterMs: number): boolean {
  const inner = schedule instanceof WindowedDefinition ? schedule.inner : schedule;
  return !(inner instanceof EveryDefinition) || jitterMs < inner.intervalMs;
}

/** A definition that sets nothing but a name, a schedule and a handler. */
export interface PlainDefinition {
  readonly name: string;
  readonly schedule: unknown;
  readonly handler: TaskHandler;
}

/**
 * The schedule of a plain definition with valid values (see {@link isMinimal}), whose task is
 * its name, schedule, handler and the default policy; null for any other definition, which
 * {@link resolveTask} checks in full. Spares the most common task any object but its own.
 */
export function plainSchedule(definition: unknown, defaults: ParsedOptions): ScheduleDefinition | null {
  if (!isMinimal(definition)) return null;
  const schedule = checkSchedule(definition.schedule);
  return !Array.isArray(schedule) && jitterFits(schedule, defaults.jitter ?? 0) ? schedule : null;
}

/**
 * The most common definition, `{ name, schedule, handler }` with valid values, checked without
 * zod: registering 100,000 tasks should not allocate a validated copy of each. It accepts only
 * what the full schema accepts (a property test holds it to that); anything else, including
 * every mistake, takes the full path and gets its full message.
 */
function isMinimal(definition: unknown): definition is PlainDefinition {
  if (typeof definition !== 'object' || definition === null || Object.getPrototypeOf(definition) !== Object.prototype) return false;
  let keys = 0;
  for (const key in definition) {
    if (key !== 'name' && key !== 'schedule' && key !== 'handler') return false;
    keys++;
  }
  const d = definition as { name?: unknown; handler?: unknown };
  return keys === 3 && isPlainName(d.name) && typeof d.handler === 'function';
}

/** A name the full schema accepts. */
export function isPlainName(name: unknown): name is string {
  return typeof name === 'string' && name.length <= 128 && TASK_NAME.test(name);
}

function definitionValue(definition: unknown, key: string): unknown {
  return (definition as Record<string, unknown> | null)?.[key];
}

function describeSubject(definition: unknown): string {
  const name = (definition as { name?: unknown } | null)?.name;
  return typeof name === 'string' && name !== '' ? `task "${name}"` : 'task';
}

/** Option keys that make up a policy; a task that sets none of them gets the default policy. */
const POLICY_KEYS = Object.keys(optionShape) as (keyof ParsedOptions)[];

function resolvePolicy(options: ParsedOptions, defaults: ParsedOptions, policies: Map<string, TaskPolicy>): TaskPolicy {
  if (!POLICY_KEYS.some((key) => options[key] !== undefined)) return defaultPolicy(defaults, policies);
  return buildPolicy(options, defaults, policies);
}

/** The policy of a task that sets none of its options: one object shared by all of them. */
export function defaultPolicy(defaults: ParsedOptions, policies: Map<string, TaskPolicy>): TaskPolicy {
  let shared = policies.get('');
  if (shared === undefined) {
    shared = buildPolicy({}, defaults, policies);
    policies.set('', shared);
  }
  return shared;
}

function buildPolicy(options: ParsedOptions, defaults: ParsedOptions, policies: Map<string, TaskPolicy>): TaskPolicy {
  const pick = <K extends keyof ParsedOptions>(key: K): ParsedOptions[K] => options[key] ?? defaults[key];
  const retry = { ...defaults.retry, ...options.retry };
  const overlap = pick('overlap') ?? 'skip';
  const priority = pick('priority') ?? 'normal';
  const policy: TaskPolicy = {
    timeoutMs: pick('timeout') ?? Number.POSITIVE_INFINITY,
    abortGraceMs: pick('abortGrace') ?? DEFAULT_ABORT_GRACE_MS,
    retry:
      Object.keys(retry).length === 0
        ? NO_RETRY
        : {
            attempts: retry.attempts ?? NO_RETRY.attempts,
            backoffMs: retry.backoff ?? NO_RETRY.backoffMs,
            maxBackoffMs: retry.maxBackoff ?? NO_RETRY.maxBackoffMs,
            factor: retry.factor ?? NO_RETRY.factor,
            retryOn: (retry.retryOn as ((error: unknown) => boolean) | undefined) ?? null,
          },
    overlap,
    maxConcurrent: overlap === 'allow' ? (pick('maxConcurrent') ?? Number.POSITIVE_INFINITY) : 1,
    catchUp: pick('catchUp') ?? 'latest',
    catchUpWindowMs: pick('catchUpWindow') ?? Number.POSITIVE_INFINITY,
    catchUpLimit: pick('catchUpLimit') ?? 100,
    priority: typeof priority === 'number' ? priority : (PRIORITY[priority] ?? 0),
    jitterMs: pick('jitter') ?? 0,
    staleAfterMs: pick('staleAfter') ?? null,
    defer: (() => {
      const spec = pick('defer');
      return spec === undefined ? null : toDeferPolicy(spec);
    })(),
  };
  // Most tasks share a handful of policies; sharing them keeps 100k tasks small.
  if (policy.retry.retryOn !== null) return Object.freeze(policy);
  const key = JSON.stringify([
    policy.timeoutMs,
    policy.abortGraceMs,
    policy.retry.attempts,
    policy.retry.backoffMs,
    policy.retry.maxBackoffMs,
    policy.retry.factor,
    policy.overlap,
    policy.maxConcurrent,
    policy.catchUp,
    policy.catchUpWindowMs,
    policy.catchUpLimit,
    policy.priority,
    policy.jitterMs,
    policy.staleAfterMs,
    policy.defer,
  ]);
  let shared = policies.get(key);
  if (shared === undefined) {
    shared = Object.freeze(policy);
    policies.set(key, shared);
  }
  return shared;
}

/** A definition equivalent to a resolved task, so `update` can merge changes over it. */
export function toDefinition(task: ResolvedTask): TaskDefinition {
  const p = task.policy;
  return {
    name: task.name,
    schedule: task.schedule.spec,
    handler: task.handler,
    ...(task.description !== null ? { description: task.description } : {}),
    paused: task.startPaused,
    ...(Number.isFinite(p.timeoutMs) ? { timeout: p.timeoutMs } : {}),
    abortGrace: p.abortGraceMs,
    retry: {
      attempts: p.retry.attempts,
      backoff: p.retry.backoffMs,
      maxBackoff: p.retry.maxBackoffMs,
      factor: p.retry.factor,
      ...(p.retry.retryOn !== null ? { retryOn: p.retry.retryOn } : {}),
    },
    overlap: p.overlap,
    ...(p.overlap === 'allow' && Number.isFinite(p.maxConcurrent) ? { maxConcurrent: p.maxConcurrent } : {}),
    catchUp: p.catchUp,
    ...(Number.isFinite(p.catchUpWindowMs) ? { catchUpWindow: p.catchUpWindowMs } : {}),
    catchUpLimit: p.catchUpLimit,
    priority: p.priority,
    jitter: p.jitterMs,
    ...(p.staleAfterMs !== null ? { staleAfter: p.staleAfterMs } : {}),
    ...(p.defer !== null ? { defer: deferSpecOf(p.defer) } : {}),
    ...task.smart,
  };
}

/** A resolved `defer` as a spec that resolves to it again. */
function deferSpecOf(d: DeferPolicy): NonNullable<TaskDefinition['defer']> {
  return {
    while: {
      ...(d.lagAboveMs !== null ? { eventLoopLagAbove: d.lagAboveMs } : {}),
      ...(d.cpuAbove !== null ? { cpuAbove: d.cpuAbove } : {}),
      ...(d.memoryFractionAbove !== null ? { memoryAbove: d.memoryFractionAbove } : {}),
      ...(d.rssAboveBytes !== null ? { memoryAbove: `${d.rssAboveBytes}B` } : {}),
      ...(d.busy ? { busy: true } : {}),
    },
    maxDelay: d.maxDelayMs,
    then: d.then,
    checkEvery: d.checkEveryMs,
  };
}
