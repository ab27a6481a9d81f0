/** The task table (stacked cards on narrow screens). */
import type { RecentRun, RunJson, TaskView } from './api.ts';
import {
  BROWSER_ZONE,
  fmtAgo,
  fmtCountdown,
  fmtDuration,
  fmtInZone,
  fmtPercent,
  fmtSpan,
  fmtTime,
  fmtYourTime,
  runInstant,
} from './format.ts';
import { ProgressBar, Sparkline, StatusBadge } from './ui.tsx';

export interface TaskActions {
  run(task: TaskView): void;
  togglePause(task: TaskView): void;
  cancel(run: RunJson): void;
  /** Runs a finished run's tick again, as its next attempt. */
  retry(run: RunJson): void;
  openRun(id: string): void;
  /** Changes options of the task at run time (PATCH); resolves true when the change was taken. */
  edit(task: TaskView, patch: Record<string, unknown>): Promise<boolean>;
  /** Drops its run-time changes. */
  resetOverrides(task: TaskView): Promise<boolean>;
  /** Runs every instant of a past range (ISO instants); resolves true when it was accepted. */
  backfill(task: TaskView, from: string, to: string): Promise<boolean>;
  /** Cancels a backfill as a whole. */
  cancelBackfill(task: TaskView, id: string): Promise<boolean>;
}

interface Props {
  tasks: TaskView[];
  now: number;
  scheme: string;
  busy: ReadonlySet<string>;
  cancelling: ReadonlySet<string>;
  actions: TaskActions;
}

/**
 * The newest run that is neither running nor a skipped tick: full from `lastRun` when it is that
 * run, else the short form from `recent`; a skipped tick only when the task never ran.
 */
export function lastResult(task: TaskView): RunJson | RecentRun | null {
  const last = task.lastRun;
  if (last && last.status !== 'running' && last.status !== 'skipped') return last;
  const finished = task.recent.filter((r) => r.status !== 'running' && r.status !== 'skipped');
  const newest = finished[finished.length - 1];
  if (newest) return newest;
  return last?.status === 'skipped' ? last : null;
}

/** The text of `data-field="status"`: running, paused, else the last result's status. */
export function liveStatus(task: TaskView): string {
  if (task.running.length > 0 || task.lastRun?.status === 'running') return 'running';
  if (task.paused) return 'paused';
  return lastResult(task)?.status ?? 'never run';
}

export function TaskTable(props: Props) {
  return (
    <table class="tasks" role="table">
      <thead role="rowgroup">
        <tr role="row">
          <th role="columnheader" scope="col">Task</th>
          <th role="columnheader" scope="col">Status</th>
          <th role="columnheader" scope="col">Next run</th>
          <th role="columnheader" scope="col">Last run</th>
          <th role="columnheader" scope="col">Success · duration</th>
          <th role="columnheader" scope="col">
            <span class="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody role="rowgroup">
        {props.tasks.map((t) => (
          <TaskRow key={t.name} task={t} {...props} />
        ))}
      </tbody>
    </table>
  );
}

function TaskRow(props: Props & { task: TaskView }) {
  const { task, now, actions, busy } = props;
  const status = liveStatus(task);
  const runs =
    task.running.length > 0 ? task.running : task.lastRun?.status === 'running' ? [task.lastRun] : [];
  const last = lastResult(task);
  const full = last && 'trigger' in last ? last : null;
  const skipped = task.lastRun?.status === 'skipped' && task.lastRun !== last ? task.lastRun : null;

  return (
    <tr role="row" data-task={task.name} class={task.paused ? 'paused' : undefined}>
      <td role="cell" class="c-task">
        <div class="task-name">
          <a href={`#/tasks/${encodeURIComponent(task.name)}`} title={`${task.name}: schedule, settings and charts`}>
            {task.name}
          </a>
          {task.stale && (
            <span class="tag warn" title="No success within staleAfter">
              stale
            </span>
          )}
        </div>
        <div class="task-sched">{task.scheduleText}</div>
        {task.description && <div class="task-desc">{task.description}</div>}
      </td>

      <td role="cell" class="c-status">
        <StatusBadge status={status} tone={status === 'never run' ? 'none' : status} field />
        {runs.length > 0 && (
          <div class="live-runs">
            {runs.map((r) => (
              <RunningRun
                key={r.id}
                run={r}
                task={task.name}
                now={now}
                cancelling={props.cancelling.has(r.id) || busy.has(`cancel:${r.id}`)}
                onCancel={() => actions.cancel(r)}
                onOpen={() => actions.openRun(r.id)}
              />
            ))}
          </div>
        )}
      </td>

      <td role="cell" class="c-next" data-label="Next run">
        <span data-field="next" class="countdown">
          {task.paused ? 'paused' : task.nextRunAt === null && task.after ? `after ${task.after.upstreams.map((u) => u.task).join(', ')}` : fmtCountdown(task.nextRunAt, now)}
        </span>
        {task.paused && task.pauseNote && (
          <span class="sub pause-note" data-field="pause-note" title={task.pausedAt ? `paused ${fmtTime(task.pausedAt)}` : undefined}>
            {task.pauseNote}
          </span>
        )}
        {task.nextRunAt && !task.paused && <NextAt iso={task.nextRunAt} zone={scheduleZone(task)} />}
      </td>

      <td role="cell" class="c-last" data-label="Last run">
        {last ? (
          <>
            <div class="last-line">
              <StatusBadge status={last.status} />
              <button
                type="button"
                class="link"
                aria-label={`Open last run of ${task.name}`}
                onClick={() => actions.openRun(last.id)}
              >
                {fmtAgo(full ? runInstant(full) : last.scheduledFor, now)}
              </button>
            </div>
            <div class="sub">
              {last.status === 'skipped'
                ? `skipped: ${full?.skipReason ?? 'tick not run'}`
                : fmtDuration(last.durationMs)}
              {full?.retryAt && Date.parse(full.retryAt) > now && (
                <> · retry in {fmtSpan(Date.parse(full.retryAt) - now + 999)}</>
              )}
            </div>
            {full?.error?.message && (
              <div class="sub err-line" title={full.error.message}>
                {full.error.message}
              </div>
            )}
            {skipped && (
              <div class="sub" title={`Tick ${skipped.scheduledFor} skipped`}>
                last tick skipped ({skipped.skipReason ?? "no reason"}) · {fmtAgo(skipped.scheduledFor, now)}
              </div>
            )}
          </>
        ) : (
          <span class="sub">never</span>
        )}
      </td>

      <td role="cell" class="c-rate" data-label="Success · duration">
        <div class="rate">
          <span class="rate-value">{fmtPercent(task.successRate)}</span>
          {task.ticks.finished > 0 && (
            <span
              class="sub"
              title="Ticks whose last attempt succeeded, of the recent ticks that finished: a tick that succeeded on a retry counts as a success"
            >
              {task.ticks.succeeded}/{task.ticks.finished} ticks
            </span>
          )}
        </div>
        <Sparkline recent={task.recent} scheme={props.scheme} label={`Duration trend of ${task.name}`} />
      </td>

      <td role="cell" class="c-actions">
        <button
          type="button"
          class="btn primary"
          data-action="run"
          aria-label={`Run ${task.name} now`}
          disabled={busy.has(`run:${task.name}`)}
          aria-busy={busy.has(`run:${task.name}`)}
          onClick={() => actions.run(task)}
        >
          Run now
        </button>
        <button
          type="button"
          class="btn"
          data-action="pause"
          aria-label={`${task.paused ? 'Resume' : 'Pause'} ${task.name}`}
          disabled={busy.has(`pause:${task.name}`)}
          aria-busy={busy.has(`pause:${task.name}`)}
          onClick={() => actions.togglePause(task)}
        >
          {task.paused ? 'Resume' : 'Pause'}
        </button>
      </td>
    </tr>
  );
}

/** The zone a task's schedule is read in (cron), or null (every, at: instants, no zone). */
function scheduleZone(task: TaskView): string | null {
  const zone = task.schedule.timezone;
  return typeof zone === 'string' && 'cron' in task.schedule ? zone : null;
}

/**
 * When the next run is, labelled with its zone: the task's own for a cron schedule (what its
 * expression means), with the reader's clock beside it when that is another zone.
 */
function NextAt(props: { iso: string; zone: string | null }) {
  const { iso, zone } = props;
  return (
    <div class="sub next-at" data-field="next-at">
      <time dateTime={iso} title={`${iso} (UTC)`}>
        {zone === null ? fmtTime(iso) : fmtInZone(iso, zone)}
      </time>
      {zone !== null && zone !== BROWSER_ZONE && (
        <span class="your-time" title={`your time: ${BROWSER_ZONE}`}>
          {fmtYourTime(iso, zone)} your time
        </span>
      )}
    </div>
  );
}

function RunningRun(props: {
  run: RunJson;
  task: string;
  now: number;
  cancelling: boolean;
  onCancel: () => void;
  onOpen: () => void;
}) {
  const { run, now } = props;
  const fraction = run.progress?.fraction;
  const pct = typeof fraction === 'number' ? `${Math.round(fraction * 100)}%` : 'running';
  const since = run.startedAt ? fmtSpan(now - Date.parse(run.startedAt)) : null;
  return (
    <div class="live-run" data-run={run.id}>
      <ProgressBar fraction={fraction} label={`Progress of ${props.task}`} />
      <div class="live-meta">
        <span class="live-text">
          <strong>{pct}</strong>
          {run.progress?.message ? ` · ${run.progress.message}` : ''}
          {since ? ` · ${since}` : ''}
          {run.attempt > 1 ? ` · attempt ${run.attempt}` : ''}
        </span>
        <button type="button" class="btn small" data-action="open" aria-label={`Open the running run of ${props.task}: its log and details`} onClick={props.onOpen}>
          Log
        </button>
        <button
          type="button"
          class="btn small danger"
          data-action="cancel"
          aria-label={`Cancel the running run of ${props.task}`}
          disabled={props.cancelling}
          onClick={props.onCancel}
        >
          {props.cancelling ? 'Cancelling…' : 'Cancel'}
        </button>
      </div>
    </div>
  );
}
