import type { Headline } from './summary.ts';
import type { Table } from './table.ts';

export interface SuiteOptions {
  readonly quick: boolean;
  /** Progress lines (stderr). */
  readonly log: (line: string) => void;
}

/** What a suite hands back: its own tables, its raw figures, and its rows for the combined summary. */
export interface SuiteResult {
  readonly tables: Table[];
  readonly raw: object;
  readonly headlines: Headline[];
}

export type Suite = (options: SuiteOptions) => Promise<SuiteResult>;
