/** Small shared pieces: status badge, modal dialog, progress bar, duration sparkline. */
import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { RecentRun } from './api.ts';
import { fmtDuration } from './format.ts';

export function StatusBadge(props: { status: string; tone?: string; field?: boolean; title?: string }) {
  return (
    <span class={`badge st-${props.tone ?? props.status}`} title={props.title} data-field={props.field ? 'status' : undefined}>
      <span class="dot" aria-hidden="true" />
      {props.status}
    </span>
  );
}

/** A modal <dialog>: Escape (native `cancel`), the close button and a backdrop click close it. */
export function Modal(props: {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  panel?: string;
  wide?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const gone = useRef(false);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return undefined;
    if (!dialog.open) dialog.showModal();
    return () => {
      gone.current = true; // the `close` event of this close() must not close a dialog opened since
      if (dialog.open) dialog.close();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      class={props.wide ? 'modal wide' : 'modal'}
      aria-labelledby={titleId}
      data-panel={props.panel}
      onClose={() => {
        if (!gone.current) props.onClose();
      }}
      onClick={(e) => {
        if (e.target === ref.current) props.onClose();
      }}
    >
      <div class="modal-inner">
        <header class="modal-head">
          <h2 id={titleId}>{props.title}</h2>
          <button type="button" class="icon-btn" aria-label="Close" onClick={props.onClose}>
            ×
          </button>
        </header>
        {props.children}
      </div>
    </dialog>
  );
}

export function ProgressBar(props: { fraction: number | null | undefined; label: string }) {
  const f = props.fraction;
  const known = typeof f === 'number' && Number.isFinite(f);
  const pct = known ? Math.round(Math.min(1, Math.max(0, f)) * 100) : null;
  return (
    <div
      class={known ? 'progress' : 'progress indeterminate'}
      role="progressbar"
      aria-label={props.label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={pct ?? undefined}
      aria-valuetext={pct == null ? 'in progress' : `${pct}%`}
    >
      <div class="progress-fill" style={pct == null ? undefined : { width: `${pct}%` }} />
    </div>
  );
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

/** Follows prefers-color-scheme so canvases can be redrawn in the right colours. */
export function useColorScheme(): 'light' | 'dark' {
  const query = '(prefers-color-scheme: dark)';
  const [dark, setDark] = useState(() => matchMedia(query).matches);
  useEffect(() => {
    const mq = matchMedia(query);
    const on = () => setDark(mq.matches);
    mq.addEventListener('change', on);
    return () => mq.removeEventListener('change', on);
  }, []);
  return dark ? 'dark' : 'light';
}

const BAD = new Set(['failed', 'timed_out', 'interrupted']);

/** Durations of the recent runs (oldest left); failures are red points. */
export function Sparkline(props: { recent: RecentRun[]; scheme: string; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const key = props.recent.map((r) => `${r.id}:${r.status}:${r.durationMs}`).join(',');

  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const runs = props.recent.filter((r) => r.status !== 'running');
    const xs = runs.map((_, i) => i);
    const ys = runs.map((r) => (r.durationMs == null ? null : r.durationMs / 1000));
    const bad = runs.map((r) => (BAD.has(r.status) && r.durationMs != null ? r.durationMs / 1000 : null));
    const line = cssVar('--chart-line');
    const opts: uPlot.Options = {
      width: Math.max(60, el.clientWidth),
      height: 32,
      pxAlign: false,
      cursor: { show: false },
      legend: { show: false },
      select: { show: false, left: 0, top: 0, width: 0, height: 0 },
      scales: {
        // one run: centre its point (uPlot would put a lone x at the left edge, half clipped)
        x: { time: false, range: (_u, min, max) => (xs.length === 1 ? [-1, 1] : [min, max]) },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      axes: [{ show: false }, { show: false }],
      series: [
        {},
        { stroke: line, width: 1.5, fill: cssVar('--chart-fill'), points: { show: runs.length < 3 }, spanGaps: true },
        {
          stroke: cssVar('--bad'),
          paths: () => null,
          points: { show: true, size: 5, width: 0, fill: cssVar('--bad'), stroke: cssVar('--bad') },
        },
      ],
    };
    plot.current = new uPlot(opts, [xs, ys, bad], el);
    const ro = new ResizeObserver(() => {
      const w = Math.max(60, el.clientWidth);
      if (plot.current && Math.abs(plot.current.width - w) > 1) plot.current.setSize({ width: w, height: 32 });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [key, props.scheme]);

  const finished = props.recent.filter((r) => r.durationMs != null);
  if (finished.length === 0) return <div class="spark empty">no durations yet</div>;
  const last = finished[finished.length - 1]?.durationMs;
  const max = Math.max(...finished.map((r) => r.durationMs ?? 0));
  return (
    <div
      class="spark"
      ref={box}
      role="img"
      aria-label={`${props.label}: last ${fmtDuration(last)}, longest ${fmtDuration(max)} over ${finished.length} runs`}
      title={`last ${fmtDuration(last)} · longest ${fmtDuration(max)}`}
    />
  );
}

/** A labelled filter of a list view: "any" (the empty value) first, then each option. */
export function FilterSelect(props: { label: string; name: string; value: string; any: string; options: readonly string[]; onChange: (value: string) => void; text?: (option: string) => string }) {
  return (
    <label>
      <span>{props.label}</span>
      <select value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)} name={props.name}>
        <option value="">{props.any}</option>
        {props.options.map((o) => (
          <option key={o} value={o}>
            {props.text ? props.text(o) : o}
          </option>
        ))}
      </select>
    </label>
  );
}
