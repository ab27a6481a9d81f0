import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { TaskHandler } from '../engine/task.ts';
import { type Connection, type DatabaseTarget, databaseField, type Row, type SqlValue, withConnection } from './database.ts';
import { columnField, quoteName, tableField } from './identifiers.ts';
import { optionIssue, parseOptions } from './options.ts';
import { progressCounter } from './pacing.ts';

/** Options of {@link orphanCleanup}. */
export interface OrphanCleanupOptions {
  readonly database: DatabaseTarget;
  /** The table whose rows point at files; `schema.table` works too. */
  readonly table: string;
  /** The column holding each row's file path. */
  readonly pathColumn: string;
  /**
   * A unique column (the primary key) the table is paged through. @defaultValue `rowid` on
   * SQLite; required on PostgreSQL
   */
  readonly idColumn?: string;
  /** What relative paths resolve against; without it, rows with relative paths are skipped, never deleted. */
  readonly root?: string;
  /** Rows read (and files checked) per batch. @defaultValue 500 */
  readonly batchSize?: number;
  /** Count the orphans and delete none. @defaultValue false */
  readonly dryRun?: boolean;
}

/** An orphan cleanup run's output; in a dry run, `rowsDeleted` is what a real run would delete. */
export interface OrphanCleanupResult {
  readonly table: string;
  readonly dryRun: boolean;
  readonly rowsScanned: number;
  readonly rowsDeleted: number;
  /** Rows whose file could not be judged: no path, a relative path without `root`, or an unreadable location. */
  readonly rowsSkipped: number;
  readonly batches: number;
}

const schema = z.strictObject({
  database: databaseField,
  table: tableField,
  pathColumn: columnField,
  idColumn: columnField.optional(),
  root: z.string().min(1).optional(),
  batchSize: z.number().int().min(1).max(10_000).optional(),
  dryRun: z.boolean().optional(),
});

/**
 * A handler that deletes rows whose file no longer exists (uploads removed from disk, cache
 * entries whose blob is gone). A row is deleted only if its file is certainly missing, and only
 * if its path did not change since it was read.
 *
 * @example
 * import { orphanCleanup } from 'caretaker/tasks';
 * scheduler.add({
 *   name: 'orphaned-uploads',
 *   schedule: { every: '1d' },
 *   handler: orphanCleanup({ database: { sqlite: './app.db' }, table: 'uploads', pathColumn: 'path', root: './uploads' }),
 * });
 */
export function orphanCleanup(options: OrphanCleanupOptions): TaskHandler {
  const o = parseOptions('orphanCleanup', schema, options, (p) =>
    'postgres' in p.database && p.idColumn === undefined
      ? [optionIssue('idColumn', undefined, 'is required with PostgreSQL: name a unique column (such as the primary key) to page through the table')]
      : [],
  );
  const root = o.root === undefined ? null : path.resolve(o.root);
  const batchSize = o.batchSize ?? 500;
  const table = quoteName(o.table);
  const id = o.idColumn === undefined ? 'rowid' : quoteName(o.idColumn);
  const file = quoteName(o.pathColumn);
  const dryRun = o.dryRun ?? false;
  return async (ctx) => {
    const counts = await withConnection(o.database, async (db) => {
      const [total] = await db.all(`SELECT count(*) AS n FROM ${table}`);
      const report = progressCounter(ctx, Number(total?.n ?? 0), 'checked');
      const c = { rowsScanned: 0, rowsDeleted: 0, rowsSkipped: 0, batches: 0 };
      let last: SqlValue | undefined;
      for (;;) {
        ctx.signal.throwIfAborted();
        const page = last === undefined ? '' : `WHERE ${id} > ?`;
        const rows = await db.all(`SELECT ${id} AS k, ${file} AS p FROM ${table} ${page} ORDER BY ${id} LIMIT ?`, last === undefined ? [batchSize] : [last, batchSize]);
        if (rows.length === 0) break;
        const { orphans, skipped } = await findOrphans(rows, root);
        c.rowsDeleted += dryRun ? orphans.length : await deleteRows(db, `DELETE FROM ${table} WHERE ${id} = ? AND ${file} = ?`, orphans);
        c.rowsScanned += rows.length;
        c.rowsSkipped += skipped;
        c.batches++;
        report(c.rowsScanned);
        last = rows.at(-1)?.k as SqlValue;
        if (rows.length < batchSize) break;
      }
      return c;
    });
    ctx.progress(1, `${dryRun ? 'would delete' : 'deleted'} ${counts.rowsDeleted} orphaned rows`);
    return { table: o.table, dryRun, ...counts } satisfies OrphanCleanupResult;
  };
}

/** Rows whose file is certainly gone; anything the file system cannot answer for is skipped. */
async function findOrphans(rows: readonly Row[], root: string | null): Promise<{ orphans: Row[]; skipped: number }> {
  let skipped = 0;
  const checks = await Promise.all(
    rows.map(async (row) => {
      const stored = row.p;
      if (typeof stored !== 'string' || stored === '' || (root === null && !path.isAbsolute(stored))) {
        skipped++;
        return false;
      }
      try {
        // lstat: a dangling link is still something the row points at; leave it to a person.
        await lstat(root === null ? stored : path.resolve(root, stored));
        return false;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return true;
        skipped++;
        return false;
      }
    }),
  );
  return { orphans: rows.filter((_, i) => checks[i]), skipped };
}

/** One transaction per batch; the path is matched again so a row re-pointed meanwhile survives. */
async function deleteRows(db: Connection, statement: string, orphans: readonly Row[]): Promise<number> {
  if (orphans.length === 0) return 0;
  return db.transaction(async () => {
    let n = 0;
    for (const row of orphans) n += await db.run(statement, [row.k as SqlValue, row.p as string]);
    return n;
  });
}
