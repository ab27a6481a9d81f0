/** Run history with task and status filters, "load more" through nextCursor, and live updates. */
import { useEffect, useState } from 'preact/hooks';
import { usePages } from './paging.ts';
import { RUN_STATUSES, api, onLive, type RunJson } from './api.ts';
import { fmtDuration, fmtTime } from './format.ts';
import { FilterSelect, StatusBadge } from './ui.tsx';

const PAGE = 50;

export interface HistoryFilters {
  task: string;
  status: string;
}

export function History(props: {
  taskNames: string[];
  initial: HistoryFilters;
  openRun: (id: string) => void;
}) {
  const [task, setTask] = useState(props.initial.task);
  const [status, setStatus] = useState(props.initial.status);
  const { items: runs, setItems: setRuns, cursor, loading, error, load, pages } = usePages<RunJson>(async (from) => {
    const page = await api.runs({ task, status, limit: PAGE, cursor: from });
    return { items: page.runs, nextCursor: page.nextCursor };
  });

  useEffect(() => {
    const params = new URLSearchParams();
    if (task) params.set('task', task);
    if (status) params.set('status', status);
    const qs = params.toString();
    history.replaceState(null, '', `#/history${qs ? `?${qs}` : ''}`);
    void load(null);
  }, [task, status]);

  // runs of other replicas are not in this instance's events: refresh the first page now and then
  useEffect(() => {
    const id = setInterval(() => {
      if (pages.current === 1 && !document.hidden) void load(null, true);
    }, 10_000);
    return () => clearInterval(id);
  }, [task, status]);

  useEffect(
    () =>
      onLive((e) => {
        if (e.type === 'reset') {
          void load(null, pages.current === 1);
          return;
        }
        if (e.type !== 'run') return;
        const run = e.run;
        setRuns((old) => {
          const i = old.findIndex((r) => r.id === run.id);
          if (i >= 0) return old.map((r) => (r.id === run.id ? run : r));
          if ((task && run.task !== task) || (status && run.status !== status)) return old;
          return [run, ...old];
        });
      }),
    [task, status],
  );

  const names = props.taskNames.includes(task) || !task ? props.taskNames : [task, ...props.taskNames];

  return (
    <section aria-labelledby="history-title">
      <div class="page-head">
        <h1 id="history-title" tabIndex={-1}>
          History
        </h1>
        <form class="filters" onSubmit={(e) => e.preventDefault()}>
          <FilterSelect label="Task" name="task" value={task} any="All tasks" options={names} onChange={setTask} />
          <FilterSelect label="Status" name="status" value={status} any="Any status" options={RUN_STATUSES} onChange={setStatus} text={(s) => s.replace(/_/g, ' ')} />
          <button type="button" class="btn" onClick={() => void load(null)} disabled={loading}>
            Refresh
          </button>
        </form>
      </div>

      {error && (
        <p class="notice bad" role="alert">
          Could not load runs: {error}
        </p>
      )}

      {runs.length === 0 && !loading && !error ? (
        <p class="empty-state">No runs match these filters.</p>
      ) : (
        <table class="runs" role="table" aria-busy={loading}>
          <thead role="rowgroup">
            <tr role="row">
              <th role="columnheader" scope="col">Status</th>
              <th role="columnheader" scope="col">Task</th>
              <th role="columnheader" scope="col">Scheduled for</th>
              <th role="columnheader" scope="col">Trigger</th>
              <th role="columnheader" scope="col">Duration</th>
              <th role="columnheader" scope="col">Details</th>
            </tr>
          </thead>
          <tbody role="rowgroup">
            {runs.map((r) => (
              <tr
                role="row"
                key={r.id}
                data-run-row={r.id}
                onClick={(e) => {
                  if (!(e.target as HTMLElement).closest('button, a')) props.openRun(r.id);
                }}
              >
                <td role="cell" class="r-status">
                  <StatusBadge status={r.status} field />
                </td>
                <td role="cell" class="r-task">
                  {r.task}
                </td>
                <td role="cell" class="r-time" data-label="Scheduled">
                  <button
                    type="button"
                    class="link"
                    data-action="open"
                    aria-label={`Open run ${r.id} of ${r.task}, scheduled ${fmtTime(r.scheduledFor)}`}
                    onClick={() => props.openRun(r.id)}
                  >
                    <time dateTime={r.scheduledFor}>{fmtTime(r.scheduledFor)}</time>
                  </button>
                </td>
                <td role="cell" class="r-trigger" data-label="Trigger">
                  {r.trigger}
                  {r.attempt > 1 ? ` · attempt ${r.attempt}` : ''}
                </td>
                <td role="cell" class="r-duration num" data-label="Duration">
                  {r.status === 'running' ? 'running' : fmtDuration(r.durationMs)}
                </td>
                <td role="cell" class="r-note">
                  <span class="note">
                    {r.error?.message ??
                      (r.status === 'skipped' ? `skipped: ${r.skipReason ?? '—'}` : (r.instance ?? ''))}
                  </span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <div class="more">
        {loading && <span class="sub">Loading…</span>}
        {!loading && cursor && (
          <button type="button" class="btn" data-action="more" onClick={() => void load(cursor)}>
            Load more
          </button>
        )}
        {!loading && !cursor && runs.length > 0 && <span class="sub">End of history · {runs.length} runs</span>}
      </div>
    </section>
  );
}
