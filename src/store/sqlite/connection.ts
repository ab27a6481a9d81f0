import type { DatabaseSync } from 'node:sqlite';
import { CaretakerError, ErrorCode } from '../../util/errors.ts';
import { type MigrationFile, readMigrations } from '../sql/migration-files.ts';

const MIGRATIONS = new URL('./migrations/', import.meta.url);

/** The numbered migrations, in order. */
export function sqliteMigrations(): MigrationFile[] {
  return readMigrations(MIGRATIONS);
}

/** SQLite's primary result codes that mean the file or its disk, not Caretaker, is at fault. */
const FULL = 13;
const READONLY = 8;
const CANTOPEN = 14;
const IOERR = 10;

/**
 * Turns a node:sqlite error about the file or its disk into an error that names the file and
 * the fix; anything else passes through unchanged.
 */
export function sqliteFailure(error: unknown, path: string): unknown {
  const errcode = (error as { errcode?: unknown } | null)?.errcode;
  if (typeof errcode !== 'number') return error;
  const detail = (error as { errstr?: string }).errstr ?? (error as Error).message;
  const say = (message: string) => new CaretakerError(ErrorCode.Store, `${message} (SQLite: ${detail})`, { cause: error });
  switch (errcode & 0xff) {
    case FULL:
      return say(`the disk holding the SQLite database ${path} is full; free space there. Nothing was written; Caretaker keeps retrying`);
    case READONLY:
      return say(`the SQLite database ${path} is read-only; make the file, its directory and its filesystem writable by this process, or set store.path to a writable place`);
    case CANTOPEN:
      return say(`cannot open the SQLite database ${path}; check that its directory exists and is writable by this process`);
    case IOERR:
      return say(`an I/O error on the SQLite database ${path}; check the disk and the filesystem (read-only, full or failing)`);
    default:
      return error;
  }
}

/**
 * `node:sqlite`, or an error that says which Node.js it needs: older versions (and 22.5–22.12
 * without `--experimental-sqlite`) do not know the module, and their raw error names no fix.
 */
export async function loadNodeSqlite(who = 'sqliteStore'): Promise<typeof import('node:sqlite')> {
  try {
    return await import('node:sqlite');
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code !== 'ERR_UNKNOWN_BUILTIN_MODULE') throw error;
    throw new CaretakerError(
      ErrorCode.Store,
      `${who}: node:sqlite is not available in Node.js ${process.version}; SQLite needs Node.js 22.13 or newer: upgrade Node.js${who === 'sqliteStore' ? ', or use memoryStore() or postgresStore()' : ''}`,
      { cause: error },
    );
  }
}

/** Connection settings. */
export interface SqliteConnectionOptions {
  readonly path: string;
  readonly busyTimeoutMs: number;
  readonly synchronous: 'normal' | 'full';
}

/**
 * Opens the database file with the settings several processes need to share it: WAL (readers
 * never wait for the writer), a busy timeout (writers queue instead of failing), and
 * `synchronous = FULL` by default, so a committed claim survives a power cut.
 */
export async function openDatabase(options: SqliteConnectionOptions): Promise<DatabaseSync> {
  // Loaded on first use: importing Caretaker must not load SQLite (and print its warning).
  const { DatabaseSync } = await loadNodeSqlite();
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(options.path);
  } catch (error) {
    throw sqliteFailure(error, options.path);
  }
  try {
    db.exec(`PRAGMA busy_timeout = ${Math.round(options.busyTimeoutMs)}`);
    await switchToWal(db, options.busyTimeoutMs);
    db.exec(`PRAGMA synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.exec('PRAGMA foreign_keys = ON');
    migrate(db);
    return db;
  } catch (error) {
    db.close();
    throw sqliteFailure(error, options.path);
  }
}

/**
 * Switches the file to WAL. Processes opening a new file together each try to: the switch needs
 * the file to themselves, and SQLite may answer SQLITE_BUSY at once, without its busy handler
 * (CI saw a replica exit with "database is locked" here). So it is retried, with a short random
 * pause, until the busy timeout has passed.
 */
async function switchToWal(db: DatabaseSync, busyTimeoutMs: number): Promise<void> {
  const deadline = Date.now() + busyTimeoutMs;
  for (;;) {
    try {
      db.exec('PRAGMA journal_mode = WAL');
      return;
    } catch (error) {
      const busy = (((error as { errcode?: number } | null)?.errcode ?? 0) & 0xff) === SQLITE_BUSY;
      if (!busy || Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20));
    }
  }
}

/** SQLite's primary result code for a locked database file. */
const SQLITE_BUSY = 5;

/**
 * Applies pending migrations, each in an immediate transaction that re-reads the version, so
 * processes starting together migrate once. `PRAGMA user_version` holds the version.
 */
export function migrate(db: DatabaseSync): void {
  const migrations = sqliteMigrations();
  const latest = migrations.at(-1)?.version ?? 0;
  const current = userVersion(db);
  if (current > latest) {
    throw new CaretakerError(
      ErrorCode.Store,
      `the SQLite database is at schema version ${current}, newer than this Caretaker knows (${latest}); upgrade Caretaker, or point it at another file`,
    );
  }
  for (const migration of migrations) {
    if (migration.version <= current) continue;
    db.exec('BEGIN IMMEDIATE');
    try {
      if (userVersion(db) < migration.version) {
        db.exec(migration.sql);
        db.exec(`PRAGMA user_version = ${migration.version}`);
      }
      db.exec('COMMIT');
    } catch (error) {
      rollback(db);
      throw error;
    }
  }
}

function userVersion(db: DatabaseSync): number {
  const row = db.prepare('PRAGMA user_version').get() as { user_version: number } | undefined;
  return row?.user_version ?? 0;
}

/**
 * Rolls back the open transaction, if there still is one: after a full disk or an I/O error
 * SQLite has already rolled it back, and a second ROLLBACK's error would hide the real one.
 */
export function rollback(db: DatabaseSync): void {
  try {
    db.exec('ROLLBACK');
  } catch {
    // No transaction was active.
  }
}
