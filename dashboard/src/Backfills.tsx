/** Backfills on a task's page: the form that asks for one, and the list of the latest with their progress. */
import { useEffect, useState } from 'preact/hooks';
import { api, type BackfillJson, type TaskView } from './api.ts';
import { fmtTime } from './format.ts';
import type { TaskActions } from './Tasks.tsx';
import { Modal } from './ui.tsx';

/** `datetime-local` speaks local wall time without a zone: to and from it. */
function localInput(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function fromLocalInput(value: string): string | null {
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

export function BackfillDialog(props: { task: TaskView; busy: boolean; onRequest: (from: string, to: string) => void; onClose: () => void }) {
  const now = Date.now();
  const [from, setFrom] = useState(localInput(now - 86_400_000));
  const [to, setTo] = useState(localInput(now));
  const [problem, setProblem] = useState<string | null>(null);
  return (
    <Modal title={`Backfill ${props.task.name}`} panel="backfill" onClose={props.onClose}>
      <form
        class="token-form backfill-form"
        onSubmit={(e) => {
          e.preventDefault();
          const f = fromLocalInput(from);
          const t = fromLocalInput(to);
          if (f === null || t === null) {
            setProblem(`Enter both instants (${f === null ? 'from' : 'to'} is empty).`);
            return;
          }
          setProblem(null);
          props.onRequest(f, t);
        }}
      >
        <p class="sub">
          Runs every instant of "{props.task.scheduleText}" in this range (both ends included, in your local time), as trigger backfill: one at a time
          unless the task allows overlap, each once across instances, while the task is not paused.
        </p>
        <label for="backfill-from">From</label>
        <input id="backfill-from" name="from" type="datetime-local" step={1} value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
        <label for="backfill-to">To</label>
        <input id="backfill-to" name="to" type="datetime-local" step={1} value={to} onInput={(e) => setTo(e.currentTarget.value)} />
        {problem && (
          <p class="notice bad" role="alert">
            {problem}
          </p>
        )}
        <div class="form-actions">
          <button type="button" class="btn" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="btn primary" data-action="backfill" disabled={props.busy}>
            Backfill
          </button>
        </div>
      </form>
    </Modal>
  );
}

function progressText(b: BackfillJson): string {
  const p = b.progress;
  const parts = [`${p.total - p.pending} of ${p.total} started`, `${p.succeeded} succeeded`];
  if (p.failed > 0) parts.push(`${p.failed} failed`);
  if (p.running > 0) parts.push(`${p.running} running`);
  if (p.cancelled > 0) parts.push(`${p.cancelled} cancelled`);
  return parts.join(', ');
}

/** The task's latest backfills; refreshed with the task's runs (`version`), and every few seconds while one runs. */
export function BackfillCard(props: { task: TaskView; version: string; busy: boolean; actions: TaskActions }) {
  const [backfills, setBackfills] = useState<BackfillJson[] | null>(null);
  const [tick, setTick] = useState(0);
  const name = props.task.name;
  useEffect(() => {
    let gone = false;
    api.backfills(name).then(
      (body) => !gone && setBackfills(body.backfills),
      () => !gone && setBackfills([]),
    );
    return () => {
      gone = true;
    };
  }, [name, props.version, props.busy, tick]);
  const running = backfills?.some((b) => b.status === 'running') ?? false;
  useEffect(() => {
    if (!running) return;
    const id = setInterval(() => setTick((n) => n + 1), 2_000);
    return () => clearInterval(id);
  }, [running]);
  if (backfills === null || backfills.length === 0) return null;
  return (
    <div class="fact-card backfills">
      <h2>Backfills</h2>
      <ol class="backfill-list" data-field="backfills">
        {backfills.map((b) => (
          <li key={b.id} data-backfill={b.id} data-status={b.status}>
            <div>
              <time dateTime={b.from}>{fmtTime(b.from)}</time> – <time dateTime={b.to}>{fmtTime(b.to)}</time> <span class="tag">{b.status}</span>{' '}
              <span class="sub">by {b.requestedBy}</span>
            </div>
            <progress max={b.progress.total} value={b.progress.total - b.progress.pending - b.progress.running} aria-label={`Backfill progress: ${progressText(b)}`} />
            <span class="sub" data-field="backfill-progress">
              {progressText(b)}
            </span>
            {b.status === 'running' && (
              <button type="button" class="btn small" data-action="cancel-backfill" disabled={props.busy} onClick={() => void props.actions.cancelBackfill(props.task, b.id)}>
                Cancel backfill
              </button>
            )}
          </li>
        ))}
      </ol>
    </div>
  );
}
