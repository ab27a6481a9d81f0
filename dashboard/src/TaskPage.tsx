/** A task's own page (`#/tasks/<name>`): its schedule, next instants, settings and charts of its history. */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { ApiError, api, type AuditEntryJson, type RunStatus, type StatsJson, type TaskDetail, type TaskView } from './api.ts';
import { BackfillCard, BackfillDialog } from './Backfills.tsx';
import { fmtCountdown, fmtDuration, fmtTime } from './format.ts';
import type { TaskActions } from './Tasks.tsx';
import { Modal, StatusBadge } from './ui.tsx';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The ranges a page offers, with the bucket each is drawn in. */
const RANGES = [
  { key: '24h', label: '24 hours', ms: DAY, bucket: 'hour' },
  { key: '7d', label: '7 days', ms: 7 * DAY, bucket: 'hour' },
  { key: '30d', label: '30 days', ms: 30 * DAY, bucket: 'day' },
  { key: '90d', label: '90 days', ms: 90 * DAY, bucket: 'day' },
] as const;
type RangeKey = (typeof RANGES)[number]['key'];

/** Stacked bottom to top; the colours are the status badges'. */
const OUTCOMES: readonly { status: RunStatus; colour: string }[] = [
  { status: 'succeeded', colour: '--ok' },
  { status: 'failed', colour: '--bad' },
  { status: 'timed_out', colour: '--warn' },
  { status: 'interrupted', colour: '--warn' },
  { status: 'cancelled', colour: '--grey' },
  { status: 'skipped', colour: '--border-strong' },
  { status: 'running', colour: '--run' },
];

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

/**
 * The start of the range: a whole hour, or local midnight for day buckets, so bars are the
 * viewer's hours and days.
 */
function rangeStart(now: number, range: (typeof RANGES)[number]): number {
  const d = new Date(now - range.ms);
  if (range.bucket === 'day') d.setHours(0, 0, 0, 0);
  else d.setMinutes(0, 0, 0);
  return d.getTime();
}

/** One uPlot chart that follows its box's width and the colour scheme. */
function Chart(props: { opts: () => Omit<uPlot.Options, 'width'>; data: uPlot.AlignedData; label: string; field: string; scheme: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const plot = new uPlot({ ...props.opts(), width: Math.max(240, el.clientWidth) }, props.data, el);
    const ro = new ResizeObserver(() => {
      const w = Math.max(240, el.clientWidth);
      if (Math.abs(plot.width - w) > 1) plot.setSize({ width: w, height: plot.height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [props.data, props.scheme]);
  return <div class="chart" ref={box} role="img" aria-label={props.label} data-chart={props.field} />;
}

const timeAxis = (): uPlot.Axis => ({ stroke: cssVar('--muted'), grid: { stroke: cssVar('--border') }, ticks: { stroke: cssVar('--border') } });
const valueAxis = (format: (v: number) => string): uPlot.Axis => ({
  ...timeAxis(),
  size: 64,
  values: (_u, splits) => splits.map(format),
});

function fmtNumber(v: number): string {
  const abs = Math.abs(v);
  if (!Number.isFinite(v) || abs >= 1e15) return v.toExponential(2);
  if (abs >= 1e12) return `${(v / 1e12).toFixed(1)}T`;
  if (abs >= 1e9) return `${(v / 1e9).toFixed(1)}G`;
  if (abs >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (abs >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

/** Each run's duration, with the p50 and p95 of each bucket as lines. */
function DurationChart(props: { stats: StatsJson; scheme: string }) {
  const { stats } = props;
  const data = useMemo(() => {
    const half = stats.bucketMs / 2000;
    // Attempts of one tick share its instant: each gets an x of its own (a millisecond apart), or
    // joining the series would keep only one of them.
    let previous = Number.NEGATIVE_INFINITY;
    const xs = stats.points.map((p) => (previous = Math.max(Date.parse(p.scheduledFor) / 1000, previous + 0.001)));
    const points: uPlot.AlignedData = [xs, stats.points.map((p) => p.durationMs)];
    const withRuns = stats.buckets.filter((b) => b.durations !== null);
    const lines: uPlot.AlignedData = [
      withRuns.map((b) => Date.parse(b.start) / 1000 + half),
      withRuns.map((b) => b.durations?.p50 ?? null),
      withRuns.map((b) => b.durations?.p95 ?? null),
    ];
    return uPlot.join([points, lines]);
  }, [stats]);
  const runs = stats.buckets.reduce((n, b) => n + (b.durations?.count ?? 0), 0);
  const p95 = Math.max(0, ...stats.buckets.map((b) => b.durations?.p95 ?? 0));
  const label = runs === 0 ? 'Durations: no run ended in this range' : `Durations of ${runs} runs; highest p95 ${fmtDuration(p95)}`;
  return (
    <Chart
      field="durations"
      label={label}
      data={data}
      scheme={props.scheme}
      opts={() => ({
        height: 220,
        cursor: { points: { size: 6 } },
        scales: { x: { time: true, range: () => [Date.parse(stats.from) / 1000, Date.parse(stats.to) / 1000] }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
        axes: [timeAxis(), valueAxis((v) => fmtDuration(v))],
        series: [
          {},
          { label: 'run', stroke: cssVar('--chart-line'), paths: () => null, points: { show: true, size: 4, width: 0, fill: cssVar('--chart-line') }, value: (_u, v) => fmtDuration(v) },
          { label: 'p50', stroke: cssVar('--accent'), width: 2, spanGaps: true, value: (_u, v) => fmtDuration(v) },
          { label: 'p95', stroke: cssVar('--warn'), width: 2, dash: [6, 4], spanGaps: true, value: (_u, v) => fmtDuration(v) },
        ],
      })}
    />
  );
}

/** Ticks per bucket, stacked by outcome. */
function OutcomeChart(props: { stats: StatsJson; scheme: string }) {
  const { stats } = props;
  const present = OUTCOMES.filter((o) => stats.buckets.some((b) => b.outcomes[o.status] > 0));
  const data = useMemo(() => {
    const xs = stats.buckets.map((b) => Date.parse(b.start) / 1000 + stats.bucketMs / 2000);
    // Each series is the running total up to its outcome; drawn tallest first, each bar covers the one below.
    const totals = stats.buckets.map(() => 0);
    const stacked = present.map((o) => stats.buckets.map((b, i) => (totals[i] = (totals[i] ?? 0) + b.outcomes[o.status])));
    return [xs, ...stacked.reverse()] as uPlot.AlignedData;
  }, [stats]);
  const count = (s: RunStatus) => stats.buckets.reduce((n, b) => n + b.outcomes[s], 0);
  const label = `Ticks by outcome: ${present.map((o) => `${count(o.status)} ${o.status.replace('_', ' ')}`).join(', ') || 'none in this range'}`;
  const bars = uPlot.paths.bars?.({ size: [0.8, 40], gap: 1 });
  return (
    <Chart
      field="outcomes"
      label={label}
      data={data}
      scheme={props.scheme}
      opts={() => ({
        height: 180,
        scales: { x: { time: true, range: () => [Date.parse(stats.from) / 1000, Date.parse(stats.to) / 1000] }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
        axes: [timeAxis(), valueAxis(fmtNumber)],
        series: [
          {},
          ...[...present].reverse().map((o, i) => ({
            label: o.status.replace('_', ' '),
            stroke: cssVar(o.colour),
            fill: cssVar(o.colour),
            paths: bars,
            points: { show: false },
            // The legend shows each outcome's own count, not the running total.
            value: (_u: uPlot, v: number | null, _s: number, idx: number | null) =>
              v == null || idx == null ? '—' : String(v - ((data[i + 2]?.[idx] as number | null | undefined) ?? 0)),
          })),
        ],
      })}
    />
  );
}

/** The sum of a numeric output field per bucket. */
function FieldChart(props: { stats: StatsJson; scheme: string; bucketLabel: string }) {
  const { stats } = props;
  const data = useMemo(
    () => [stats.buckets.map((b) => Date.parse(b.start) / 1000 + stats.bucketMs / 2000), stats.buckets.map((b) => b.field?.sum ?? null)] as uPlot.AlignedData,
    [stats],
  );
  const total = stats.buckets.reduce((n, b) => n + (b.field?.sum ?? 0), 0);
  const runs = stats.buckets.reduce((n, b) => n + (b.field?.count ?? 0), 0);
  const label = `Sum of ${stats.field} per ${props.bucketLabel}: ${fmtNumber(total)} over ${runs} runs`;
  const bars = uPlot.paths.bars?.({ size: [0.8, 40], gap: 1 });
  return (
    <Chart
      field="field"
      label={label}
      data={data}
      scheme={props.scheme}
      opts={() => ({
        height: 180,
        scales: {
          x: { time: true, range: () => [Date.parse(stats.from) / 1000, Date.parse(stats.to) / 1000] },
          // Bars stand on zero (a reclaimed-bytes sum is read against nothing reclaimed).
          y: { range: (_u, min, max) => [Math.min(0, min), Math.max(0, max) * 1.1 || 1] },
        },
        axes: [timeAxis(), valueAxis(fmtNumber)],
        series: [{}, { label: `${stats.field} (sum)`, stroke: cssVar('--accent'), fill: cssVar('--run-bg'), paths: bars, points: { show: false }, value: (_u, v) => (v == null ? '—' : fmtNumber(v)) }],
      })}
    />
  );
}

/** Each setting's row: its label, its value in words, and the run-time option that changes it. */
function settingRows(s: TaskDetail['settings']): [string, string, string | null][] {
  const or = (v: number | null, none: string, f: (n: number) => string = fmtDuration) => (v == null ? none : f(v));
  return [
    ['Timeout', or(s.timeoutMs, 'none'), 'timeout'],
    ['Retry', s.retry.attempts <= 1 ? 'no retries' : `${s.retry.attempts} attempts, backoff ${fmtDuration(s.retry.backoffMs)} ×${s.retry.factor} up to ${fmtDuration(s.retry.maxBackoffMs)}`, 'retry'],
    ['Overlap', s.overlap === 'allow' ? `allow (${s.maxConcurrent ?? 'no limit'} at once)` : s.overlap, 'overlap'],
    ['Catch-up', s.catchUp === 'none' ? 'none' : `${s.catchUp}, within ${or(s.catchUpWindowMs, 'any time')}, at most ${s.catchUpLimit}`, 'catchUp'],
    ['Priority', String(s.priority), 'priority'],
    ['Jitter', s.jitterMs === 0 ? 'none' : `up to ${fmtDuration(s.jitterMs)}`, 'jitter'],
    ['Stale after', or(s.staleAfterMs, 'not watched'), null],
    ['Quiet time', s.defer ? deferText(s.defer) : 'does not wait', null],
  ];
}

/** A `defer` in words: what it waits for, and for how long. */
function deferText(d: NonNullable<TaskDetail['settings']['defer']>): string {
  const reasons = [
    d.lagAboveMs !== null ? `event-loop lag > ${fmtDuration(d.lagAboveMs)}` : null,
    d.cpuAbove !== null ? `CPU > ${Math.round(d.cpuAbove * 100)}%` : null,
    d.memoryFractionAbove !== null ? `memory > ${Math.round(d.memoryFractionAbove * 100)}%` : null,
    d.rssAboveBytes !== null ? `RSS > ${Math.round(d.rssAboveBytes / 1_048_576)} MiB` : null,
    d.busy ? 'the service is busy' : null,
  ].filter((r) => r !== null);
  return `waits while ${reasons.join(' or ')}, up to ${fmtDuration(d.maxDelayMs)}, then ${d.then === 'run' ? 'runs' : 'skips'}`;
}

/** Milliseconds as a config duration (`90s`, `5m`, `2h`, `1d`, else `ms`). */
function durationText(ms: number | null): string {
  if (ms === null) return '';
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) {
    if (ms > 0 && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

function scheduleText(schedule: Record<string, unknown>): { text: string; zone: string } {
  if (typeof schedule.every === 'string' || typeof schedule.every === 'number') return { text: `every ${String(schedule.every)}`, zone: '' };
  return { text: typeof schedule.cron === 'string' ? schedule.cron : '', zone: typeof schedule.timezone === 'string' ? schedule.timezone : '' };
}

/** The form that changes a task at run time: only what was changed is sent. */
function EditDialog(props: { task: TaskDetail; onSave: (patch: Record<string, unknown>) => void; onReset: (() => void) | null; onClose: () => void }) {
  const { task } = props;
  const s = task.settings;
  const editableSchedule = !('at' in task.schedule);
  const initial = {
    schedule: scheduleText(task.schedule).text,
    zone: scheduleText(task.schedule).zone,
    timeout: durationText(s.timeoutMs),
    attempts: String(s.retry.attempts),
    overlap: s.overlap,
    catchUp: s.catchUp,
    priority: String(s.priority),
    jitter: durationText(s.jitterMs) || '0s',
  };
  const [v, setV] = useState(initial);
  const field = (key: keyof typeof initial) => ({
    value: v[key],
    onInput: (e: Event) => setV({ ...v, [key]: (e.currentTarget as HTMLInputElement).value }),
  });
  const patch = () => {
    const out: Record<string, unknown> = {};
    // Empty fields change nothing (Reset to definition drops every change).
    const every = /^every\s+(.+)$/i.exec(v.schedule.trim());
    const scheduleChanged = v.schedule.trim() !== initial.schedule || (!every && v.zone.trim() !== initial.zone);
    if (editableSchedule && v.schedule.trim() !== '' && scheduleChanged) {
      // A zone applies to cron expressions only.
      out.schedule = every ? { every: (every[1] ?? '').trim() } : { cron: v.schedule.trim(), ...(v.zone.trim() ? { timezone: v.zone.trim() } : {}) };
    }
    const given = (key: keyof typeof initial) => v[key].trim() !== '' && v[key].trim() !== initial[key];
    if (given('timeout')) out.timeout = v.timeout.trim();
    if (given('attempts')) out.retry = { attempts: Number(v.attempts) };
    if (v.overlap !== initial.overlap) out.overlap = v.overlap;
    if (v.catchUp !== initial.catchUp) out.catchUp = v.catchUp;
    if (given('priority')) out.priority = Number(v.priority);
    if (given('jitter')) out.jitter = v.jitter.trim();
    return out;
  };
  return (
    <Modal title={`Change ${task.name}`} panel="edit" onClose={props.onClose}>
      <form
        class="token-form edit-form"
        onSubmit={(e) => {
          e.preventDefault();
          const changes = patch();
          if (Object.keys(changes).length === 0) props.onClose();
          else props.onSave(changes);
        }}
      >
        <p class="sub">Changes apply on every instance over the task's definition, until reset. Changing the schedule starts it afresh.</p>
        {editableSchedule && (
          <>
            <label for="edit-schedule">Schedule: a cron expression, or "every 10m"</label>
            <input id="edit-schedule" name="schedule" type="text" autoComplete="off" {...field('schedule')} />
            <label for="edit-zone">Time zone of the cron expression</label>
            <input id="edit-zone" name="timezone" type="text" autoComplete="off" placeholder="UTC" {...field('zone')} />
          </>
        )}
        <label for="edit-timeout">Timeout</label>
        <input id="edit-timeout" name="timeout" type="text" autoComplete="off" placeholder="none" {...field('timeout')} />
        <label for="edit-attempts">Attempts (1: no retries)</label>
        <input id="edit-attempts" name="attempts" type="number" min={1} max={1000} {...field('attempts')} />
        <label for="edit-overlap">When a run is still going at the next tick</label>
        <select id="edit-overlap" name="overlap" {...field('overlap')} onChange={(e) => setV({ ...v, overlap: e.currentTarget.value })}>
          {['skip', 'queue', 'allow', 'replace'].map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
        <label for="edit-catchup">After downtime</label>
        <select id="edit-catchup" name="catchUp" {...field('catchUp')} onChange={(e) => setV({ ...v, catchUp: e.currentTarget.value })}>
          {['latest', 'all', 'none'].map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
        <label for="edit-priority">Priority</label>
        <input id="edit-priority" name="priority" type="number" {...field('priority')} />
        <label for="edit-jitter">Jitter</label>
        <input id="edit-jitter" name="jitter" type="text" autoComplete="off" {...field('jitter')} />
        <div class="form-actions">
          {props.onReset && (
            <button type="button" class="btn" data-action="reset" onClick={props.onReset}>
              Reset to definition
            </button>
          )}
          <button type="button" class="btn" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="btn primary" data-action="save">
            Save
          </button>
        </div>
      </form>
    </Modal>
  );
}

/** What a recorded change did, in a few words. */
function changeText(e: AuditEntryJson): string {
  const detail = (e.detail ?? {}) as Record<string, unknown>;
  switch (e.action) {
    case 'pause':
      return typeof detail.note === 'string' && detail.note !== '' ? `paused: ${detail.note}` : 'paused';
    case 'override':
      return `changed ${Object.entries(detail)
        .map(([k, v]) => `${k} ${v === null ? '(back to the definition)' : JSON.stringify(v)}`)
        .join(', ')}`;
    case 'reset':
      return 'reset to its definition';
    case 'backfill':
      return `backfilled ${typeof detail.instants === 'number' ? `${detail.instants} instants ` : ''}from ${typeof detail.from === 'string' ? fmtTime(detail.from) : '?'} to ${typeof detail.to === 'string' ? fmtTime(detail.to) : '?'}`;
    case 'cancel-backfill':
      return 'cancelled a backfill';
    case 'retry':
      return `retried run ${typeof detail.retryOf === 'string' ? detail.retryOf : ''}`.trim();
    default:
      return e.action === 'trigger' ? 'ran it now' : e.action === 'resume' ? 'resumed' : e.action === 'cancel' ? 'cancelled a run' : e.action;
  }
}

/** The task's recorded changes, newest first: who did what, from where, when. */
function ChangeList(props: { name: string; version: string }) {
  const [entries, setEntries] = useState<AuditEntryJson[] | null>(null);
  useEffect(() => {
    let gone = false;
    api.audit(props.name).then(
      (page) => !gone && setEntries(page.entries),
      () => !gone && setEntries([]),
    );
    return () => {
      gone = true;
    };
  }, [props.name, props.version]);
  if (entries === null) return null;
  return (
    <div class="fact-card changes">
      <h2>Changes</h2>
      {entries.length === 0 ? (
        <p class="sub">No one has changed, paused or run it by hand.</p>
      ) : (
        <ol class="change-list" data-field="changes">
          {entries.map((e) => (
            <li key={e.id} data-action={e.action}>
              <time dateTime={e.at}>{fmtTime(e.at)}</time> <strong>{e.actor}</strong> <span class="sub">({e.source})</span> {changeText(e)}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

export function TaskPage(props: {
  name: string;
  /** The task as the live list knows it (null until loaded, or when it is gone). */
  live: TaskView | null;
  now: number;
  scheme: string;
  busy: ReadonlySet<string>;
  actions: TaskActions;
}) {
  const { name, live, now } = props;
  const [detail, setDetail] = useState<TaskDetail | null>(null);
  const [missing, setMissing] = useState<string | null>(null);
  const [rangeKey, setRangeKey] = useState<RangeKey>('7d');
  const [field, setField] = useState<string>('');
  const [stats, setStats] = useState<{ stats: StatsJson; fields: string[] } | null>(null);
  const [statsError, setStatsError] = useState<string | null>(null);
  const range = RANGES.find((r) => r.key === rangeKey) ?? RANGES[1];

  // Settings and the next instants change with the task (a pause, an update, a run): refetch then.
  useEffect(() => {
    let gone = false;
    api
      .task(name)
      .then((body) => !gone && (setDetail(body.task), setMissing(null)))
      .catch((err) => !gone && setMissing(err instanceof ApiError && err.status === 404 ? `No task named "${name}".` : (err as Error).message));
    return () => {
      gone = true;
    };
  }, [name, live?.paused, live?.nextRunAt, live?.scheduleText, JSON.stringify(live?.overrides ?? null), live?.settings && JSON.stringify(live.settings)]);

  // New runs refresh the charts, at most every 10 s: a busy task's page must not re-read a long
  // history after every run.
  const [refreshed, setRefreshed] = useState(0);
  const lastRunId = useRef(live?.lastRun?.id);
  const drawnFor = useRef(lastRunId.current);
  lastRunId.current = live?.lastRun?.id;
  useEffect(() => {
    const id = setInterval(() => {
      if (lastRunId.current === drawnFor.current) return;
      drawnFor.current = lastRunId.current;
      setRefreshed((n) => n + 1);
    }, 10_000);
    return () => clearInterval(id);
  }, []);
  useEffect(() => {
    let gone = false;
    api
      .stats(name, { from: new Date(rangeStart(Date.now(), range)).toISOString(), bucket: range.bucket, field: field || null })
      .then((body) => !gone && (setStats(body), setStatsError(null)))
      .catch((err) => !gone && setStatsError((err as Error).message));
    return () => {
      gone = true;
    };
  }, [name, rangeKey, field, refreshed]);

  const [editing, setEditing] = useState(false);
  const [backfilling, setBackfilling] = useState(false);
  const task = live ?? detail;
  const overrides = detail?.overrides ?? live?.overrides ?? null;
  const changed = new Set(Object.keys(overrides?.fields ?? {}));
  const changedBy = overrides ? `changed at run time by ${overrides.by}, ${fmtTime(overrides.at)}` : undefined;
  if (missing && !task) {
    return (
      <section aria-labelledby="task-title">
        <h1 id="task-title" tabIndex={-1}>
          {name}
        </h1>
        <p class="notice bad" role="alert">
          {missing} <a href="#/">All tasks</a>
        </p>
      </section>
    );
  }
  if (!task) return <p class="sub">Loading {name}…</p>;
  const fields = stats?.fields ?? [];
  const bucketLabel = range.bucket;

  return (
    <section aria-labelledby="task-title" class="task-page" data-task-page={name}>
      <div class="page-head">
        <h1 id="task-title" tabIndex={-1}>
          {task.name}
        </h1>
        <div class="page-actions">
          <button
            type="button"
            class="btn primary"
            onClick={() => void props.actions.run(task)}
            disabled={props.busy.has(`run:${task.name}`)}
            aria-label={`Run ${task.name} now`}
          >
            Run now
          </button>
          <button type="button" class="btn" onClick={() => void props.actions.togglePause(task)} disabled={props.busy.has(`pause:${task.name}`)}>
            {task.paused ? 'Resume' : 'Pause'}
          </button>
          <button type="button" class="btn" data-action="edit" onClick={() => setEditing(true)} disabled={!detail || props.busy.has(`edit:${task.name}`)}>
            Change…
          </button>
          <button type="button" class="btn" data-action="open-backfill" onClick={() => setBackfilling(true)} disabled={props.busy.has(`backfill:${task.name}`)}>
            Backfill…
          </button>
          <a class="btn" href={`#/history?task=${encodeURIComponent(task.name)}`}>
            History
          </a>
        </div>
      </div>
      {editing && detail && (
        <EditDialog
          task={detail}
          onClose={() => setEditing(false)}
          onSave={(patch) =>
            void props.actions.edit(task, patch).then((ok) => {
              if (ok) setEditing(false);
            })
          }
          onReset={
            overrides
              ? () =>
                  void props.actions.resetOverrides(task).then((ok) => {
                    if (ok) setEditing(false);
                  })
              : null
          }
        />
      )}
      {backfilling && (
        <BackfillDialog
          task={task}
          busy={props.busy.has(`backfill:${task.name}`)}
          onClose={() => setBackfilling(false)}
          onRequest={(from, to) =>
            void props.actions.backfill(task, from, to).then((ok) => {
              if (ok) setBackfilling(false);
            })
          }
        />
      )}
      {task.description && <p class="sub">{task.description}</p>}

      <div class="task-facts">
        <div class="fact-card">
          <h2>Schedule</h2>
          <p data-field="schedule">
            {task.scheduleText}
            {changed.has('schedule') && (
              <span class="tag" data-overridden="schedule" title={changedBy}>
                changed
              </span>
            )}
          </p>
          {task.paused ? (
            <p>
              <StatusBadge status="paused" tone="skipped" />{' '}
              {task.pauseNote && (
                <span class="pause-note" data-field="pause-note">
                  {task.pauseNote}
                </span>
              )}
              {task.pausedAt && <span class="sub"> since {fmtTime(task.pausedAt)}</span>}
            </p>
          ) : (
            <p class="sub">next {fmtCountdown(task.nextRunAt, now)}</p>
          )}
          <h3>Next {detail?.upcoming.length ?? ''} instants</h3>
          <ol class="upcoming" data-field="upcoming">
            {(detail?.upcoming ?? []).map((t) => (
              <li key={t}>
                <time dateTime={t}>{fmtTime(t)}</time>
              </li>
            ))}
          </ol>
          {task.paused && <p class="sub">Paused: these are the instants it would run at.</p>}
          {(task.after || (task.downstream?.length ?? 0) > 0 || task.hasCondition) && (
            <div data-field="dependencies">
              {task.after && (
                <p>
                  Runs after {task.after.upstreams.length > 1 ? `${task.after.mode} of ` : ''}
                  {task.after.upstreams.map((u, i) => (
                    <span key={u.task}>
                      {i > 0 ? ', ' : ''}
                      <a href={`#/tasks/${encodeURIComponent(u.task)}`} data-upstream={u.task}>
                        {u.task}
                      </a>
                      {u.on !== 'success' ? ` (on ${u.on})` : ''}
                    </span>
                  ))}
                </p>
              )}
              {(task.downstream?.length ?? 0) > 0 && (
                <p>
                  Then runs{' '}
                  {task.downstream?.map((d, i) => (
                    <span key={d}>
                      {i > 0 ? ', ' : ''}
                      <a href={`#/tasks/${encodeURIComponent(d)}`} data-downstream={d}>
                        {d}
                      </a>
                    </span>
                  ))}
                </p>
              )}
              {task.hasCondition && <p class="sub">Each run first checks its condition (when); a no is recorded skipped.</p>}
            </div>
          )}
        </div>
        <div class="fact-card">
          <h2>Settings</h2>
          {overrides && (
            <p class="sub" data-field="overrides">
              Changed at run time by {overrides.by}, {fmtTime(overrides.at)}: {Object.keys(overrides.fields).join(', ')}.
            </p>
          )}
          {overrides && overrides.applied === false && (
            <p class="notice bad" role="alert" data-field="overrides-problem">
              Not applied: {overrides.problem}
            </p>
          )}
          {detail && (
            <dl class="settings" data-field="settings">
              {settingRows(detail.settings).map(([k, v, option]) => (
                <div key={k}>
                  <dt>{k}</dt>
                  <dd>
                    {v}
                    {option !== null && changed.has(option) && (
                      <span class="tag" data-overridden={option} title={changedBy}>
                        changed
                      </span>
                    )}
                  </dd>
                </div>
              ))}
            </dl>
          )}
        </div>
      </div>

      <BackfillCard task={task} version={task.lastRun?.id ?? ''} busy={props.busy.has(`backfill:${task.name}`)} actions={props.actions} />

      <ChangeList name={name} version={`${JSON.stringify(overrides)}|${task.paused}|${task.pauseNote}|${task.lastRun?.id ?? ''}`} />

      <div class="chart-controls">
        <div class="segmented" role="group" aria-label="Range">
          {RANGES.map((r) => (
            <button key={r.key} type="button" class="btn small" aria-pressed={r.key === rangeKey} onClick={() => setRangeKey(r.key)}>
              {r.label}
            </button>
          ))}
        </div>
        <label class="field-pick">
          Output field{' '}
          <select value={field} onChange={(e) => setField((e.target as HTMLSelectElement).value)} aria-label="Output field to chart">
            <option value="">none</option>
            {[...new Set([...fields, ...(field ? [field] : [])])].map((f) => (
              <option key={f} value={f}>
                {f}
              </option>
            ))}
          </select>
        </label>
      </div>
      {statsError && (
        <p class="notice bad" role="alert">
          Cannot load the charts: {statsError}
        </p>
      )}
      {stats && (
        <div class="charts">
          <h2>Durations</h2>
          <DurationChart stats={stats.stats} scheme={props.scheme} />
          {stats.stats.pointsOmitted > 0 && <p class="sub">Points: the newest {stats.stats.points.length} runs; the lines cover all.</p>}
          <h2>Outcomes per {bucketLabel}</h2>
          <OutcomeChart stats={stats.stats} scheme={props.scheme} />
          {stats.stats.field && (
            <>
              <h2>
                {stats.stats.field} per {bucketLabel}
              </h2>
              <FieldChart stats={stats.stats} scheme={props.scheme} bucketLabel={bucketLabel} />
            </>
          )}
          {!stats.stats.field && fields.length === 0 && <p class="sub">No numeric output fields in this task's recent runs to chart.</p>}
        </div>
      )}
    </section>
  );
}
