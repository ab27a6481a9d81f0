/** A printable table: a header row and data rows of strings. */
export interface Table {
  readonly title: string;
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
  readonly note?: string;
}

/** Renders a table with aligned columns for a terminal. */
export function renderText(table: Table): string {
  const widths = table.header.map((h, i) => Math.max(h.length, ...table.rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const out = [table.title, line(table.header), widths.map((w) => '-'.repeat(w)).join('  '), ...table.rows.map(line)];
  if (table.note !== undefined) out.push(table.note);
  return out.join('\n');
}

/** Renders a table as GitHub Markdown. */
export function renderMarkdown(table: Table): string {
  const row = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  const align = table.header.map((_, i) => (i === 0 ? ':--' : '--:'));
  const out = [`**${table.title}**`, '', row(table.header), row(align), ...table.rows.map(row)];
  if (table.note !== undefined) out.push('', table.note);
  return out.join('\n');
}

export const fmt = {
  ms: (v: number | undefined, digits = 1) => (v === undefined || Number.isNaN(v) ? '–' : `${v.toFixed(digits)} ms`),
  bytes: (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '–' : v >= 10_240 ? `${(v / 1024).toFixed(1)} KB` : `${Math.round(v)} B`),
  ratio: (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : `${v.toFixed(2)}×`),
};
