import { describeValue, InvalidOptionError, type OptionIssue } from '../util/errors.ts';
import type { JsonValue } from '../util/json.ts';
import {
  type DurationPoint,
  type DurationSummary,
  type FieldSummary,
  type FinalStatus,
  RUN_STATUSES,
  type RunRecord,
  type RunStats,
  type RunStatsQuery,
  type RunStatus,
  type StatsBucket,
} from './records.ts';

export const MAX_STATS_BUCKETS = 2_000;
export const DEFAULT_POINT_LIMIT = 2_000;
export const MAX_POINT_LIMIT = 10_000;
/** Widest bucket: the whole range a Date can hold (stores bind it as a 64-bit integer). */
const MAX_BUCKET_MS = 2 * 8.64e15;
const MAX_FIELD_DEPTH = 4;
/**
 * An output key a stats field may name. Keys start with a letter, `_` or `$`, so a path never
 * means an array index in one store and a key in another (PostgreSQL's `#>` reads `0` as both).
 */
const FIELD_KEY = /^[A-Za-z_$][\w$-]{0,63}$/;

/** A {@link RunStatsQuery} checked, in milliseconds, with the field split into keys. */
export interface NormalisedStatsQuery {
  readonly task: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly bucketMs: number;
  readonly bucketCount: number;
  readonly field: string | null;
  readonly fieldPath: readonly string[] | null;
  readonly pointLimit: number;
}

/** Validates a stats query; throws {@link InvalidOptionError} naming each bad field. */
export function normaliseStatsQuery(query: RunStatsQuery): NormalisedStatsQuery {
  const issues: OptionIssue[] = [];
  const bad = (path: string, value: unknown, fix: string) => issues.push({ path, received: describeValue(value), fix });
  if (typeof query.task !== 'string' || query.task === '') bad('task', query.task, 'use a task name');
  const instant = (path: string, value: unknown): number => {
    if (value instanceof Date && Number.isFinite(value.getTime())) return value.getTime();
    bad(path, value, 'use a valid Date');
    return Number.NaN;
  };
  const fromMs = instant('from', query.from);
  const toMs = instant('to', query.to);
  if (toMs <= fromMs) bad('to', query.to, 'use an instant after from');
  const { bucketMs } = query;
  let bucketCount = 0;
  if (!Number.isInteger(bucketMs) || bucketMs < 1_000 || bucketMs > MAX_BUCKET_MS) bad('bucketMs', bucketMs, `use whole milliseconds from 1000 (one second) to ${MAX_BUCKET_MS}`);
  else if (toMs > fromMs) {
    bucketCount = Math.ceil((toMs - fromMs) / bucketMs);
    if (bucketCount > MAX_STATS_BUCKETS) bad('bucketMs', bucketMs, `use wider buckets or a shorter range: at most ${MAX_STATS_BUCKETS} buckets (this range needs ${bucketCount})`);
  }
  const field = query.field ?? null;
  let fieldPath: string[] | null = null;
  if (field !== null) {
    const keys = typeof field === 'string' ? field.split('.') : [];
    if (keys.length === 0 || keys.length > MAX_FIELD_DEPTH || !keys.every((k) => FIELD_KEY.test(k))) {
      bad('field', field, `name an output key, or a dot path of up to ${MAX_FIELD_DEPTH} keys (e.g. "bytesFreed" or "tables.rows"); each key starts with a letter, _ or $`);
    } else fieldPath = keys;
  }
  const pointLimit = query.pointLimit ?? DEFAULT_POINT_LIMIT;
  if (!Number.isInteger(pointLimit) || pointLimit < 0 || pointLimit > MAX_POINT_LIMIT) bad('pointLimit', pointLimit, `use a whole number from 0 to ${MAX_POINT_LIMIT}`);
  if (issues.length > 0) throw new InvalidOptionError('stats query', issues);
  return { task: query.task, fromMs, toMs, bucketMs, bucketCount, field: fieldPath === null ? null : field, fieldPath, pointLimit };
}

/** The nearest-rank index (0-based) of percentile `percent` among `n` sorted values. */
export function rankIndex(percent: number, n: number): number {
  // Integer arithmetic, as the SQL stores compute it: ceil(percent × n / 100), 1-based.
  return Math.max(1, Math.floor((percent * n + 99) / 100)) - 1;
}

/** What stores aggregate per bucket before {@link assembleStats} makes them dense. */
export interface BucketParts {
  outcomes?: Partial<Record<RunStatus, number>>;
  durations?: DurationSummary | null;
  field?: FieldSummary | null;
}

const NO_OUTCOMES: Readonly<Record<RunStatus, number>> = Object.freeze(Object.fromEntries(RUN_STATUSES.map((s) => [s, 0])) as Record<RunStatus, number>);

/** The dense result from the buckets a store found (keyed by bucket index) and its points. */
export function assembleStats(q: NormalisedStatsQuery, parts: ReadonlyMap<number, BucketParts>, points: readonly DurationPoint[], withDuration: number): RunStats {
  const buckets: StatsBucket[] = [];
  for (let i = 0; i < q.bucketCount; i++) {
    const part = parts.get(i);
    buckets.push({
      start: new Date(q.fromMs + i * q.bucketMs),
      outcomes: part?.outcomes === undefined ? NO_OUTCOMES : { ...NO_OUTCOMES, ...part.outcomes },
      durations: part?.durations ?? null,
      field: part?.field ?? null,
    });
  }
  return {
    task: q.task,
    from: new Date(q.fromMs),
    to: new Date(q.toMs),
    bucketMs: q.bucketMs,
    field: q.field,
    buckets,
    points,
    // Never below 0, whatever a store's reads saw.
    pointsOmitted: Math.max(0, withDuration - points.length),
  };
}

/** The number at `path` in an output, or null when there is none there (only objects are walked). */
export function numberAt(output: JsonValue | null, path: readonly string[]): number | null {
  let at: JsonValue | null | undefined = output;
  for (const key of path) {
    if (typeof at !== 'object' || at === null || Array.isArray(at) || !Object.hasOwn(at, key)) return null;
    at = (at as Record<string, JsonValue>)[key];
  }
  return typeof at === 'number' && Number.isFinite(at) ? at : null;
}

/** A sum beyond the range of a double is reported at the range's end (JSON has no infinity). */
function finiteSum(sum: number): number {
  return Math.min(Number.MAX_VALUE, Math.max(-Number.MAX_VALUE, sum));
}

/** The sum of doubles, not overflowing on the way when the total is in range. */
function sumOf(values: readonly number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  if (Number.isFinite(sum)) return sum;
  // Scaled down by a power of two (exact), an intermediate overflow cannot happen.
  let scaled = 0;
  for (const v of values) scaled += v * 2 ** -64;
  return scaled * 2 ** 64;
}

/** Groups by bucket, starting each group empty. */
function group<T>(into: Map<number, T[]>, bucket: number, value: T): void {
  const list = into.get(bucket);
  if (list === undefined) into.set(bucket, [value]);
  else list.push(value);
}

/**
 * Stats computed from the run records themselves: the memory store's answer, and the model the
 * SQL stores are tested against. `runs` holds every record of the task (any range, any order).
 */
export function statsOfRuns(q: NormalisedStatsQuery, runs: Iterable<RunRecord>): RunStats {
  const inRange: RunRecord[] = [];
  const attemptsOf = new Map<string, number>();
  for (const run of runs) {
    if (run.task !== q.task) continue;
    attemptsOf.set(run.slot, Math.max(attemptsOf.get(run.slot) ?? 0, run.attempt));
    const at = run.scheduledFor.getTime();
    if (at >= q.fromMs && at < q.toMs) inRange.push(run);
  }
  const parts = new BucketPartsMap();
  const durations = new Map<number, number[]>();
  const fields = new Map<number, number[]>();
  const timed: RunRecord[] = [];
  for (const run of inRange) {
    const b = Math.floor((run.scheduledFor.getTime() - q.fromMs) / q.bucketMs);
    const superseded = run.retryAt !== null && (attemptsOf.get(run.slot) ?? 0) > run.attempt;
    if (!superseded) parts.addOutcome(b, run.status, run.status === 'skipped' ? Math.max(1, run.skippedTicks) : 1);
    if (run.status !== 'running' && run.status !== 'skipped' && run.durationMs !== null) {
      group(durations, b, run.durationMs);
      timed.push(run);
    }
    if (q.fieldPath !== null) {
      const value = numberAt(run.output, q.fieldPath);
      if (value !== null) group(fields, b, value);
    }
  }
  for (const [b, values] of durations) {
    values.sort((x, y) => x - y);
    const n = values.length;
    parts.setDurations(b, { count: n, p50: values[rankIndex(50, n)] as number, p95: values[rankIndex(95, n)] as number, max: values[n - 1] as number });
  }
  for (const [b, values] of fields) {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (const v of values) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    parts.setField(b, { count: values.length, sum: sumOf(values), min, max });
  }
  timed.sort((x, y) => x.scheduledFor.getTime() - y.scheduledFor.getTime() || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  const points = timed.slice(Math.max(0, timed.length - q.pointLimit)).map(toPoint);
  return assembleStats(q, parts, points, timed.length);
}

function toPoint(run: RunRecord): DurationPoint {
  return { runId: run.id, scheduledFor: run.scheduledFor, durationMs: run.durationMs as number, status: run.status as FinalStatus };
}

/** The bucket parts a store builds from its aggregate rows, keyed by bucket index. */
export class BucketPartsMap extends Map<number, BucketParts> {
  #at(b: number): BucketParts {
    let p = this.get(b);
    if (p === undefined) this.set(b, (p = {}));
    return p;
  }

  addOutcome(b: number, status: RunStatus, ticks: number): void {
    if (ticks <= 0) return;
    const outcomes = (this.#at(b).outcomes ??= {});
    outcomes[status] = (outcomes[status] ?? 0) + ticks;
  }

  setDurations(b: number, summary: DurationSummary): void {
    if (summary.count > 0) this.#at(b).durations = summary;
  }

  setField(b: number, summary: FieldSummary): void {
    if (summary.count > 0) this.#at(b).field = { ...summary, sum: finiteSum(summary.sum) };
  }
}

/**
 * The paths of numeric fields in some outputs (objects walked up to the depth a stats field may
 * have), sorted, at most `limit`: what a chart can offer to plot.
 */
export function numericFields(outputs: Iterable<JsonValue | null>, limit = 50): string[] {
  const found = new Set<string>();
  const walk = (value: JsonValue | null, path: string, depth: number) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || depth >= MAX_FIELD_DEPTH) return;
    for (const [key, inner] of Object.entries(value)) {
      if (!FIELD_KEY.test(key)) continue;
      const at = path === '' ? key : `${path}.${key}`;
      if (typeof inner === 'number') found.add(at);
      else walk(inner, at, depth + 1);
    }
  };
  for (const output of outputs) walk(output, '', 0);
  return [...found].sort().slice(0, limit);
}
