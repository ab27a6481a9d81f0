/** Alerts (`notify`): each event per channel, newest first, with how its delivery went; refreshed every few seconds. */
import { useEffect, useState } from 'preact/hooks';
import { usePages } from './paging.ts';
import { api, type NotificationJson } from './api.ts';
import { fmtTime } from './format.ts';
import { FilterSelect, StatusBadge } from './ui.tsx';

const REFRESH_MS = 5_000;
const STATUSES = ['pending', 'delivered', 'failed'] as const;
const TONE = { pending: 'running', delivered: 'succeeded', failed: 'failed' } as const;

export function Alerts(props: { taskNames: string[]; openRun: (id: string) => void }) {
  const [task, setTask] = useState('');
  const [status, setStatus] = useState('');
  const { items, cursor, loading, error, load } = usePages<NotificationJson>(async (from) => {
    const page = await api.notifications({ task, status, cursor: from });
    return { items: page.notifications, nextCursor: page.nextCursor };
  });

  useEffect(() => {
    void load(null);
    const id = setInterval(() => {
      if (!document.hidden) void load(null, true);
    }, REFRESH_MS);
    return () => clearInterval(id);
  }, [task, status]);

  return (
    <section aria-labelledby="alerts-title">
      <div class="page-head">
        <h1 id="alerts-title" tabIndex={-1}>
          Alerts
        </h1>
        <form class="filters" onSubmit={(e) => e.preventDefault()}>
          <FilterSelect label="Task" name="task" value={task} any="All tasks" options={props.taskNames} onChange={setTask} />
          <FilterSelect label="Delivery" name="status" value={status} any="Any" options={STATUSES} onChange={setStatus} />
        </form>
      </div>
      {error && (
        <p class="notice bad" role="alert">
          Could not load alerts: {error}
        </p>
      )}
      {items.length === 0 && !loading && !error ? (
        <p class="empty-state">No alerts{task || status ? ' match these filters' : ' yet: they appear here when a task with notify rules fails, recovers, goes stale or misses ticks'}.</p>
      ) : (
        <table class="runs alerts" role="table" aria-busy={loading}>
          <thead role="rowgroup">
            <tr role="row">
              <th role="columnheader" scope="col">Delivery</th>
              <th role="columnheader" scope="col">Task</th>
              <th role="columnheader" scope="col">Event</th>
              <th role="columnheader" scope="col">Channel</th>
              <th role="columnheader" scope="col">When</th>
              <th role="columnheader" scope="col">Details</th>
            </tr>
          </thead>
          <tbody role="rowgroup">
            {items.map((n) => (
              <tr role="row" key={n.id} data-alert={n.eventId} data-channel={n.channel} data-status={n.status}>
                <td role="cell">
                  <StatusBadge status={n.status} tone={TONE[n.status]} />
                </td>
                <td role="cell">
                  <a href={`#/tasks/${encodeURIComponent(n.task)}`}>{n.task}</a>
                </td>
                <td role="cell" data-label="Event">
                  {n.kind}
                  {n.event.run?.id && (
                    <>
                      {' '}
                      <button type="button" class="link" onClick={() => props.openRun(n.event.run?.id as string)}>
                        run
                      </button>
                    </>
                  )}
                </td>
                <td role="cell" data-label="Channel">
                  {n.channel}
                </td>
                <td role="cell" data-label="When">
                  <time dateTime={n.createdAt}>{fmtTime(n.createdAt)}</time>
                </td>
                <td role="cell" class="r-note">
                  <span class="note" data-field="alert-detail">
                    {n.event.message ?? ''}
                    {n.status === 'delivered' && ` · delivered by ${n.claimedBy ?? '?'}${n.attempts > 1 ? ` on attempt ${n.attempts}` : ''}`}
                    {n.status === 'pending' && n.claimedBy !== null && ` · being delivered by ${n.claimedBy} (attempt ${n.attempts})`}
                    {n.status === 'pending' && n.claimedBy === null && n.lastError !== null && ` · the last attempt failed (${n.lastError}); next ${n.nextAttemptAt ? fmtTime(n.nextAttemptAt) : 'soon'}`}
                    {n.status === 'failed' && ` · gave up after ${n.attempts} attempts: ${n.lastError ?? ''}`}
                  </span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="more">
        {!loading && cursor && (
          <button type="button" class="btn" onClick={() => void load(cursor)}>
            Load more
          </button>
        )}
      </div>
    </section>
  );
}
