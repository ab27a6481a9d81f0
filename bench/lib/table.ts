/** A printable table: a header row and data rows of strings. */
export interface Table {
  readonly title: string;
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
  readonly note?: string;
  /** How many leading columns hold text (left-aligned); the rest hold figures. @defaultValue 1 */
  readonly textColumns?: number;
}

/** Renders a table with aligned columns for a terminal. */
export function renderText(table: Table): string {
  const widths = table.header.map((h, i) => Math.max(h.length, ...table.rows.map((r) => (r[i] ?? '').length)));
  const text = table.textColumns ?? 1;
  const line = (cells: readonly string[]) => cells.map((c, i) => (i < text ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const out = [table.title, line(table.header), widths.map((w) => '-'.repeat(w)).join('  '), ...table.rows.map(line)];
  if (table.note !== undefined) out.push(table.note);
  return out.join('\n');
}

/** Renders a table as GitHub Markdown. */
export function renderMarkdown(table: Table): string {
  // A pipe inside a cell (e.g. "p99 |error|") would end the cell.
  const row = (cells: readonly string[]) => `| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
  const text = table.textColumns ?? 1;
  const align = table.header.map((_, i) => (i < text ? ':--' : '--:'));
  const out = [`**${table.title}**`, '', row(table.header), row(align), ...table.rows.map(row)];
  if (table.note !== undefined) out.push('', table.note);
  return out.join('\n');
}

export const fmt = {
  ms: (v: number | undefined, digits = 1) => (v === undefined || Number.isNaN(v) ? '–' : `${v.toFixed(digits)} ms`),
  bytes: (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '–' : v >= 10_240 ? `${(v / 1024).toFixed(1)} KB` : `${Math.round(v)} B`),
  ratio: (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : `${v.toFixed(2)}×`),
};
