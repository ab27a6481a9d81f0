import { z } from 'zod';
import type { TaskHandler } from '../engine/task.ts';
import type { Duration } from '../util/duration.ts';
import { type Connection, type DatabaseTarget, databaseField, type SqlValue, withConnection } from './database.ts';
import { columnField, quoteName, tableField } from './identifiers.ts';
import { durationField, parseOptions, positiveDurationField } from './options.ts';
import { pause, progressCounter } from './pacing.ts';

/** How the timestamp column stores its instants. */
export type TimestampColumnType = 'timestamp' | 'unix-ms' | 'unix-s';

/** Options of {@link sqlRetention}. */
export interface SqlRetentionOptions {
  readonly database: DatabaseTarget;
  /** The table to prune; `schema.table` works too. Quoted as written, so case matters. */
  readonly table: string;
  /** The column holding each row's instant. */
  readonly column: string;
  /** Rows whose instant is before now minus this are deleted. */
  readonly olderThan: Duration;
  /**
   * `timestamp`: a PostgreSQL `timestamptz`/`timestamp` (UTC) or ISO-8601 text, or in SQLite
   * ISO-8601 text (`2026-01-31T12:00:00Z`, `2026-01-31 12:00:00`, with or without an offset).
   * `unix-ms` / `unix-s`: a number of milliseconds / seconds since 1970. @defaultValue 'timestamp'
   */
  readonly columnType?: TimestampColumnType;
  /** Rows per DELETE: small batches keep locks short and the application responsive. @defaultValue 1000 */
  readonly batchSize?: number;
  /** A pause between batches, to leave the database to the application. @defaultValue 0 */
  readonly pauseBetweenBatches?: Duration;
  /** Count the rows that would be deleted and delete none. @defaultValue false */
  readonly dryRun?: boolean;
}

/** A retention run's output; in a dry run `rowsDeleted` and `batches` are what a real run would need. */
export interface SqlRetentionResult {
  readonly table: string;
  readonly cutoff: string;
  readonly dryRun: boolean;
  readonly rowsDeleted: number;
  readonly batches: number;
}

const schema = z.strictObject({
  database: databaseField,
  table: tableField,
  column: columnField,
  olderThan: positiveDurationField,
  columnType: z.enum(['timestamp', 'unix-ms', 'unix-s']).optional(),
  batchSize: z.number().int().min(1).max(100_000).optional(),
  pauseBetweenBatches: durationField.optional(),
  dryRun: z.boolean().optional(),
});

/**
 * A handler that deletes rows older than a cutoff in bounded batches, the way retention should
 * run next to live traffic: each batch is its own short statement, and the run stops between
 * batches when aborted.
 *
 * @example
 * import { sqlRetention } from 'caretaker/tasks';
 * scheduler.add({
 *   name: 'prune-audit-log',
 *   schedule: { cron: '30 3 * * *' },
 *   handler: sqlRetention({ database: { postgres: process.env.DATABASE_URL! }, table: 'audit_log', column: 'created_at', olderThan: '90d' }),
 * });
 */
export function sqlRetention(options: SqlRetentionOptions): TaskHandler {
  const o = parseOptions('sqlRetention', schema, options);
  const batchSize = o.batchSize ?? 1000;
  const table = quoteName(o.table);
  return async (ctx) => {
    const cutoff = Date.now() - o.olderThan;
    const result = await withConnection(o.database, async (db) => {
      const where = olderThan(db.dialect, quoteName(o.column), o.columnType ?? 'timestamp', cutoff);
      const [row] = await db.all(`SELECT count(*) AS n FROM ${table} WHERE ${where.sql}`, where.params);
      const matched = Number(row?.n ?? 0);
      if (o.dryRun === true) return { rowsDeleted: matched, batches: Math.ceil(matched / batchSize) };
      const report = progressCounter(ctx, matched, 'deleted');
      const key = db.dialect === 'sqlite' ? 'rowid' : 'ctid';
      // Selecting the batch by physical row id lets the DELETE reach its rows without a second
      // scan; `LIMIT` in the subquery is what bounds each statement.
      const statement = `DELETE FROM ${table} WHERE ${key} IN (SELECT ${key} FROM ${table} WHERE ${where.sql} LIMIT ?)`;
      let rowsDeleted = 0;
      let batches = 0;
      for (;;) {
        ctx.signal.throwIfAborted();
        const n = await db.run(statement, [...where.params, batchSize]);
        if (n > 0) batches++;
        rowsDeleted += n;
        report(rowsDeleted);
        // A short batch means nothing old was left when it ran: no need for an empty one.
        if (n < batchSize) break;
        await pause(o.pauseBetweenBatches ?? 0, ctx.signal);
      }
      return { rowsDeleted, batches };
    });
    ctx.progress(1, `${o.dryRun === true ? 'would delete' : 'deleted'} ${result.rowsDeleted} rows`);
    return { table: o.table, cutoff: new Date(cutoff).toISOString(), dryRun: o.dryRun ?? false, ...result } satisfies SqlRetentionResult;
  };
}

/** The condition "the row is older than `cutoff`", with its parameters. */
function olderThan(dialect: Connection['dialect'], column: string, type: TimestampColumnType, cutoff: number): { sql: string; params: SqlValue[] } {
  switch (type) {
    case 'unix-ms':
      return { sql: `${column} < ?`, params: [Math.ceil(cutoff)] };
    case 'unix-s':
      // Whole seconds before ceil(cutoff) are exactly those before the cutoff.
      return { sql: `${column} < ?`, params: [Math.ceil(cutoff / 1000)] };
    case 'timestamp': {
      const iso = new Date(cutoff).toISOString();
      // PostgreSQL reads the ISO string as the column's own type; a timestamp without time
      // zone takes its UTC wall time, the usual way such columns are filled.
      if (dialect === 'postgres') return { sql: `${column} < ?`, params: [iso] };
      // SQLite text compares as text, and "2026-01-31 23:00" sorts before "2026-01-31T01:00".
      // julianday() compares instants in any ISO form; the plain text bound before it (two days
      // past the cutoff, beyond any UTC offset) lets an index on the column narrow the scan.
      const bound = new Date(cutoff + 2 * 86_400_000).toISOString().slice(0, 10);
      return { sql: `${column} < ? AND julianday(${column}) < julianday(?)`, params: [bound, iso] };
    }
  }
}
