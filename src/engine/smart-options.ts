import { z } from 'zod';
import { DURATION_HINT, type Duration, parseDuration } from '../util/duration.ts';
import { parseSize, SIZE_HINT } from '../util/size.ts';
import type { FinalStatus } from '../store/records.ts';
import type { BoundSchedule, ScheduleDefinition, ScheduleSpec } from './schedules/types.ts';
import { DAYS_HINT, parseClock, parseDays, TIME_HINT, type TimeWindow, type TimeWindowSpec } from './schedules/windows.ts';
import { isValidTimeZone } from './schedules/zoned-time.ts';
import { TASK_NAME } from './task-name.ts';

/** Which ends of an upstream run start a dependent one. */
export type DependencyOn = 'success' | 'failure' | 'finish';

/** One upstream task: its name, or `{ task, on }`. */
export type UpstreamSpec = string | { readonly task: string; readonly on?: DependencyOn };

/**
 * `after`: the task runs when another task's run ends. One upstream or a list; with a list,
 * `mode: 'all'` (the default) waits until every upstream has a new qualifying end, `'any'` runs
 * after each.
 */
export type AfterSpec = UpstreamSpec | readonly UpstreamSpec[] | { readonly tasks: readonly UpstreamSpec[]; readonly mode?: 'all' | 'any' };

/** What a `when` condition answers: true to run; false, a reason string, or `{ run: false, reason }` to skip. */
export type ConditionResult = boolean | string | { readonly run: boolean; readonly reason?: string };

/** What a condition is given: the task, the tick, and a signal aborted at the condition's timeout. */
export interface ConditionContext {
  readonly task: string;
  readonly scheduledFor: Date;
  readonly attempt: number;
  readonly signal: AbortSignal;
}

/** A `when` condition, checked when a run is due, before its handler. */
export type ConditionCheck = (ctx: ConditionContext) => ConditionResult | Promise<ConditionResult>;

/** `when`: a condition function, or one with its own timeout. */
export type WhenSpec = ConditionCheck | { readonly check: ConditionCheck; readonly timeout?: Duration };

/** `defer`: hold a due run while the process or host is busy. */
export interface DeferSpec {
  /** The run waits while any of these holds. */
  readonly while: {
    /** Event-loop delay (p99 over a short sample) above this. */
    readonly eventLoopLagAbove?: Duration;
    /** Host CPU use above this fraction (0 to 1). */
    readonly cpuAbove?: number;
    /** Memory above this: `'85%'` (or 0.85) of the host's (or the container's limit), or a size of this process's RSS like `'2GB'`. */
    readonly memoryAbove?: number | string;
    /** While the service said it is busy (`scheduler.setBusy(true)`). */
    readonly busy?: boolean;
  };
  /** After this long, the run goes ahead (or is skipped). @defaultValue '1h' */
  readonly maxDelay?: Duration;
  /** What happens at `maxDelay`. @defaultValue 'run' */
  readonly then?: 'run' | 'skip';
  /** How often the load is sampled while a run waits (at least 1 s). @defaultValue '5s' */
  readonly checkEvery?: Duration;
}

/** A resolved `defer`. */
export interface DeferPolicy {
  readonly lagAboveMs: number | null;
  readonly cpuAbove: number | null;
  readonly memoryFractionAbove: number | null;
  readonly rssAboveBytes: number | null;
  readonly busy: boolean;
  readonly maxDelayMs: number;
  readonly then: 'run' | 'skip';
  readonly checkEveryMs: number;
}

/** A resolved `when`. */
export interface Condition {
  readonly check: ConditionCheck;
  readonly timeoutMs: number;
}

/** A resolved `after`. */
export interface Dependency {
  readonly upstreams: readonly { readonly task: string; readonly on: DependencyOn }[];
  readonly mode: 'all' | 'any';
}

export const DEFAULT_CONDITION_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_DELAY_MS = 3_600_000;
const DEFAULT_CHECK_EVERY_MS = 5_000;
const MIN_CHECK_EVERY_MS = 1_000;

const isFunction = (v: unknown): boolean => typeof v === 'function';
const fn = z.custom<ConditionCheck>(isFunction, { message: 'expected a function (ctx) => boolean | { run, reason }' });

const positiveDuration = z.unknown().transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: ms === undefined ? `is not a duration; ${DURATION_HINT}` : 'must be longer than 0' });
    return z.NEVER;
  }
  return ms;
});

export const whenSchema = z.union([fn, z.strictObject({ check: fn, timeout: positiveDuration.optional() })]);

const fraction = z.number().gt(0).max(1);

export const deferSchema = z
  .strictObject({
    while: z
      .strictObject({
        eventLoopLagAbove: positiveDuration.optional(),
        cpuAbove: fraction.optional(),
        memoryAbove: z.union([fraction, z.string()]).optional(),
        busy: z.boolean().optional(),
      })
      .refine((w) => w.eventLoopLagAbove !== undefined || w.cpuAbove !== undefined || w.memoryAbove !== undefined || w.busy === true, {
        message: 'name at least one of eventLoopLagAbove, cpuAbove, memoryAbove, or busy: true',
      }),
    maxDelay: positiveDuration.optional(),
    then: z.enum(['run', 'skip']).optional(),
    checkEvery: positiveDuration.optional(),
  })
  .superRefine((d, ctx) => {
    const memory = d.while.memoryAbove;
    if (typeof memory === 'string' && readMemory(memory) === null) ctx.addIssue({ code: 'custom', path: ['while', 'memoryAbove'], message: `is not a share or a size; use "85%", 0.85, or ${SIZE_HINT}` });
    if (d.checkEvery !== undefined && d.checkEvery < MIN_CHECK_EVERY_MS) ctx.addIssue({ code: 'custom', path: ['checkEvery'], message: 'must be at least 1s: the load is sampled at a bounded rate' });
  });

function readMemory(text: string): { fraction: number } | { bytes: number } | null {
  const percent = /^(\d+(?:\.\d+)?)\s*%$/.exec(text.trim());
  if (percent !== null) {
    const share = Number(percent[1]) / 100;
    return share > 0 && share <= 1 ? { fraction: share } : null;
  }
  const bytes = parseSize(text);
  return bytes === undefined || bytes <= 0 ? null : { bytes };
}

const windowSchema = z.strictObject({
  days: z.string().max(200).optional(),
  from: z.string().max(10),
  to: z.string().max(10),
  timezone: z.string().max(100).optional(),
});

export const windowsSchema = z
  .array(windowSchema)
  .max(50)
  .superRefine((list, ctx) => {
    list.forEach((w, i) => {
      const days = parseDays(w.days);
      if (typeof days === 'string') ctx.addIssue({ code: 'custom', path: [i, 'days'], message: `${days}; ${DAYS_HINT}` });
      const from = parseClock(w.from);
      const to = parseClock(w.to);
      if (from === null || from === 24 * 60) ctx.addIssue({ code: 'custom', path: [i, 'from'], message: `is not a time of day; ${TIME_HINT.replace(' to 24:00', ' to 23:59')}` });
      if (to === null) ctx.addIssue({ code: 'custom', path: [i, 'to'], message: `is not a time of day; ${TIME_HINT}` });
      if (from !== null && to !== null && from === to) ctx.addIssue({ code: 'custom', path: [i, 'to'], message: 'must differ from "from" (a window from 22:00 to 02:00 ends the next day)' });
      if (w.timezone !== undefined && !isValidTimeZone(w.timezone)) ctx.addIssue({ code: 'custom', path: [i, 'timezone'], message: 'is not an IANA time zone; use a name like "Europe/Berlin" or "UTC"' });
    });
  });

const upstreamName = z.string().max(128).regex(TASK_NAME, { message: 'is not a task name; use the name of a task (lowercase letters, digits, ".", "_", "-")' });
const upstreamSchema = z.union([upstreamName, z.strictObject({ task: upstreamName, on: z.enum(['success', 'failure', 'finish']).optional() })]);

export const afterSchema = z.union([
  upstreamSchema,
  z.array(upstreamSchema).min(1).max(50),
  z.strictObject({ tasks: z.array(upstreamSchema).min(1).max(50), mode: z.enum(['all', 'any']).optional() }),
]);

/** A parsed `when`. */
export function toCondition(spec: z.output<typeof whenSchema>): Condition {
  return typeof spec === 'function' ? { check: spec, timeoutMs: DEFAULT_CONDITION_TIMEOUT_MS } : { check: spec.check, timeoutMs: spec.timeout ?? DEFAULT_CONDITION_TIMEOUT_MS };
}

/** A parsed `defer`. */
export function toDeferPolicy(spec: z.output<typeof deferSchema>): DeferPolicy {
  const memory = spec.while.memoryAbove;
  const read = typeof memory === 'string' ? readMemory(memory) : typeof memory === 'number' ? { fraction: memory } : null;
  return {
    lagAboveMs: spec.while.eventLoopLagAbove ?? null,
    cpuAbove: spec.while.cpuAbove ?? null,
    memoryFractionAbove: read !== null && 'fraction' in read ? read.fraction : null,
    rssAboveBytes: read !== null && 'bytes' in read ? read.bytes : null,
    busy: spec.while.busy ?? false,
    maxDelayMs: spec.maxDelay ?? DEFAULT_MAX_DELAY_MS,
    then: spec.then ?? 'run',
    checkEveryMs: spec.checkEvery ?? DEFAULT_CHECK_EVERY_MS,
  };
}

/** Parsed windows (the schema has checked them). */
export function toWindows(list: readonly TimeWindowSpec[]): TimeWindow[] {
  return list.map((spec) => ({
    days: parseDays(spec.days) as ReadonlySet<number>,
    fromMin: parseClock(spec.from) as number,
    toMin: parseClock(spec.to) as number,
    timezone: spec.timezone ?? 'UTC',
    spec,
  }));
}

/** A parsed `after`. */
export function toDependency(spec: z.output<typeof afterSchema>): Dependency {
  const ref = (u: z.output<typeof upstreamSchema>) => (typeof u === 'string' ? { task: u, on: 'success' as const } : { task: u.task, on: u.on ?? 'success' });
  // A task named twice counts once (the first `on` given).
  const unique = (list: { task: string; on: DependencyOn }[]) => list.filter((u, i) => list.findIndex((v) => v.task === u.task) === i);
  if (typeof spec === 'string' || !('tasks' in spec || Array.isArray(spec))) return { upstreams: [ref(spec as z.output<typeof upstreamSchema>)], mode: 'any' };
  if (Array.isArray(spec)) return { upstreams: unique(spec.map(ref)), mode: 'all' };
  const listed = spec as { tasks: z.output<typeof upstreamSchema>[]; mode?: 'all' | 'any' };
  return { upstreams: unique(listed.tasks.map(ref)), mode: listed.mode ?? 'all' };
}

/** The run statuses an upstream end must have to count, for `on`. A failure counts once no retry follows it. */
export function statusesFor(on: DependencyOn): readonly FinalStatus[] {
  const failed: FinalStatus[] = ['failed', 'timed_out', 'interrupted'];
  return on === 'success' ? ['succeeded'] : on === 'failure' ? failed : ['succeeded', ...failed];
}

/** The schedule of a task that runs only after others: no instant of its own. */
export class NoScheduleDefinition implements ScheduleDefinition, BoundSchedule {
  readonly kind = 'at';
  readonly key = 'none';
  readonly anchor = null;
  readonly #text: string;

  constructor(text: string) {
    this.#text = text;
  }

  get spec(): ScheduleSpec {
    return { none: true };
  }

  initialAnchor(): null {
    return null;
  }

  bind(): BoundSchedule {
    return this;
  }

  nextAfter(): null {
    return null;
  }

  previousBefore(): null {
    return null;
  }

  describe(): string {
    return this.#text;
  }
}

/** The dependency in words, e.g. `after db-retention`, `after all of a, b (on finish)`. */
export function describeDependency(d: Dependency): string {
  const name = (u: Dependency['upstreams'][number]) => (u.on === 'success' ? u.task : `${u.task} (on ${u.on})`);
  if (d.upstreams.length === 1) return `after ${name(d.upstreams[0] as Dependency['upstreams'][number])}`;
  return `after ${d.mode === 'all' ? 'all' : 'any'} of ${d.upstreams.map(name).join(', ')}`;
}
