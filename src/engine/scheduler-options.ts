import { z } from 'zod';
import type { LoadProbe } from './load.ts';
import type { Store } from '../store/port.ts';
import type { RetentionPolicy } from '../store/records.ts';
import type { Duration } from '../util/duration.ts';
import { InvalidOptionError } from '../util/errors.ts';
import type { IdGenerator } from '../util/ids.ts';
import type { Logger } from '../util/logger.ts';
import { toOptionIssues } from '../util/zod-issues.ts';
import type { Clock } from './clock.ts';
import type { TaskOptions } from './task.ts';
import type { RunTracer } from './tracing.ts';
import { byteCountField } from '../util/size.ts';
import type { RunLogOptions } from './run-log.ts';
import { durationField, parseTaskDefaults } from './task-options.ts';
import { checkNotify, type NotifyOptions, type ResolvedNotify } from '../notify/config.ts';

/** Options of `createScheduler`. */
export interface SchedulerOptions {
  /** Where state, claims and history live. @defaultValue memoryStore() */
  readonly store?: Store;
  /** The time source; pass `createTestClock()` from `caretaker/testing` in tests. @defaultValue the system clock */
  readonly clock?: Clock;
  /**
   * Run on the store's clock where it has one (PostgreSQL): ticks and leases then follow the one
   * clock all replicas share, however wrong this host's is. The offset is measured on round
   * trips; see `clockOffsetMs`.
   * @defaultValue true with the system clock; false when a `clock` is given (a virtual clock keeps its own time)
   */
  readonly storeClock?: boolean;
  /** This instance's name in run records and logs. @defaultValue `<hostname>:<pid>:<random>` */
  readonly instance?: string;
  /**
   * How long a claim holds without a heartbeat. A run whose instance died is recorded
   * `interrupted` (and retried, if its policy allows) once its lease lapses: shorter detects
   * crashes sooner, longer tolerates longer event-loop stalls and store outages.
   * @defaultValue '15s'
   */
  readonly lease?: Duration;
  /** Most runs in progress at once on this instance; beyond it, higher priority goes first. @defaultValue unlimited */
  readonly concurrency?: number;
  /** A pino-compatible logger. @defaultValue silent (events carry the same facts) */
  readonly logger?: Logger;
  /** Unref the scheduler's timer so it never keeps the process alive by itself. @defaultValue false */
  readonly unref?: boolean;
  /** Options applied to every task that does not set them. */
  readonly defaults?: TaskOptions;
  /** How much run history to keep; applied by the scheduler in bounded batches. */
  readonly history?: {
    /** @defaultValue '30d' */
    readonly maxAge?: Duration;
    /** @defaultValue 1000 */
    readonly maxPerTask?: number;
  };
  /**
   * How often to ask the store for other instances' triggers, cancels and pauses, and for
   * expired leases. Stores with a push channel (PostgreSQL LISTEN/NOTIFY) wake instances at once,
   * so this only bounds the delay when notifications are lost.
   * @defaultValue the store's suggestion: '5s' for databases, '1m' for the memory store
   */
  readonly pollInterval?: Duration;
  /** Random source for retry backoff jitter; tests pass a seeded one. @defaultValue Math.random */
  readonly random?: () => number;
  /** Run id generator. @defaultValue UUIDv7 */
  readonly idGenerator?: IdGenerator;
  /**
   * Where `defer` reads the load. @defaultValue with `createScheduler`, this process and host,
   * sampled only while a run of a task with `defer` is due or waiting
   */
  readonly loadProbe?: LoadProbe;
  /** Largest run output kept, in bytes of JSON; larger outputs are stored as a preview. @defaultValue 65536 */
  readonly maxOutputBytes?: number;
  /**
   * `false`: this instance runs only what is asked of it in this process (`trigger`, `retry`):
   * no ticks, no catch-up, no work taken from other instances. For one-off processes, such as
   * `caretaker trigger --local`.
   * @defaultValue true
   */
  readonly runSchedules?: boolean;
  /**
   * A span per run, the handler running inside it. `createScheduler` traces through
   * `@opentelemetry/api` when it is installed (a no-op without an SDK); pass `false` to turn it off.
   * @defaultValue OpenTelemetry when available
   */
  readonly tracing?: boolean | RunTracer;
  /**
   * What is kept of each run's log (the lines its handler writes through `ctx.logger`, a command's
   * output): its newest `maxBytes` (the end, where a failure is explained), written to the store
   * every `flushInterval` and streamed as `run:log` events. `false` keeps none.
   * @defaultValue { maxBytes: '64KiB', flushInterval: '1s' }
   */
  readonly runLogs?: false | { readonly maxBytes?: number | string; readonly flushInterval?: Duration };
  /**
   * The most instants one backfill may run (`scheduler.backfill`); a larger range is refused, so a
   * typo in a date cannot queue years of runs.
   * @defaultValue 1000
   */
  readonly backfillLimit?: number;
  /**
   * Alerts: channels (`webhook`, `command`, or your own `send`), and which events go where, per
   * task or as defaults: `failed` (after the last attempt), `recovered`, `stale` (no success
   * within the task's `staleAfter`), `missed`. Each alert is recorded in the store and delivered
   * once across instances, retried with backoff; `GET /api/notifications` lists them.
   *
   * @example
   * createScheduler({ notify: { channels: { ops: { webhook: { url: process.env.SLACK_URL!, format: 'slack' } } }, defaults: { on: ['failed', 'recovered'], channels: ['ops'] } } });
   */
  readonly notify?: NotifyOptions;
}

/** Scheduler options with defaults applied. */
export interface ResolvedSchedulerOptions {
  readonly leaseMs: number;
  /** Follow the store's clock (see {@link SchedulerOptions.storeClock}). */
  readonly storeClock: boolean;
  /** See {@link SchedulerOptions.runSchedules}. */
  readonly runSchedules: boolean;
  readonly concurrency: number;
  readonly unref: boolean;
  readonly retention: RetentionPolicy;
  /** Null when not set: the store's suggestion applies. */
  readonly pollIntervalMs: number | null;
  readonly maxOutputBytes: number;
  readonly runLogs: RunLogOptions;
  readonly backfillLimit: number;
  /** Null without alerts. */
  readonly notify: ResolvedNotify | null;
  readonly defaults: ReturnType<typeof parseTaskDefaults>;
}

const isObject = (v: unknown) => typeof v === 'object' && v !== null;
const fn = (what: string) => z.custom<unknown>((v) => typeof v === 'function', { message: `expected ${what}` });

const schema = z.strictObject({
  store: z.custom<Store>((v) => isObject(v) && typeof (v as Store).claim === 'function', { message: 'expected a store, e.g. memoryStore()' }).optional(),
  clock: z.custom<Clock>((v) => isObject(v) && typeof (v as Clock).setTimer === 'function', { message: 'expected a Clock, e.g. createTestClock()' }).optional(),
  storeClock: z.boolean().optional(),
  runSchedules: z.boolean().optional(),
  instance: z.string().min(1).max(200).optional(),
  lease: durationField.pipe(z.number().min(1_000, { message: 'must be at least 1s' })).optional(),
  concurrency: z.union([z.number().int().min(1), z.literal(Number.POSITIVE_INFINITY)]).optional(),
  logger: z.custom<Logger>((v) => isObject(v) && typeof (v as Logger).child === 'function', { message: 'expected a pino-compatible logger' }).optional(),
  unref: z.boolean().optional(),
  defaults: z.unknown().optional(),
  history: z
    .strictObject({
      maxAge: durationField.pipe(z.number().min(60_000, { message: 'must be at least 1m' })).optional(),
      maxPerTask: z.number().int().min(1).optional(),
    })
    .optional(),
  pollInterval: durationField.pipe(z.number().min(100, { message: 'must be at least 100ms' })).optional(),
  random: fn('a function returning a number in [0, 1)').optional(),
  loadProbe: z.custom<LoadProbe>((v) => typeof v === 'object' && v !== null && typeof (v as { sample?: unknown }).sample === 'function', { message: 'expected an object with a sample(wanted) method' }).optional(),
  idGenerator: fn('a function returning a unique string').optional(),
  maxOutputBytes: z.number().int().min(64).optional(),
  runLogs: z
    .strictObject({
      maxBytes: byteCountField.pipe(z.number().int({ message: 'must be whole bytes' }).max(2 ** 20, { message: 'must be at most 1MiB' })).optional(),
      flushInterval: durationField.pipe(z.number().min(100, { message: 'must be at least 100ms' })).optional(),
    })
    .optional(),
  // Planning is synchronous, and every poll carries a running backfill's instants: bounded.
  backfillLimit: z.number().int().min(1).max(10_000).optional(),
  notify: z.unknown().optional(),
  tracing: z.union([z.boolean(), z.custom<RunTracer>((v) => isObject(v) && typeof (v as RunTracer).start === 'function', { message: 'expected true, false or a RunTracer' })]).optional(),
});

/** Validates scheduler options; throws one {@link InvalidOptionError} naming every bad option. */
export function resolveSchedulerOptions(options: unknown): ResolvedSchedulerOptions {
  const given = (options ?? {}) as Record<string, unknown>;
  // `runLogs: false` is no bytes kept: one object shape, so an error names the field inside it.
  const input = typeof given === 'object' && given.runLogs === false ? { ...given, runLogs: { maxBytes: 0 } } : given;
  const result = schema.safeParse(input);
  const issues = result.success ? [] : toOptionIssues(result.error, input, schema);
  const notify = given !== null && typeof given === 'object' && given.notify !== undefined ? checkNotify(given.notify, issues) : null;
  if (!result.success || issues.length > 0) throw new InvalidOptionError('createScheduler', issues);
  const o = result.data;
  return {
    leaseMs: o.lease ?? 15_000,
    storeClock: o.storeClock ?? o.clock === undefined,
    runSchedules: o.runSchedules ?? true,
    concurrency: o.concurrency ?? Number.POSITIVE_INFINITY,
    unref: o.unref ?? false,
    retention: { maxAgeMs: o.history?.maxAge ?? 30 * 86_400_000, maxPerTask: o.history?.maxPerTask ?? 1000 },
    pollIntervalMs: o.pollInterval ?? null,
    maxOutputBytes: o.maxOutputBytes ?? 65_536,
    runLogs: { maxBytes: o.runLogs?.maxBytes ?? 65_536, flushIntervalMs: o.runLogs?.flushInterval ?? 1_000 },
    backfillLimit: o.backfillLimit ?? 1_000,
    notify,
    defaults: parseTaskDefaults(o.defaults),
  };
}
