import { stat } from 'node:fs/promises';
import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import type pg from 'pg';
import { z } from 'zod';
import { loadNodeSqlite } from '../store/sqlite/connection.ts';

/** Which database a SQL task works on: a SQLite file, or a PostgreSQL connection URL. */
export type DatabaseTarget = { readonly sqlite: string } | { readonly postgres: string };

/** The `database` option of the SQL tasks. */
export const databaseField = z
  .strictObject({
    sqlite: z.string().min(1, { message: 'must be the path of a SQLite file' }).optional(),
    postgres: z.string().regex(/^postgres(ql)?:\/\//, { message: 'must be a connection URL like "postgres://user@host:5432/db"' }).optional(),
  })
  .refine((value) => (value.sqlite === undefined) !== (value.postgres === undefined), {
    message: 'set exactly one of sqlite (a file path) or postgres (a connection URL)',
    // After a typo such as "postgress", the "did you mean" line already says it all.
    when: (payload) => payload.issues.length === 0,
  })
  .transform((value): DatabaseTarget => (value.sqlite !== undefined ? { sqlite: value.sqlite } : { postgres: value.postgres ?? '' }));

export type SqlValue = string | number | bigint | null;
export type Row = Record<string, unknown>;

/**
 * One connection for one run. SQL is written once with `?` placeholders; PostgreSQL gets them
 * numbered. Only this module's callers write SQL, and none of their text holds a literal `?`.
 */
export interface Connection {
  readonly dialect: 'sqlite' | 'postgres';
  all(sql: string, params?: readonly SqlValue[]): Promise<Row[]>;
  /** Resolves with the number of rows the statement changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /** Runs `work` in a transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: () => Promise<T>): Promise<T>;
}

/** How long SQLite waits for the application's writers before a statement fails. */
const SQLITE_BUSY_TIMEOUT_MS = 5_000;

/**
 * Opens the target, runs `work`, and always closes the connection, so a failed or aborted run
 * leaves no handle behind. `node:sqlite` and `pg` load on first use: a service that only uses
 * one of them never loads the other.
 *
 * @example
 * const rows = await withConnection({ sqlite: './app.db' }, (db) => db.all('SELECT 1 AS one'));
 */
export async function withConnection<T>(target: DatabaseTarget, work: (connection: Connection) => Promise<T>): Promise<T> {
  return 'sqlite' in target ? withSqlite(target.sqlite, work) : withPostgres(target.postgres, work);
}

async function withSqlite<T>(path: string, work: (connection: Connection) => Promise<T>): Promise<T> {
  // Opening a missing file would create an empty database and then fail on "no such table".
  const info = await stat(path).catch(() => null);
  if (info === null || !info.isFile()) throw new Error(`SQLite database ${JSON.stringify(path)} does not exist or is not a file`);
  const { DatabaseSync } = await loadNodeSqlite('SQLite task');
  const db: DatabaseSync = new DatabaseSync(path, { timeout: SQLITE_BUSY_TIMEOUT_MS });
  const connection: Connection = {
    dialect: 'sqlite',
    all: async (sql, params = []) => db.prepare(sql).all(...(params as SQLInputValue[])),
    run: async (sql, params = []) => Number(db.prepare(sql).run(...(params as SQLInputValue[])).changes),
    transaction: async (fn) => {
      db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn();
        db.exec('COMMIT');
        return result;
      } catch (error) {
        // SQLite rolls back by itself after some errors (a full disk, for one).
        if (db.isTransaction) db.exec('ROLLBACK');
        throw error;
      }
    },
  };
  try {
    return await work(connection);
  } finally {
    db.close();
  }
}

async function withPostgres<T>(url: string, work: (connection: Connection) => Promise<T>): Promise<T> {
  const { Client } = (await import('pg')).default;
  const client: pg.Client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  // A connection dropped between queries must fail the next query, not crash the process.
  client.on('error', () => {});
  const numbered = (sql: string): string => {
    let n = 0;
    return sql.replace(/\?/g, () => `$${++n}`);
  };
  const connection: Connection = {
    dialect: 'postgres',
    all: async (sql, params = []) => (await client.query(numbered(sql), params as unknown[])).rows as Row[],
    run: async (sql, params = []) => (await client.query(numbered(sql), params as unknown[])).rowCount ?? 0,
    transaction: async (fn) => {
      await client.query('BEGIN');
      try {
        const result = await fn();
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    },
  };
  try {
    await client.connect();
    return await work(connection);
  } finally {
    await client.end().catch(() => {});
  }
}
