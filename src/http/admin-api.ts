import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import { allowedHost, allowedOrigin, apiTokenList } from '../config/schema.ts';
import { pauseNote } from '../engine/pause-note.ts';
import type { TaskOverridePatch } from '../engine/overrides.ts';
import type { Scheduler } from '../engine/scheduler.ts';
import { createMetrics, type SchedulerMetrics } from '../observe/metrics.ts';
import { TaskStatusReader } from '../observe/task-status.ts';
import { NOTIFICATION_STATUSES, type NotificationStatus, RUN_STATUSES, type RunStatsQuery, type RunStatus } from '../store/records.ts';
import { MAX_POINT_LIMIT, MAX_STATS_BUCKETS, normaliseStatsQuery, numericFields } from '../store/run-stats.ts';
import { parseInstant } from '../engine/schedules/parse.ts';
import { MAX_DATE_MS } from '../engine/schedules/types.ts';
import { parseDuration } from '../util/duration.ts';
import { BackfillNotFoundError, describeValue, ErrorCode, InvalidOptionError, TaskNotFoundError } from '../util/errors.ts';
import { uuidv7 } from '../util/ids.ts';
import type { JsonValue } from '../util/json.ts';
import type { Logger } from '../util/logger.ts';
import { packageVersion } from '../util/package-version.ts';
import { toOptionIssues } from '../util/zod-issues.ts';
import { type Actor, ANONYMOUS, type ApiRole, type ApiToken, apiTokens, bearerAuth } from './auth.ts';
import { errorResponse, HttpError, HttpErrorCode } from './errors.ts';
import { EventLog } from './event-log.ts';
import { EventStreams } from './events-route.ts';
import { requestGuard } from './request-guard.ts';
import { type Asset, loadDashboard } from './static-assets.ts';
import { taskView } from './task-view.ts';

/** Options of {@link createAdminApi}. */
export interface AdminApiOptions {
  readonly scheduler: Scheduler;
  /** Required as `Authorization: Bearer <token>` on every mutation when set: an admin token named `admin`. */
  readonly token?: string;
  /**
   * Named tokens with roles: `read` (sees), `operate` (also triggers, pauses, resumes, cancels,
   * retries), `admin` (also edits). With any token configured, every mutation needs one whose
   * role allows it; reads stay open.
   *
   * @example
   * createAdminApi({ scheduler, tokens: [{ name: 'ci', token: process.env.CI_TOKEN!, role: 'operate' }] });
   */
  readonly tokens?: readonly ApiToken[];
  /** Serve the dashboard at `/` (when it has been built). @defaultValue true */
  readonly dashboard?: boolean;
  /** Include Node process metrics (memory, CPU, event-loop lag) in `/metrics`. @defaultValue true */
  readonly processMetrics?: boolean;
  /** Where unexpected errors are logged. */
  readonly logger?: Pick<Logger, 'error'>;
  /** Serve under this path (e.g. `/caretaker`) when the whole request URL reaches the handler. @defaultValue '' */
  readonly basePath?: string;
  /**
   * Host names the API may be reached by besides loopback names (`localhost`, `*.localhost`) and
   * IP addresses, which are always allowed; `.example.com` allows that domain and its subdomains;
   * any port. Every other Host is refused (403 `ERR_HOST_NOT_ALLOWED`): a web page that rebinds
   * its own domain name to this machine cannot read or drive the API.
   *
   * @example
   * createAdminApi({ scheduler, token, allowedHosts: ['caretaker.example.com', '.ops.example.com'] });
   */
  readonly allowedHosts?: readonly string[];
  /**
   * Web origins (`scheme://host[:port]`) besides the API's own that may send mutations. A mutation
   * with any other `Origin`, `Origin: null`, or `Sec-Fetch-Site: cross-site` is refused (403
   * `ERR_ORIGIN_NOT_ALLOWED`); requests without `Origin` (curl, the CLI) are not affected.
   *
   * @example
   * createAdminApi({ scheduler, token, allowedOrigins: ['https://ops.example.com'] });
   */
  readonly allowedOrigins?: readonly string[];
}

/** What the admin API's handlers know about a request: who sent it (set by the token check). */
export type AdminApiEnv = { Variables: { actor: Actor } };

/** The admin API: a Hono app (use `.fetch` anywhere a fetch handler fits) and what it holds. */
export interface AdminApi {
  readonly app: Hono<AdminApiEnv>;
  /** `env` is the server's bindings (`{ incoming, outgoing }` under `@hono/node-server`): with them a stalled event stream's socket can be freed. */
  readonly fetch: (request: Request, env?: unknown) => Response | Promise<Response>;
  readonly metrics: SchedulerMetrics;
  /**
   * Ends open event streams, and those opened later at once: call it when the server begins to
   * close, which otherwise waits for them (a dashboard tab keeps one open).
   */
  endStreams(): void;
  /** Unsubscribes from the scheduler and ends open event streams. */
  close(): void;
}

const LIMIT_MAX = 1_000;
/** Instants a task's page lists. */
const UPCOMING = 10;
/** How many of a task's newest runs are read for the output fields a chart may offer. */
const FIELD_SAMPLE = 100;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** The range a stats request covers when it names none. */
const DEFAULT_STATS_RANGE_MS = 7 * DAY_MS;
const STORE_PROBE_MS = 2_000;

/** Largest JSON body a command takes: a pause note and its quoting, with room to spare. */
const MAX_BODY_BYTES = 16 * 1024;

/**
 * A command's JSON body as an object; an empty body is `{}` (curl -X POST, older clients). Anything
 * else is a 400 that says what to send.
 */
async function jsonBody(request: Request): Promise<Record<string, unknown>> {
  const text = await request.text();
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid('body', text.slice(0, 80), 'send a JSON object, e.g. {"note": "why"}');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('body', text.slice(0, 80), 'send a JSON object, e.g. {"note": "why"}');
  return value as Record<string, unknown>;
}

/**
 * The paging parameters of a list route (`limit`, `cursor`) beside its own (`filters`); any
 * other parameter is a 400 naming it. Empty parameters are ignored (docs/http-api.md), `limit=`
 * included.
 */
function pageQuery(q: Record<string, string>, filters: readonly string[]): { limit: number; cursor?: string } {
  const known = [...filters, 'limit', 'cursor'];
  const unknown = Object.keys(q).find((k) => !known.includes(k));
  if (unknown !== undefined) throw invalid(unknown, q[unknown] ?? '', `use ${known.slice(0, -1).join(', ')} or ${known.at(-1)}`);
  const limit = q.limit === undefined || q.limit === '' ? 50 : Number(q.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > LIMIT_MAX) throw invalid('limit', q.limit ?? '', `use a whole number from 1 to ${LIMIT_MAX}`);
  return { limit, ...(q.cursor !== undefined && q.cursor !== '' ? { cursor: q.cursor } : {}) };
}

/** An instant in a query string: ISO-8601 with a zone, or Unix milliseconds. */
function instantParam(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const ms = /^-?\d+$/.test(value) ? parseInstant(Number(value)) : parseInstant(value);
  if (ms === undefined) throw invalid(name, value, 'use an ISO-8601 instant with a zone (2026-12-01T00:00:00Z) or Unix milliseconds');
  return ms;
}

/**
 * The parameters of `GET /api/tasks/:name/stats` as a store query: `from` and `to` (default the
 * last 7 days), `bucket` (`minute`, `hour`, `day` or a duration such as `15m`; default hours up to
 * 8 days, else days), `field`, `points`. The store checks the rest (bucket count, field keys).
 */
function statsQuery(task: string, q: Record<string, string>, now: number): RunStatsQuery {
  const known = ['from', 'to', 'bucket', 'field', 'points'];
  const unknown = Object.keys(q).find((k) => !known.includes(k));
  if (unknown !== undefined) throw invalid(unknown, q[unknown] ?? '', `use ${known.slice(0, -1).join(', ')} or ${known.at(-1)}`);
  const to = instantParam('to', q.to, now);
  // The default range stops at the earliest instant a Date holds.
  const from = instantParam('from', q.from, Math.max(-MAX_DATE_MS, to - DEFAULT_STATS_RANGE_MS));
  if (from >= to) {
    throw q.from === undefined || q.from === '' ? invalid('to', q.to ?? '', 'use a later instant (the range is the 7 days before it)') : invalid('from', q.from, 'use an instant before to');
  }
  const named: Record<string, number> = { minute: 60_000, hour: HOUR_MS, day: DAY_MS };
  // Unasked, the narrowest of hours (up to 8 days), days, weeks, 30 and 365 days that fits.
  const fitting = () => [DAY_MS, 7 * DAY_MS, 30 * DAY_MS, 365 * DAY_MS].find((b) => Math.ceil((to - from) / b) <= MAX_STATS_BUCKETS) ?? 2 * MAX_DATE_MS;
  const bucket = q.bucket === undefined || q.bucket === '' ? (to - from <= 8 * DAY_MS ? HOUR_MS : fitting()) : (named[q.bucket] ?? parseDuration(q.bucket));
  if (bucket === undefined || !Number.isInteger(bucket) || bucket < 1_000) throw invalid('bucket', q.bucket ?? '', 'use minute, hour, day or a duration of at least 1s such as "15m"');
  if (q.points !== undefined && q.points !== '' && !/^\d{1,6}$/.test(q.points)) throw invalid('points', q.points, `use a whole number from 0 to ${MAX_POINT_LIMIT}`);
  const points = q.points === undefined || q.points === '' ? undefined : Number(q.points);
  const query: RunStatsQuery = {
    task,
    from: new Date(from),
    to: new Date(to),
    bucketMs: bucket,
    ...(q.field !== undefined && q.field !== '' ? { field: q.field } : {}),
    ...(points !== undefined ? { pointLimit: points } : {}),
  };
  try {
    normaliseStatsQuery(query);
  } catch (error) {
    // The store names its own options; the caller sent these parameters.
    if (!(error instanceof InvalidOptionError)) throw error;
    const parameter: Record<string, string> = { bucketMs: 'bucket', pointLimit: 'points' };
    throw new InvalidOptionError('request', error.issues.map((i) => ({ ...i, path: parameter[i.path] ?? i.path })));
  }
  return query;
}

function invalid(parameter: string, received: string, fix: string): InvalidOptionError {
  return new InvalidOptionError('request', [{ path: parameter, received: JSON.stringify(received), fix }]);
}

const guardOptions = z.object({ allowedHosts: z.array(allowedHost).optional(), allowedOrigins: z.array(allowedOrigin).optional(), tokens: apiTokenList.optional() });

/** Mutations an `operate` token may send; any other mutation route needs `admin`. */
const OPERATE_ROUTE = /\/api\/(tasks\/[^/]+\/(trigger|pause|resume|backfill)|runs\/[^/]+\/(cancel|retry)|backfills\/[^/]+\/cancel)$/;
const roleNeeded = (_method: string, path: string): ApiRole => (OPERATE_ROUTE.test(path) ? 'operate' : 'admin');

/**
 * The HTTP admin API of a scheduler (docs/http-api.md): tasks, runs, commands, live events,
 * Prometheus metrics, health and readiness, and the dashboard.
 *
 * @example
 * const api = createAdminApi({ scheduler, token: process.env.CARETAKER_TOKEN });
 * serve({ fetch: api.fetch, port: 7070, hostname: '127.0.0.1' });
 */
export function createAdminApi(options: AdminApiOptions): AdminApi {
  const { scheduler } = options;
  // Checked before subscribing to the scheduler: a refused option leaves nothing behind.
  const base = options.basePath ?? '';
  if (base !== '' && !/^(\/[\w.~-]+)+$/.test(base)) {
    throw new InvalidOptionError('createAdminApi', [{ path: 'basePath', received: JSON.stringify(base), fix: 'use a path like "/caretaker": a leading slash, no trailing slash' }]);
  }
  const guard = guardOptions.safeParse(options);
  if (!guard.success) throw new InvalidOptionError('createAdminApi', toOptionIssues(guard.error, options, guardOptions));
  const logError = (error: unknown) => options.logger?.error({ err: error }, 'admin API error');
  const status = new TaskStatusReader(scheduler);
  const events = new EventLog(scheduler);
  const streams = new EventStreams(events, scheduler.instance);
  const metrics = createMetrics(scheduler, status, { processMetrics: options.processMetrics ?? true, eventStreams: streams });
  // A run starting or ending changes its task's view: the next read must not be the cached one.
  const offRuns = (['run:started', 'run:finished', 'tick:skipped'] as const).map((name) => scheduler.on(name, (run) => status.invalidate(run.task)));
  const dashboard = options.dashboard === false ? null : loadDashboard();
  const app = base === '' ? new Hono<AdminApiEnv>() : new Hono<AdminApiEnv>().basePath(base);

  app.onError((error, c) => errorResponse(c, error, logError));
  app.notFound((c) => c.json({ error: { code: HttpErrorCode.NotFound, message: `no route for ${c.req.method} ${c.req.path}` } }, 404));
  app.use('*', requestGuard(options));
  const tokens = apiTokens(options);
  if (tokens.length > 0) app.on(['POST', 'PUT', 'PATCH', 'DELETE'], '/api/*', bearerAuth(tokens, roleNeeded));

  /**
   * Records an accepted mutation with who sent it. Best effort: the change has happened, and a
   * store that cannot take the record is reported in the log, not as the mutation's failure.
   */
  const audit = async (c: Context<AdminApiEnv>, action: string, target: { task?: string | null; runId?: string | null; detail?: JsonValue | null }) => {
    try {
      await scheduler.store.recordAudit({
        id: uuidv7(),
        at: new Date(scheduler.now()),
        actor: (c.get('actor') ?? ANONYMOUS).name,
        source: 'api',
        action,
        task: target.task ?? null,
        runId: target.runId ?? null,
        detail: target.detail ?? null,
      });
    } catch (error) {
      logError(error);
    }
  };
  const notFound = (name: string) => new TaskNotFoundError(name, scheduler.tasks().map((t) => t.name));
  const registered = (name: string): string => {
    if (scheduler.task(name) === undefined) throw notFound(name);
    return name;
  };
  const viewOf = async (name: string) => {
    const s = await status.one(name);
    if (s === null) throw notFound(name);
    return taskView(s);
  };

  app.get('/api/info', (c) =>
    c.json({
      instance: scheduler.instance,
      version: packageVersion(),
      store: scheduler.store.kind,
      state: scheduler.state,
      authRequired: tokens.length > 0,
      // The scheduler's time (the store's clock where it has one): what next-run countdowns count to.
      now: new Date(scheduler.now()),
      clockOffsetMs: scheduler.clockOffsetMs,
    }),
  );
  app.get('/api/tasks', async (c) => c.json({ tasks: (await status.all()).map(taskView) }));
  app.get('/api/tasks/:name', async (c) => {
    const name = c.req.param('name');
    const task = await viewOf(name);
    return c.json({ task: { ...task, upcoming: scheduler.upcoming(name, UPCOMING) } });
  });
  app.get('/api/tasks/:name/stats', async (c) => {
    const name = registered(c.req.param('name'));
    const query = statsQuery(name, c.req.query(), scheduler.now());
    // What a chart may plot: the numeric fields of the newest outputs (a page the store reads by index).
    const [stats, recent] = await Promise.all([scheduler.store.runStats(query), scheduler.historyPage({ task: name, limit: FIELD_SAMPLE })]);
    return c.json({ stats, fields: numericFields(recent.runs.map((r) => r.output)) });
  });
  app.post('/api/tasks/:name/trigger', async (c) => {
    // The scheduler rejects unknown names itself (TaskNotFoundError → 404).
    const name = c.req.param('name');
    const runId = await scheduler.trigger(name);
    status.invalidate(name);
    await audit(c, 'trigger', { task: name, runId });
    return c.json({ runId }, 202);
  });
  // The body is read only up to the limit, however long the client says (or does not say) it is.
  const commandBody = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) => c.json({ error: { code: ErrorCode.InvalidOption, message: `request: body: send at most ${MAX_BODY_BYTES} bytes of JSON` } }, 413),
  });
  app.post('/api/tasks/:name/pause', commandBody, async (c) => {
    const name = c.req.param('name');
    const body = await jsonBody(c.req.raw);
    const unknown = Object.keys(body).find((k) => k !== 'note');
    if (unknown !== undefined) throw invalid(unknown.slice(0, 80), (JSON.stringify(body[unknown]) ?? '').slice(0, 80), 'the body takes only "note"');
    // Checked before the task: a bad note is refused whatever the task (nothing is paused).
    const note = pauseNote({ note: body.note }, 'request');
    await scheduler.pause(name, { note });
    status.invalidate(name);
    await audit(c, 'pause', { task: name, detail: { note } });
    return c.json({ task: await viewOf(name) });
  });
  // Run-time edits (admin): over the code or config definition, on every instance.
  app.patch('/api/tasks/:name', commandBody, async (c) => {
    const name = registered(c.req.param('name'));
    const patch = await jsonBody(c.req.raw);
    const actor = (c.get('actor') ?? ANONYMOUS).name;
    await scheduler.override(name, patch as TaskOverridePatch, { by: actor });
    status.invalidate(name);
    await audit(c, 'override', { task: name, detail: patch as JsonValue });
    return c.json({ task: { ...(await viewOf(name)), upcoming: scheduler.upcoming(name, UPCOMING) } });
  });
  app.delete('/api/tasks/:name/overrides', async (c) => {
    const name = registered(c.req.param('name'));
    // Nothing to drop: nothing changes, nothing is recorded.
    if (scheduler.task(name)?.overrides !== null) {
      await scheduler.clearOverrides(name);
      status.invalidate(name);
      await audit(c, 'reset', { task: name });
    }
    return c.json({ task: { ...(await viewOf(name)), upcoming: scheduler.upcoming(name, UPCOMING) } });
  });
  app.post('/api/tasks/:name/resume', async (c) => {
    const name = c.req.param('name');
    await scheduler.resume(name);
    status.invalidate(name);
    await audit(c, 'resume', { task: name });
    return c.json({ task: await viewOf(name) });
  });

  // Backfills (operate): every instant of a past range, once across instances, cancellable as a whole.
  app.post('/api/tasks/:name/backfill', commandBody, async (c) => {
    const name = registered(c.req.param('name'));
    const body = await jsonBody(c.req.raw);
    const unknown = Object.keys(body).find((k) => k !== 'from' && k !== 'to');
    if (unknown !== undefined) throw invalid(unknown.slice(0, 80), (JSON.stringify(body[unknown]) ?? '').slice(0, 80), 'the body takes only "from" and "to"');
    for (const key of ['from', 'to'] as const) {
      const value = body[key];
      if (typeof value !== 'string' && typeof value !== 'number') throw invalid(key, (JSON.stringify(value) ?? 'nothing').slice(0, 80), 'send an ISO-8601 instant (or Unix ms)');
    }
    const actor = (c.get('actor') ?? ANONYMOUS).name;
    const backfill = await scheduler.backfill(name, { from: body.from as string | number, to: body.to as string | number }, { by: actor });
    await audit(c, 'backfill', { task: name, detail: { backfillId: backfill.id, from: backfill.from.toISOString(), to: backfill.to.toISOString(), instants: backfill.progress.total } });
    return c.json({ backfill }, 202);
  });
  app.get('/api/tasks/:name/backfills', async (c) => {
    const name = c.req.param('name');
    const q = c.req.query();
    const unknown = Object.keys(q).find((k) => k !== 'limit');
    if (unknown !== undefined) throw invalid(unknown, q[unknown] ?? '', 'use limit');
    const limit = q.limit === '' ? undefined : q.limit;
    if (limit !== undefined && (!/^\d{1,3}$/.test(limit) || Number(limit) < 1 || Number(limit) > 100)) throw invalid('limit', limit, 'use a whole number from 1 to 100');
    // A task no longer registered still has its backfills.
    return c.json({ backfills: await scheduler.backfills({ task: name, ...(limit !== undefined ? { limit: Number(limit) } : {}) }) });
  });
  app.get('/api/backfills/:id', async (c) => {
    const id = backfillIdParam(c.req.param('id'));
    const backfill = await scheduler.getBackfill(id);
    if (backfill === null) throw new BackfillNotFoundError(id);
    return c.json({ backfill });
  });
  app.post('/api/backfills/:id/cancel', async (c) => {
    const id = backfillIdParam(c.req.param('id'));
    const backfill = await scheduler.cancelBackfill(id);
    status.invalidate(backfill.task);
    await audit(c, 'cancel-backfill', { task: backfill.task, detail: { backfillId: id } });
    return c.json({ backfill });
  });

  app.get('/api/runs', async (c) => {
    const q = c.req.query();
    const paging = pageQuery(q, ['task', 'status']);
    const task = q.task === undefined || q.task === '' ? undefined : registered(q.task);
    const state = q.status === undefined || q.status === '' ? undefined : q.status;
    if (state !== undefined && !(RUN_STATUSES as readonly string[]).includes(state)) throw invalid('status', state, `use one of ${RUN_STATUSES.join(', ')}`);
    const page = await scheduler.historyPage({
      ...paging,
      ...(task !== undefined ? { task } : {}),
      ...(state !== undefined ? { status: state as RunStatus } : {}),
    });
    return c.json({ runs: page.runs, nextCursor: page.nextCursor });
  });
  app.get('/api/runs/:id', async (c) => {
    const id = runIdParam(c.req.param('id'));
    const run = await scheduler.getRun(id);
    if (run === null) throw runNotFound(id);
    return c.json({ run });
  });
  app.get('/api/runs/:id/logs', async (c) => {
    const id = runIdParam(c.req.param('id'));
    const q = c.req.query();
    const unknown = Object.keys(q).find((k) => k !== 'after');
    if (unknown !== undefined) throw invalid(unknown, q[unknown] ?? '', 'use after');
    if (q.after !== undefined && q.after !== '' && !/^\d{1,15}$/.test(q.after)) throw invalid('after', q.after, 'use the seq of the last line you have (a whole number, 0 for all)');
    const after = q.after === undefined || q.after === '' ? 0 : Number(q.after);
    const [run, log] = await Promise.all([scheduler.getRun(id), scheduler.runLog(id)]);
    if (run === null) throw runNotFound(id);
    return c.json({
      runId: id,
      running: run.status === 'running',
      lines: (log?.lines ?? []).filter((l) => l.seq > after),
      dropped: log?.dropped ?? 0,
      updatedAt: log?.updatedAt ?? null,
    });
  });
  app.post('/api/runs/:id/cancel', async (c) => {
    const id = runIdParam(c.req.param('id'));
    const result = await scheduler.cancel(id);
    if (result === 'not-running') throw new HttpError(409, HttpErrorCode.RunNotRunning, `run "${id}" is not running; only running runs can be cancelled`);
    status.invalidate();
    await audit(c, 'cancel', { task: (await scheduler.getRun(id))?.task ?? null, runId: id });
    return c.json({ result }, 202);
  });
  app.post('/api/runs/:id/retry', async (c) => {
    const id = runIdParam(c.req.param('id'));
    const run = await scheduler.getRun(id);
    if (run === null) throw runNotFound(id);
    // As for trigger: only a task this scheduler knows (a retry of a task nobody runs would wait for ever).
    registered(run.task);
    const runId = await scheduler.retry(id);
    status.invalidate(run.task);
    await audit(c, 'retry', { task: run.task, runId, detail: { retryOf: id } });
    return c.json({ runId, task: run.task, retryOf: id }, 202);
  });
  app.get('/api/audit', async (c) => {
    const q = c.req.query();
    const paging = pageQuery(q, ['task']);
    if (paging.cursor !== undefined && !/^[0-9a-f-]{36}$/i.test(paging.cursor)) throw invalid('cursor', paging.cursor, 'pass the nextCursor of a previous page unchanged');
    const page = await scheduler.store.listAudit({
      ...paging,
      // A task no longer registered still has its history of changes.
      ...(q.task !== undefined && q.task !== '' ? { task: q.task } : {}),
    });
    return c.json(page);
  });
  // Alerts (notify): each event per channel, with how its delivery went, newest first.
  app.get('/api/notifications', async (c) => {
    const q = c.req.query();
    const paging = pageQuery(q, ['task', 'status']);
    if (paging.cursor !== undefined && !/^[0-9a-f-]{36}$/i.test(paging.cursor)) throw invalid('cursor', paging.cursor, 'pass the nextCursor of a previous page unchanged');
    const status = q.status === undefined || q.status === '' ? undefined : q.status;
    if (status !== undefined && !(NOTIFICATION_STATUSES as readonly string[]).includes(status)) throw invalid('status', status, `use one of ${NOTIFICATION_STATUSES.join(', ')}`);
    // A custom store written before alerts has none to list.
    if (typeof scheduler.store.listNotifications !== 'function') return c.json({ notifications: [], nextCursor: null });
    const page = await scheduler.store.listNotifications({
      ...paging,
      ...(q.task !== undefined && q.task !== '' ? { task: q.task } : {}),
      ...(status !== undefined ? { status: status as NotificationStatus } : {}),
    });
    return c.json(page);
  });
  app.get('/api/events', (c) => streams.respond(c));

  app.get('/metrics', async (c) => c.body(await metrics.text(), 200, { 'Content-Type': metrics.registry.contentType }));
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const store = await probeStore(scheduler);
    const running = scheduler.state === 'running';
    const stale = store === 'ok' ? (await status.all()).filter((s) => s.stale).map((s) => s.info.name) : [];
    const ready = store === 'ok' && running && stale.length === 0;
    return c.json({ status: ready ? 'ready' : 'not-ready', checks: { store, scheduler: scheduler.state, stale } }, ready ? 200 : 503);
  });

  // The dashboard's URLs are relative: under a prefix, its page must end in a slash.
  if (base !== '') app.get('/', (c) => c.redirect(`${base}/`, 308));
  if (dashboard !== null) app.get('*', (c) => serveAsset(c.req.path, dashboard) ?? c.notFound());
  else if (options.dashboard !== false) {
    app.get('/', (c) => c.text('The dashboard has not been built: run `npm run build` (the API is up: see /api/tasks).', 503));
  }

  return {
    app,
    fetch: (request, env) => app.fetch(request, env),
    metrics,
    endStreams: () => streams.close(),
    close: () => {
      for (const off of offRuns) off();
      streams.close();
      events.close();
      metrics.close();
    },
  };
}

const runNotFound = (id: string) => new HttpError(404, ErrorCode.RunNotFound, `no run with id ${describeValue(id)}`);

/** A backfill id from the URL: as for runs, an id with a control character is unknown. */
function backfillIdParam(id: string): string {
  if (/[\u0000-\u001f\u007f]/.test(id)) throw new BackfillNotFoundError(id);
  return id;
}

/**
 * A run id from the URL. No run id holds a control character, and PostgreSQL cannot even
 * compare text with a NUL byte in it (the query fails, which was a 500): such an id is 404
 * without asking the store.
 */
function runIdParam(id: string): string {
  if (/[\u0000-\u001f\u007f]/.test(id)) throw runNotFound(id);
  return id;
}

/** 'ok', or why the store did not answer a one-row read within {@link STORE_PROBE_MS}. */
async function probeStore(scheduler: Scheduler): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      scheduler.historyPage({ limit: 1 }),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${STORE_PROBE_MS} ms`)), STORE_PROBE_MS);
      }),
    ]);
    return 'ok';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The dashboard file for a request path, wherever the API is mounted: the part from `/assets/`
 * on, or the last segment, names the file; a path ending in `/` is the page itself.
 */
function serveAsset(path: string, assets: ReadonlyMap<string, Asset>): Response | null {
  const at = path.lastIndexOf('/assets/');
  const key = path.endsWith('/') ? '/index.html' : at >= 0 ? path.slice(at) : path.slice(path.lastIndexOf('/'));
  const asset = assets.get(key);
  if (asset === undefined) return null;
  return new Response(asset.body, {
    headers: {
      'Content-Type': asset.type,
      'Cache-Control': asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      'X-Content-Type-Options': 'nosniff',
    },
  });
}
