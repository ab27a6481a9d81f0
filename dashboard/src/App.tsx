/** The shell: data loading, live events, mutations with the token prompt, routing by hash. */
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import {
  ApiError,
  api,
  cancelPath,
  retryPath,
  backfillPath,
  cancelBackfillPath,
  emitLive,
  getToken,
  setToken,
  taskPath,
  type Info,
  type LogLineJson,
  type RunJson,
  type TaskView,
} from './api.ts';
import { PauseDialog, RunDialog, TokenDialog } from './Dialogs.tsx';
import { Alerts } from './Alerts.tsx';
import { History } from './History.tsx';
import { TaskPage } from './TaskPage.tsx';
import { TaskTable, liveStatus, type TaskActions } from './Tasks.tsx';
import { useColorScheme } from './ui.tsx';

type Conn = 'connecting' | 'live' | 'reconnecting' | 'offline';
type Route = { page: 'tasks' | 'history' | 'task' | 'alerts'; query: string; task?: string };

const POLL_MS = 10_000;
const BAD = new Set(['failed', 'timed_out', 'interrupted']);
const TASK_EVENTS = ['task:paused', 'task:resumed', 'task:added', 'task:updated', 'task:removed'] as const;

function parseRoute(): Route {
  const [path = '', query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const task = /^tasks\/(.+)$/.exec(path)?.[1];
  if (task !== undefined) {
    try {
      return { page: 'task', query, task: decodeURIComponent(task) };
    } catch {
      // A malformed escape in a hand-typed URL: show the list.
    }
  }
  return { page: path === 'history' ? 'history' : path === 'alerts' ? 'alerts' : 'tasks', query };
}

function parse<T>(e: Event): T | null {
  try {
    return JSON.parse((e as MessageEvent<string>).data) as T;
  } catch {
    return null;
  }
}

function upsertTask(tasks: TaskView[] | null, name: string, fn: (t: TaskView) => TaskView): TaskView[] | null {
  if (!tasks) return tasks;
  return tasks.map((t) => (t.name === name ? fn(t) : t));
}

export function App() {
  const [route, setRoute] = useState<Route>(parseRoute);
  const [info, setInfo] = useState<Info | null>(null);
  const [tasks, setTasks] = useState<TaskView[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [conn, setConn] = useState<Conn>('connecting');
  const [now, setNow] = useState(() => Date.now());
  const [busy, setBusy] = useState<ReadonlySet<string>>(new Set());
  const [cancelling, setCancelling] = useState<ReadonlySet<string>>(new Set());
  const [openRun, setOpenRun] = useState<string | null>(null);
  /** The task whose Pause asks for a note. */
  const [pausing, setPausing] = useState<string | null>(null);
  const [tokenPrompt, setTokenPrompt] = useState<{ rejected: boolean } | null>(null);
  const [announce, setAnnounce] = useState<{ id: number; text: string } | null>(null);
  const [toast, setToast] = useState<{ id: number; kind: 'ok' | 'bad'; text: string } | null>(null);
  const scheme = useColorScheme();

  const offset = useRef(0); // server clock minus ours, from api/info
  const tasksRef = useRef<TaskView[] | null>(null);
  tasksRef.current = tasks;
  const fetchSeq = useRef(0);
  const refreshTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const pendingRetry = useRef<(() => void) | null>(null);
  const counter = useRef(0);
  const heading = useRef<HTMLDivElement>(null);

  const say = useCallback((text: string) => setAnnounce({ id: ++counter.current, text }), []);
  const showToast = useCallback((kind: 'ok' | 'bad', text: string) => {
    setToast({ id: ++counter.current, kind, text });
  }, []);

  const refreshTasks = useCallback(async () => {
    const mine = ++fetchSeq.current;
    try {
      const body = await api.tasks();
      if (mine !== fetchSeq.current) return; // a newer request is under way
      setTasks(body.tasks);
      setLoadError(null);
    } catch (err) {
      if (mine === fetchSeq.current) setLoadError((err as Error).message);
    }
  }, []);

  const refreshInfo = useCallback(async () => {
    const t0 = Date.now();
    try {
      const i = await api.info();
      const server = Date.parse(i.now);
      if (!Number.isNaN(server)) offset.current = server - (t0 + Date.now()) / 2;
      setInfo(i);
    } catch {
      /* the task list shows the outage */
    }
  }, []);

  /** Coalesces the refetches that bursts of events ask for. */
  const scheduleRefresh = useCallback(() => {
    if (refreshTimer.current) return;
    refreshTimer.current = setTimeout(() => {
      refreshTimer.current = null;
      void refreshTasks();
    }, 250);
  }, [refreshTasks]);

  // routing
  useEffect(() => {
    const on = () => {
      setRoute(parseRoute());
      requestAnimationFrame(() => heading.current?.querySelector('h1')?.focus());
    };
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);

  // clock for countdowns
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now() + offset.current), 1000);
    return () => clearInterval(id);
  }, []);

  // first load and polling: runs on other replicas are not in this instance's events
  useEffect(() => {
    void refreshInfo().then(() => setNow(Date.now() + offset.current));
    void refreshTasks();
    const id = setInterval(() => void refreshTasks(), POLL_MS);
    return () => clearInterval(id);
  }, [refreshInfo, refreshTasks]);

  // toasts fade by themselves, errors stay longer
  useEffect(() => {
    if (!toast) return undefined;
    const id = setTimeout(() => setToast(null), toast.kind === 'ok' ? 4000 : 10_000);
    return () => clearTimeout(id);
  }, [toast]);

  // live events
  useEffect(() => {
    let es: EventSource | null = null;
    let retry: ReturnType<typeof setTimeout> | null = null;
    let closed = false;

    const onRun = (name: 'run:started' | 'run:finished' | 'tick:skipped') => (e: Event) => {
      const run = parse<RunJson>(e);
      if (!run?.task) return;
      const before = tasksRef.current?.find((t) => t.name === run.task);
      setTasks((ts) =>
        upsertTask(ts, run.task, (t) => {
          const running = t.running.filter((r) => r.id !== run.id);
          if (name === 'run:started') running.push(run);
          const recent =
            name === 'run:finished'
              ? [
                  ...t.recent.filter((r) => r.id !== run.id),
                  { id: run.id, scheduledFor: run.scheduledFor, status: run.status, durationMs: run.durationMs ?? null },
                ].slice(-50)
              : t.recent;
          return { ...t, running, recent, lastRun: run };
        }),
      );
      if (name === 'run:finished') {
        setCancelling((s) => {
          if (!s.has(run.id)) return s;
          const n = new Set(s);
          n.delete(run.id);
          return n;
        });
        const prev = before ? (before.lastRun?.status === 'running' ? null : before.lastRun?.status) : null;
        if (run.status !== prev || BAD.has(run.status)) {
          say(`${run.task}: ${run.status.replace(/_/g, ' ')}${run.retryAt ? ', retry scheduled' : ''}`);
        }
      } else if (name === 'run:started' && run.trigger === 'manual') {
        say(`${run.task}: running`);
      }
      emitLive({ type: 'run', name, run });
      scheduleRefresh();
    };

    const onProgress = (e: Event) => {
      const p = parse<{ runId: string; task: string; fraction: number | null; message?: string | null }>(e);
      if (!p?.runId) return;
      const progress = { fraction: p.fraction, message: p.message ?? null };
      setTasks((ts) =>
        upsertTask(ts, p.task, (t) => ({
          ...t,
          running: t.running.map((r) => (r.id === p.runId ? { ...r, progress } : r)),
        })),
      );
      emitLive({ type: 'progress', runId: p.runId, task: p.task, fraction: p.fraction, message: progress.message });
    };

    const onTask = (name: (typeof TASK_EVENTS)[number]) => (e: Event) => {
      const d = parse<{ task?: string | { name?: string }; name?: string }>(e);
      const taskName = typeof d?.task === 'string' ? d.task : (d?.task?.name ?? d?.name);
      if (taskName && (name === 'task:paused' || name === 'task:resumed')) {
        const paused = name === 'task:paused';
        const note = paused ? ((d as { note?: unknown }).note ?? null) : null;
        setTasks((ts) => upsertTask(ts, taskName, (t) => ({ ...t, paused, pauseNote: typeof note === 'string' ? note : null })));
        say(`${taskName}: ${paused ? 'paused' : 'resumed'}`);
      }
      if (taskName && name === 'task:removed') setTasks((ts) => ts && ts.filter((t) => t.name !== taskName));
      scheduleRefresh();
    };

    const connect = () => {
      setConn('connecting');
      const source = new EventSource('api/events');
      es = source;
      source.onopen = () => {
        setConn('live');
        scheduleRefresh(); // whatever happened while we were not listening
      };
      source.onerror = () => {
        if (source.readyState === EventSource.CLOSED) {
          // the browser gave up (e.g. an HTTP error): start over, without Last-Event-ID, so refetch
          setConn('offline');
          source.close();
          if (!closed)
            retry = setTimeout(() => {
              connect();
              void refreshInfo();
            }, 5000);
        } else {
          setConn('reconnecting'); // the browser retries by itself and sends Last-Event-ID
        }
      };
      for (const n of ['run:started', 'run:finished', 'tick:skipped'] as const) source.addEventListener(n, onRun(n));
      source.addEventListener('run:progress', onProgress);
      source.addEventListener('run:log', (e) => {
        const d = parse<{ runId?: string; lines?: LogLineJson[] }>(e);
        if (d?.runId && Array.isArray(d.lines)) emitLive({ type: 'log', runId: d.runId, lines: d.lines });
      });
      for (const n of TASK_EVENTS) source.addEventListener(n, onTask(n));
      source.addEventListener('reset', () => {
        void refreshInfo();
        void refreshTasks();
        emitLive({ type: 'reset' });
      });
    };
    connect();
    return () => {
      closed = true;
      if (retry) clearTimeout(retry);
      es?.close();
    };
  }, [refreshInfo, refreshTasks, scheduleRefresh, say]);

  /** A POST; on 401 asks for the token and retries once it is given. */
  const mutate = useCallback(
    async <T,>(key: string, path: string, what: string, onOk: (body: T) => void, body: Record<string, unknown> = {}, method: 'POST' | 'PATCH' | 'DELETE' = 'POST'): Promise<boolean> => {
      setBusy((s) => new Set(s).add(key));
      try {
        onOk(await api.send<T>(method, path, method === 'DELETE' ? undefined : body));
        return true;
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) {
          pendingRetry.current = () => void mutate(key, path, what, onOk, body, method);
          setTokenPrompt({ rejected: getToken() != null });
        } else if (err instanceof ApiError && err.code === 'ERR_RUN_NOT_RUNNING') {
          showToast('bad', `${what}: the run is no longer running.`);
          scheduleRefresh();
        } else {
          showToast('bad', `${what} failed: ${(err as Error).message}`);
          say(`${what} failed`);
        }
        return false;
      } finally {
        setBusy((s) => {
          const n = new Set(s);
          n.delete(key);
          return n;
        });
      }
    },
    [say, scheduleRefresh, showToast],
  );

  /** Pauses (with its note) or resumes a task. */
  const setPaused = useCallback(
    (name: string, paused: boolean, note: string | null) =>
      mutate<{ task: TaskView }>(
        `pause:${name}`,
        taskPath(name, paused ? 'pause' : 'resume'),
        `${paused ? 'Pause' : 'Resume'} ${name}`,
        (body) => {
          if (body?.task) setTasks((ts) => upsertTask(ts, name, () => body.task));
          else scheduleRefresh();
          say(`${name}: ${paused ? 'paused' : 'resumed'}`);
        },
        paused && note !== null ? { note } : {},
      ),
    [mutate, say, scheduleRefresh],
  );

  const actions: TaskActions = useMemo(
    () => ({
      run: (task) =>
        mutate<{ runId: string }>(`run:${task.name}`, taskPath(task.name, 'trigger'), `Run ${task.name}`, () => {
          showToast('ok', `${task.name}: run requested`);
          say(`${task.name}: run requested`);
          scheduleRefresh();
        }),
      togglePause: (task) => {
        // Pausing asks why first (the note is optional); resuming needs no question.
        if (!task.paused) {
          setPausing(task.name);
          return;
        }
        return setPaused(task.name, false, null);
      },
      cancel: (run) =>
        mutate(`cancel:${run.id}`, cancelPath(run.id), `Cancel ${run.task}`, () => {
          setCancelling((s) => new Set(s).add(run.id));
          say(`${run.task}: cancel requested`);
          scheduleRefresh();
        }),
      retry: (run) =>
        mutate<{ runId: string }>(`retry:${run.id}`, retryPath(run.id), `Retry ${run.task}`, (body) => {
          showToast('ok', `${run.task}: retry requested as run ${body.runId}`);
          say(`${run.task}: retry requested`);
          scheduleRefresh();
        }),
      openRun: (id) => setOpenRun(id),
      edit: (task, patch) =>
        mutate<{ task: TaskView }>(`edit:${task.name}`, `api/tasks/${encodeURIComponent(task.name)}`, `Change ${task.name}`, (body) => {
          if (body?.task) setTasks((ts) => upsertTask(ts, task.name, () => body.task));
          showToast('ok', `${task.name}: changed`);
          say(`${task.name}: changed`);
        }, patch, 'PATCH'),
      resetOverrides: (task) =>
        mutate<{ task: TaskView }>(`edit:${task.name}`, `api/tasks/${encodeURIComponent(task.name)}/overrides`, `Reset ${task.name}`, (body) => {
          if (body?.task) setTasks((ts) => upsertTask(ts, task.name, () => body.task));
          showToast('ok', `${task.name}: back to its definition`);
          say(`${task.name}: back to its definition`);
        }, {}, 'DELETE'),
      backfill: (task, from, to) =>
        mutate<{ backfill: { id: string; progress: { total: number } } }>(`backfill:${task.name}`, backfillPath(task.name), `Backfill ${task.name}`, (body) => {
          showToast('ok', `${task.name}: backfill of ${body.backfill.progress.total} instants requested`);
          say(`${task.name}: backfill requested`);
          scheduleRefresh();
        }, { from, to }),
      cancelBackfill: (task, id) =>
        mutate(`backfill:${task.name}`, cancelBackfillPath(id), `Cancel the backfill of ${task.name}`, () => {
          showToast('ok', `${task.name}: backfill cancelled`);
          say(`${task.name}: backfill cancelled`);
          scheduleRefresh();
        }),
    }),
    [mutate, say, scheduleRefresh, setPaused, showToast],
  );

  useEffect(() => {
    const failing = tasks?.filter((t) => BAD.has(liveStatus(t))).length ?? 0;
    document.title = failing ? `(${failing} failing) Caretaker` : 'Caretaker';
  }, [tasks]);

  const counts = useMemo(() => {
    const list = tasks ?? [];
    const statuses = list.map(liveStatus);
    return {
      total: list.length,
      running: statuses.filter((s) => s === 'running').length,
      failing: statuses.filter((s) => BAD.has(s)).length,
      paused: list.filter((t) => t.paused).length,
    };
  }, [tasks]);

  const historyInitial = useMemo(() => {
    const q = new URLSearchParams(route.query);
    return { task: q.get('task') ?? '', status: q.get('status') ?? '' };
  }, [route.query]);

  const connText: Record<Conn, string> = {
    connecting: 'Connecting…',
    live: 'Live',
    reconnecting: 'Reconnecting…',
    offline: 'Offline',
  };

  return (
    <>
      <header class="topbar">
        <div class="brand">
          <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
            <circle cx="12" cy="12" r="9" fill="none" stroke="currentColor" stroke-width="2" />
            <path d="M12 7v5l3 2" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" />
          </svg>
          <span>Caretaker</span>
        </div>
        <nav aria-label="Views" class="tabs">
          <a href="#/" aria-current={route.page === 'tasks' || route.page === 'task' ? 'page' : undefined}>
            Tasks
          </a>
          <a href="#/history" aria-current={route.page === 'history' ? 'page' : undefined}>
            History
          </a>
          <a href="#/alerts" aria-current={route.page === 'alerts' ? 'page' : undefined}>
            Alerts
          </a>
        </nav>
        <div class="meta">
          <span class={`conn conn-${conn}`} title="Live updates from this instance">
            <span class="dot" aria-hidden="true" />
            {connText[conn]}
          </span>
          {info && (
            <span class="instance" title={`instance ${info.instance} · store ${info.store}`}>
              {info.instance} · {info.store} · v{info.version}
            </span>
          )}
          {info?.authRequired && (
            <button type="button" class="btn small" onClick={() => setTokenPrompt({ rejected: false })}>
              {getToken() ? 'Token set' : 'Set token'}
            </button>
          )}
        </div>
      </header>

      <main id="main">
        <div ref={heading}>
          {route.page === 'tasks' ? (
            <section aria-labelledby="tasks-title">
              <div class="page-head">
                <h1 id="tasks-title" tabIndex={-1}>
                  Tasks
                </h1>
                {tasks && (
                  <p class="summary">
                    <span>{counts.total} tasks</span>
                    {counts.running > 0 && <span class="s-running">{counts.running} running</span>}
                    {counts.failing > 0 && <span class="s-bad">{counts.failing} failing</span>}
                    {counts.paused > 0 && <span class="s-muted">{counts.paused} paused</span>}
                  </p>
                )}
              </div>
              {loadError && (
                <p class="notice bad" role="alert">
                  Cannot load tasks: {loadError}{' '}
                  <button type="button" class="btn small" onClick={() => void refreshTasks()}>
                    Retry
                  </button>
                </p>
              )}
              {!tasks && !loadError && <p class="sub">Loading tasks…</p>}
              {tasks && tasks.length === 0 && <p class="empty-state">No tasks are registered.</p>}
              {tasks && tasks.length > 0 && (
                <TaskTable
                  tasks={tasks}
                  now={now}
                  scheme={scheme}
                  busy={busy}
                  cancelling={cancelling}
                  actions={actions}
                />
              )}
            </section>
          ) : route.page === 'task' && route.task !== undefined ? (
            <TaskPage
              key={route.task}
              name={route.task}
              live={tasks?.find((t) => t.name === route.task) ?? null}
              now={now}
              scheme={scheme}
              busy={busy}
              actions={actions}
            />
          ) : route.page === 'alerts' ? (
            <Alerts taskNames={(tasks ?? []).map((t) => t.name)} openRun={actions.openRun} />
          ) : (
            <History
              key={route.query}
              taskNames={(tasks ?? []).map((t) => t.name)}
              initial={historyInitial}
              openRun={actions.openRun}
            />
          )}
        </div>
      </main>

      <div class="visually-hidden" role="status" aria-live="polite" aria-atomic="true">
        {announce && <span key={announce.id}>{announce.text}</span>}
      </div>

      {toast && (
        <div class={`toast ${toast.kind}`} role={toast.kind === 'bad' ? 'alert' : undefined} key={toast.id}>
          <span>{toast.text}</span>
          <button type="button" class="icon-btn" aria-label="Dismiss" onClick={() => setToast(null)}>
            ×
          </button>
        </div>
      )}

      {openRun && (
        <RunDialog
          id={openRun}
          onClose={() => setOpenRun(null)}
          cancelling={cancelling.has(openRun) || busy.has(`cancel:${openRun}`)}
          onCancel={(run) => void actions.cancel(run)}
          retrying={busy.has(`retry:${openRun}`)}
          onRetry={(run) => void actions.retry(run)}
        />
      )}

      {pausing && (
        <PauseDialog
          task={pausing}
          onClose={() => setPausing(null)}
          onPause={(note) => {
            setPausing(null);
            void setPaused(pausing, true, note);
          }}
        />
      )}

      {tokenPrompt && (
        <TokenDialog
          rejected={tokenPrompt.rejected}
          hasToken={getToken() != null}
          onClose={() => {
            pendingRetry.current = null;
            setTokenPrompt(null);
          }}
          onForget={() => {
            setToken(null);
            pendingRetry.current = null;
            setTokenPrompt(null);
            say('Token forgotten');
          }}
          onSave={(token) => {
            setToken(token);
            setTokenPrompt(null);
            const retry = pendingRetry.current;
            pendingRetry.current = null;
            retry?.();
          }}
        />
      )}
    </>
  );
}
