/** The run detail panel and the token prompt. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type LogLineJson, onLive, type RunJson } from './api.ts';
import { fmtDuration, fmtTime, prettyJson } from './format.ts';
import { Modal, ProgressBar, StatusBadge } from './ui.tsx';

export function RunDialog(props: {
  id: string;
  onClose: () => void;
  onCancel: (run: RunJson) => void;
  cancelling: boolean;
  onRetry: (run: RunJson) => void;
  retrying: boolean;
}) {
  const [run, setRun] = useState<RunJson | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    setRun(null);
    setError(null);
    api.run(props.id).then(
      (r) => live && setRun(r.run),
      (err: Error) => live && setError(err.message),
    );
    const off = onLive((e) => {
      if (e.type === 'run' && e.run.id === props.id) setRun(e.run);
      if (e.type === 'progress' && e.runId === props.id)
        setRun((r) => (r ? { ...r, progress: { fraction: e.fraction, message: e.message } } : r));
    });
    return () => {
      live = false;
      off();
    };
  }, [props.id]);

  const title = run ? `Run of ${run.task}` : 'Run';
  return (
    <Modal title={title} panel="run" wide onClose={props.onClose}>
      {error && (
        <p class="notice bad" role="alert">
          Could not load run {props.id}: {error}
        </p>
      )}
      {!run && !error && <p class="sub">Loading…</p>}
      {run && (
        <div class="run-detail" data-run-detail={run.id}>
          <div class="run-head">
            <StatusBadge status={run.status} field />
            <code class="run-id">{run.id}</code>
            {run.status === 'running' && (
              <button
                type="button"
                class="btn small danger"
                data-action="cancel"
                disabled={props.cancelling}
                onClick={() => props.onCancel(run)}
              >
                {props.cancelling ? 'Cancelling…' : 'Cancel run'}
              </button>
            )}
            {run.status !== 'running' && (
              <button
                type="button"
                class="btn small"
                data-action="retry"
                disabled={props.retrying}
                title="Run this tick again, as its next attempt"
                onClick={() => props.onRetry(run)}
              >
                {props.retrying ? 'Retrying…' : 'Retry'}
              </button>
            )}
          </div>
          {run.status === 'running' && (
            <div class="detail-progress">
              <ProgressBar fraction={run.progress?.fraction} label={`Progress of ${run.task}`} />
              {run.progress?.message && <span class="sub">{run.progress.message}</span>}
            </div>
          )}
          <dl class="facts">
            <Fact label="Task" value={run.task} />
            <Fact label="Trigger" value={run.trigger} />
            <Fact label="Attempt" value={String(run.attempt)} />
            <Fact label="Scheduled for" value={fmtTime(run.scheduledFor)} title={run.scheduledFor} />
            <Fact label="Due at" value={run.dueAt ? fmtTime(run.dueAt) : null} title={run.dueAt} />
            <Fact label="Started" value={run.startedAt ? fmtTime(run.startedAt) : null} title={run.startedAt} />
            <Fact label="Finished" value={run.finishedAt ? fmtTime(run.finishedAt) : null} title={run.finishedAt} />
            <Fact label="Duration" value={run.durationMs != null ? fmtDuration(run.durationMs) : null} />
            <Fact label="Lateness" value={run.latenessMs != null ? fmtDuration(run.latenessMs) : null} />
            <Fact label="Held for quiet time" value={run.deferredMs != null ? fmtDuration(run.deferredMs) : null} />
            <Fact label="Caused by" value={run.causedBy ?? null} />
            <Fact label="Instance" value={run.instance} />
            <Fact label="Skip reason" value={run.skipReason} />
            <Fact label="Skipped ticks" value={run.skippedTicks ? String(run.skippedTicks) : null} />
            <Fact label="Retry at" value={run.retryAt ? fmtTime(run.retryAt) : null} title={run.retryAt} />
          </dl>

          {run.error && (
            <section class="detail-block" aria-label="Error">
              <h3>Error{run.error.code ? <code class="err-code">{run.error.code}</code> : null}</h3>
              <p class="err-msg" data-field="error">
                {run.error.message}
              </p>
              {run.error.stack && (
                <pre class="code stack" data-field="stack" tabIndex={0}>
                  {run.error.stack}
                </pre>
              )}
            </section>
          )}

          <RunLogView id={run.id} running={run.status === 'running'} />

          <section class="detail-block" aria-label="Output">
            <h3>Output</h3>
            {run.output === undefined || run.output === null ? (
              <p class="sub">No output.</p>
            ) : (
              <pre class="code" data-field="output" tabIndex={0}>
                {prettyJson(run.output)}
              </pre>
            )}
          </section>
        </div>
      )}
    </Modal>
  );
}

/** How often a running run's log is fetched: its lines may be written by another replica. */
const LOG_POLL_MS = 2_000;

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', fractionalSecondDigits: 3, hour12: false });

/** The run's kept log: loaded, then followed live (events from this instance, polling for the rest). */
function RunLogView(props: { id: string; running: boolean }) {
  const [lines, setLines] = useState<LogLineJson[]>([]);
  const [dropped, setDropped] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const box = useRef<HTMLPreElement>(null);
  const last = useRef(0);
  const follow = useRef(true);

  const add = (more: LogLineJson[]) => {
    const fresh = more.filter((l) => l.seq > last.current).sort((a, b) => a.seq - b.seq);
    if (fresh.length === 0) return;
    last.current = fresh[fresh.length - 1]?.seq ?? last.current;
    setLines((ls) => [...ls, ...fresh].slice(-2_000));
  };

  const alive = useRef(true);
  const load = () =>
    api.runLogs(props.id, last.current).then(
      (log) => {
        if (!alive.current || log.runId !== props.id) return;
        setDropped(log.dropped);
        add(log.lines);
        setError(null);
      },
      (err: Error) => alive.current && setError(err.message),
    );

  useEffect(() => {
    alive.current = true;
    last.current = 0;
    setLines([]);
    setDropped(0);
    void load();
    const off = onLive((e) => e.type === 'log' && e.runId === props.id && add(e.lines));
    return () => {
      alive.current = false;
      off();
    };
  }, [props.id]);

  // Running: poll (the run may be on another replica). Ended: once more, for the final flush.
  useEffect(() => {
    if (!props.running) {
      const once = setTimeout(() => void load(), 1_500);
      return () => clearTimeout(once);
    }
    const poll = setInterval(() => void load(), LOG_POLL_MS);
    return () => clearInterval(poll);
  }, [props.id, props.running]);

  // Stays at the newest line unless the reader scrolled up.
  useEffect(() => {
    const el = box.current;
    if (el && follow.current) el.scrollTop = el.scrollHeight;
  }, [lines]);

  return (
    <section class="detail-block" aria-label="Log">
      <h3>
        Log{props.running && <span class="sub"> · live</span>}
      </h3>
      {error && <p class="sub">Cannot load the log: {error}</p>}
      {lines.length === 0 && !error && <p class="sub">{props.running ? 'Nothing logged yet.' : 'Nothing logged.'}</p>}
      {lines.length > 0 && (
        <pre
          class="code log"
          data-field="log"
          tabIndex={0}
          ref={box}
          onScroll={(e) => {
            const el = e.currentTarget;
            follow.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 4;
          }}
        >
          {dropped > 0 && <span class="log-dropped">{dropped} earlier lines dropped (the newest are kept){'\n'}</span>}
          {lines.map((l) => (
            <span key={l.seq} class={`log-line lv-${l.level}`} data-seq={l.seq}>
              <span class="log-at">{clock.format(Date.parse(l.at))}</span> <span class="log-level">{l.level.toUpperCase()}</span> {l.message}
              {l.fields != null && <span class="log-fields"> {JSON.stringify(l.fields)}</span>}
              {'\n'}
            </span>
          ))}
        </pre>
      )}
    </section>
  );
}

function Fact(props: { label: string; value: string | null | undefined; title?: string | null | undefined }) {
  if (props.value == null || props.value === '') return null;
  return (
    <div class="fact">
      <dt>{props.label}</dt>
      <dd title={props.title ?? undefined}>{props.value}</dd>
    </div>
  );
}

export function TokenDialog(props: {
  rejected: boolean;
  hasToken: boolean;
  onSave: (token: string) => void;
  onForget: () => void;
  onClose: () => void;
}) {
  const [value, setValue] = useState('');
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  return (
    <Modal title="API token" panel="token" onClose={props.onClose}>
      <form
        class="token-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (value.trim()) props.onSave(value.trim());
        }}
      >
        <p class="sub">
          {props.rejected
            ? 'The server rejected the request: a valid token is needed to change tasks and runs.'
            : 'Changes (run, pause, cancel) need the token configured for this API.'}{' '}
          It is kept in this tab's session storage only.
        </p>
        <label for="token-input">Token</label>
        <input
          id="token-input"
          ref={input}
          type="password"
          autoComplete="off"
          spellcheck={false}
          value={value}
          onInput={(e) => setValue(e.currentTarget.value)}
          required
        />
        <div class="form-actions">
          {props.hasToken && (
            <button type="button" class="btn" onClick={props.onForget}>
              Forget token
            </button>
          )}
          <span class="spacer" />
          <button type="button" class="btn" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="btn primary">
            Save
          </button>
        </div>
      </form>
    </Modal>
  );
}

/** Asks why a task is being paused (optional), then pauses it. */
export function PauseDialog(props: { task: string; onPause: (note: string | null) => void; onClose: () => void }) {
  const [value, setValue] = useState('');
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  return (
    <Modal title={`Pause ${props.task}`} panel="pause" onClose={props.onClose}>
      <form
        class="token-form"
        onSubmit={(e) => {
          e.preventDefault();
          props.onPause(value.trim() === '' ? null : value.trim());
        }}
      >
        <p class="sub">Its ticks are recorded as skipped (paused) on every instance until it is resumed.</p>
        <label for="pause-note-input">Note (optional): why, for whoever looks</label>
        <input
          id="pause-note-input"
          name="note"
          ref={input}
          type="text"
          maxLength={500}
          autoComplete="off"
          value={value}
          onInput={(e) => setValue(e.currentTarget.value)}
        />
        <div class="form-actions">
          <button type="button" class="btn" onClick={props.onClose}>
            Keep running
          </button>
          <button type="submit" class="btn primary" data-action="confirm-pause">
            Pause
          </button>
        </div>
      </form>
    </Modal>
  );
}
