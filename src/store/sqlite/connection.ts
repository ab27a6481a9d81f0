import type { DatabaseSync } from 'node:sqlite';
import { CaretakerError, ErrorCode } from '../../util/errors.ts';
import { type MigrationFile, readMigrations } from '../sql/migration-files.ts';

const MIGRATIONS = new URL('./migrations/', import.meta.url);

/** The numbered migrations, in order. */
export function sqliteMigrations(): MigrationFile[] {
  return readMigrations(MIGRATIONS);
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
  const { DatabaseSync } = await import('node:sqlite');
  const db = new DatabaseSync(options.path);
  try {
    db.exec(`PRAGMA busy_timeout = ${Math.round(options.busyTimeoutMs)}`);
    db.exec('PRAGMA journal_mode = WAL');
    db.exec(`PRAGMA synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.exec('PRAGMA foreign_keys = ON');
    migrate(db);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

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
      db.exec('ROLLBACK');
      throw error;
    }
  }
}

function userVersion(db: DatabaseSync): number {
  const row = db.prepare('PRAGMA user_version').get() as { user_version: number } | undefined;
  return row?.user_version ?? 0;
}
