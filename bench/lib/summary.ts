import { fmt, type Table } from './table.ts';

/**
 * One row of the combined summary. Lower is better for every figure (milliseconds, bytes, lost
 * or doubled runs, statements), so that one ratio column reads the same way throughout.
 */
export interface Headline {
  readonly figure: string;
  /** Caretaker's figure as printed, and its value; null when Caretaker produced no result. */
  readonly caretaker: { readonly text: string; readonly value: number | null };
  /** The best (lowest) peer of the same run, or null where the suite measures Caretaker alone. */
  readonly peer: { readonly name: string; readonly text: string; readonly value: number } | null;
}

export type Verdict = 'ahead' | 'behind' | 'tied' | 'behind (no result)' | 'no peer';

/** A result that may be missing (out of memory, timed out, unsupported). */
export interface Candidate {
  readonly name: string;
  readonly value: number | undefined;
}

/** Within ±5% Caretaker and its best peer count as tied. */
export const TIE_WITHIN = 0.05;

const finite = (v: number | undefined): v is number => v !== undefined && Number.isFinite(v);

/**
 * Caretaker's worst variant against the best result of any peer, so the summary can only
 * understate Caretaker. Peers without a result do not compete; a Caretaker variant without one
 * makes the row "behind (no result)".
 */
export function versus(figure: string, ours: readonly (number | undefined)[], peers: readonly Candidate[], format: (v: number) => string): Headline {
  const mine = ours.length > 0 && ours.every(finite) ? Math.max(...ours) : null;
  const best = peers.filter((p): p is { name: string; value: number } => finite(p.value)).sort((a, b) => a.value - b.value)[0];
  return {
    figure,
    caretaker: { text: mine === null ? 'no result' : format(mine), value: mine },
    peer: best === undefined ? null : { name: best.name, text: `${best.name}: ${format(best.value)}`, value: best.value },
  };
}

/** A figure measured on Caretaker alone, at each point of a scale (the last point is its value). */
export function caretakerOnly(figure: string, points: readonly Candidate[], format: (v: number) => string): Headline {
  const last = points.at(-1)?.value;
  return {
    figure,
    caretaker: { text: points.map((p) => `${p.name}: ${finite(p.value) ? format(p.value) : 'no result'}`).join(' · '), value: finite(last) ? last : null },
    peer: null,
  };
}

/** Caretaker ÷ best peer (below 1 Caretaker is ahead) and what that says. */
export function judge(h: Headline): { ratio: number | null; verdict: Verdict } {
  if (h.peer === null) return { ratio: null, verdict: 'no peer' };
  const ours = h.caretaker.value;
  if (ours === null) return { ratio: null, verdict: 'behind (no result)' };
  const peer = h.peer.value;
  if (ours === peer) return { ratio: peer === 0 ? null : 1, verdict: 'tied' };
  if (peer === 0) return { ratio: Number.POSITIVE_INFINITY, verdict: 'behind' };
  const ratio = ours / peer;
  return { ratio, verdict: ratio < 1 - TIE_WITHIN ? 'ahead' : ratio > 1 + TIE_WITHIN ? 'behind' : 'tied' };
}

/** The combined table: every selected suite's headline figures, one row each. */
export function summaryTable(rows: readonly { suite: string; headline: Headline }[]): Table {
  return {
    title: 'Summary',
    textColumns: 2,
    header: ['suite', 'figure', 'caretaker', 'best peer', 'vs best peer', 'verdict'],
    rows: rows.map(({ suite, headline }) => {
      const { ratio, verdict } = judge(headline);
      return [suite, headline.figure, headline.caretaker.text, headline.peer?.text ?? '–', ratio === Number.POSITIVE_INFINITY ? '∞' : fmt.ratio(ratio ?? undefined), verdict];
    }),
    note:
      `Lower is better for every figure. "vs best peer" is Caretaker ÷ the best peer of the same run (below 1× Caretaker is ahead; ` +
      `within ±${TIE_WITHIN * 100}% tied); where Caretaker has several variants, its worst one is compared. Scale rows measure Caretaker alone.`,
  };
}
