/** Types of docs/http-api.md, relative fetch helpers, the token, and a tiny bus for live events. */

export type RunStatus =
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'timed_out'
  | 'cancelled'
  | 'interrupted'
  | 'skipped';

export const RUN_STATUSES: RunStatus[] = [
  'running',
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'interrupted',
  'skipped',
];

export interface RunError {
  message: string;
  stack?: string | null;
  code?: string | null;
}

export interface RunJson {
  id: string;
  task: string;
  trigger: string;
  scheduledFor: string;
  dueAt?: string | null;
  startedAt?: string | null;
  finishedAt?: string | null;
  status: RunStatus;
  attempt: number;
  durationMs?: number | null;
  latenessMs?: number | null;
  output?: unknown;
  error?: RunError | null;
  instance?: string | null;
  skipReason?: string | null;
  skippedTicks?: number | null;
  progress?: { fraction: number | null; message?: string | null } | null;
  retryAt?: string | null;
  /** How long `defer` held the run for quiet time (apart from lateness). */
  deferredMs?: number | null;
  /** The run that caused this one (a retry's original, a dependency run's upstream run). */
  causedBy?: string | null;
}

export interface RecentRun {
  id: string;
  scheduledFor: string;
  status: RunStatus;
  durationMs: number | null;
}

export interface TaskView {
  name: string;
  description: string | null;
  schedule: Record<string, unknown>;
  scheduleText: string;
  paused: boolean;
  /** Why it was paused (null for no note, or when not paused). */
  pauseNote: string | null;
  pausedAt: string | null;
  nextRunAt: string | null;
  lastRun: RunJson | null;
  lastSuccessAt: string | null;
  stale: boolean;
  running: RunJson[];
  timeoutMs: number | null;
  staleAfterMs: number | null;
  overlap: string;
  priority: number;
  recent: RecentRun[];
  overrides?: TaskOverridesJson | null;
  settings?: TaskSettings;
  /** The tasks whose ends start this one (`after`). */
  after?: { upstreams: { task: string; on: string }[]; mode: 'all' | 'any' } | null;
  /** The tasks that run after this one. */
  downstream?: string[];
  hasCondition?: boolean;
  /** Ticks among `recent` whose last attempt ended, and how many of them succeeded (retries included). */
  ticks: { finished: number; succeeded: number };
  successRate: number | null;
}

/** A task's effective run settings (ms; null for unlimited or unset). */
export interface TaskSettings {
  timeoutMs: number | null;
  retry: { attempts: number; backoffMs: number; maxBackoffMs: number; factor: number };
  overlap: string;
  maxConcurrent: number | null;
  catchUp: string;
  catchUpWindowMs: number | null;
  catchUpLimit: number;
  priority: number;
  jitterMs: number;
  staleAfterMs: number | null;
  /** `defer`: held for quiet time; null for none. */
  defer?: {
    lagAboveMs: number | null;
    cpuAbove: number | null;
    memoryFractionAbove: number | null;
    rssAboveBytes: number | null;
    busy: boolean;
    maxDelayMs: number;
    then: 'run' | 'skip';
    checkEveryMs: number;
  } | null;
}

/** `GET /api/tasks/:name`: the list's view plus what the task page shows. */
export interface TaskDetail extends TaskView {
  settings: TaskSettings;
  overrides: TaskOverridesJson | null;
  upcoming: string[];
}

/** Options changed at run time over the definition, by whom and when. */
export interface TaskOverridesJson {
  fields: Record<string, unknown>;
  by: string;
  at: string;
  /** False when the definition no longer takes them (`problem` says why). */
  applied?: boolean;
  problem?: string | null;
}

export interface StatsBucket {
  start: string;
  outcomes: Record<RunStatus, number>;
  durations: { count: number; p50: number; p95: number; max: number } | null;
  field: { count: number; sum: number; min: number; max: number } | null;
}

export interface StatsJson {
  task: string;
  from: string;
  to: string;
  bucketMs: number;
  field: string | null;
  buckets: StatsBucket[];
  points: { runId: string; scheduledFor: string; durationMs: number; status: RunStatus }[];
  pointsOmitted: number;
}

export interface LogLineJson {
  seq: number;
  at: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: unknown;
}

/** `GET /api/runs/:id/logs`. */
export interface RunLogJson {
  runId: string;
  running: boolean;
  lines: LogLineJson[];
  dropped: number;
}

/** One recorded change (`GET /api/audit`). */
export interface AuditEntryJson {
  id: string;
  at: string;
  actor: string;
  source: 'api' | 'cli';
  action: string;
  task: string | null;
  runId: string | null;
  detail: unknown;
}

export interface Info {
  instance: string;
  version: string;
  store: string;
  authRequired: boolean;
  now: string;
}

export interface RunsPage {
  runs: RunJson[];
  nextCursor: string | null;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  constructor(status: number, message: string, code?: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const TOKEN_KEY = 'caretaker.token';

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage unavailable: the token lives until reload only */
  }
}

async function request<T>(path: string, init?: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers: { accept: 'application/json', ...init?.headers } });
  } catch (err) {
    throw new ApiError(0, `Cannot reach the API (${(err as Error).message})`);
  }
  let body: unknown = null;
  const text = await res.text();
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!res.ok) {
    const error = (body as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(res.status, error?.message ?? `${res.status} ${res.statusText}`, error?.code);
  }
  return body as T;
}

/** A backfill as the API serves it. */
export interface BackfillJson {
  id: string;
  task: string;
  from: string;
  to: string;
  status: 'running' | 'done' | 'cancelled';
  requestedBy: string;
  requestedAt: string;
  endedAt: string | null;
  progress: { total: number; pending: number; running: number; succeeded: number; failed: number; cancelled: number; skipped: number };
}

/** An alert for one channel, with how its delivery went. */
export interface NotificationJson {
  id: string;
  eventId: string;
  channel: string;
  kind: string;
  task: string;
  event: { message?: string; run?: { id?: string } | null };
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAt: string | null;
  claimedBy: string | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

/** Paths are relative (`api/tasks`), so the app works when the API is mounted under a prefix. */
export const api = {
  info: () => request<Info>('api/info'),
  tasks: () => request<{ tasks: TaskView[] }>('api/tasks'),
  task: async (name: string) => {
    const body = await request<{ task?: TaskDetail }>(`api/tasks/${encodeURIComponent(name)}`);
    // A name such as "." or ".." is normalised out of the URL: the answer is then not a task.
    if (body?.task?.name !== name) throw new ApiError(404, `no task named "${name}"`, 'ERR_TASK_NOT_FOUND');
    return { task: body.task };
  },
  stats: (name: string, q: { from: string; bucket: string; field?: string | null }) => {
    const params = new URLSearchParams({ from: q.from, bucket: q.bucket });
    if (q.field) params.set('field', q.field);
    return request<{ stats: StatsJson; fields: string[] }>(`api/tasks/${encodeURIComponent(name)}/stats?${params}`);
  },
  notifications: (q: { task?: string; status?: string; cursor?: string | null }) => {
    const params = new URLSearchParams({ limit: '50' });
    if (q.task) params.set('task', q.task);
    if (q.status) params.set('status', q.status);
    if (q.cursor) params.set('cursor', q.cursor);
    return request<{ notifications: NotificationJson[]; nextCursor: string | null }>(`api/notifications?${params}`);
  },
  backfills: (task: string) => request<{ backfills: BackfillJson[] }>(`api/tasks/${encodeURIComponent(task)}/backfills?limit=10`),
  run: (id: string) => request<{ run: RunJson }>(`api/runs/${encodeURIComponent(id)}`),
  audit: (task: string, limit = 20) => request<{ entries: AuditEntryJson[]; nextCursor: string | null }>(`api/audit?task=${encodeURIComponent(task)}&limit=${limit}`),
  runLogs: (id: string, after = 0) => request<RunLogJson>(`api/runs/${encodeURIComponent(id)}/logs${after > 0 ? `?after=${after}` : ''}`),
  runs: (q: { task?: string; status?: string; limit?: number; cursor?: string | null }) => {
    const params = new URLSearchParams();
    if (q.task) params.set('task', q.task);
    if (q.status) params.set('status', q.status);
    if (q.limit) params.set('limit', String(q.limit));
    if (q.cursor) params.set('cursor', q.cursor);
    const qs = params.toString();
    return request<RunsPage>(qs ? `api/runs?${qs}` : 'api/runs');
  },
  post<T>(path: string, body: Record<string, unknown> = {}): Promise<T> {
    return api.send<T>('POST', path, body);
  },
  /** A mutation with the token, if one is set. */
  send<T>(method: 'POST' | 'PATCH' | 'DELETE', path: string, body?: Record<string, unknown>): Promise<T> {
    const token = getToken();
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    return request<T>(path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  },
};

export const taskPath = (name: string, action: 'trigger' | 'pause' | 'resume') =>
  `api/tasks/${encodeURIComponent(name)}/${action}`;
export const cancelPath = (runId: string) => `api/runs/${encodeURIComponent(runId)}/cancel`;
export const retryPath = (runId: string) => `api/runs/${encodeURIComponent(runId)}/retry`;
export const backfillPath = (task: string) => `api/tasks/${encodeURIComponent(task)}/backfill`;
export const cancelBackfillPath = (id: string) => `api/backfills/${encodeURIComponent(id)}/cancel`;

/** Live events, re-published to the views that care (history, run detail). */
export type LiveEvent =
  | { type: 'run'; name: 'run:started' | 'run:finished' | 'tick:skipped'; run: RunJson }
  | { type: 'progress'; runId: string; task: string; fraction: number | null; message: string | null }
  | { type: 'log'; runId: string; lines: LogLineJson[] }
  | { type: 'reset' };

const listeners = new Set<(e: LiveEvent) => void>();
export function onLive(fn: (e: LiveEvent) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
export function emitLive(e: LiveEvent): void {
  for (const fn of listeners) fn(e);
}
