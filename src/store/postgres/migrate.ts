import type { Pool } from 'pg';
import { CaretakerError, ErrorCode } from '../../util/errors.ts';
import { type MigrationFile, readMigrations } from '../sql/migration-files.ts';

const MIGRATIONS = new URL('./migrations/', import.meta.url);

/** The numbered migrations, in order. */
export function postgresMigrations(): MigrationFile[] {
  return readMigrations(MIGRATIONS);
}

/** A schema name as SQL: validated, then quoted. */
export function quoteSchema(schema: string): string {
  return `"${schema}"`;
}

/**
 * Brings the schema to the latest version. One transaction under an advisory lock per schema,
 * so ten replicas starting together migrate once; the others wait, then find nothing to do.
 * A database migrated by a newer Caretaker is refused rather than written to.
 */
export async function migratePostgres(pool: Pool, schema: string): Promise<void> {
  const migrations = postgresMigrations();
  const latest = migrations.at(-1)?.version ?? 0;
  const q = quoteSchema(schema);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`caretaker:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${q}`);
    await client.query(`SET LOCAL search_path TO ${q}`);
    await client.query('CREATE TABLE IF NOT EXISTS caretaker_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const { rows } = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM caretaker_migrations');
    const current = rows[0]?.version ?? 0;
    if (current > latest) {
      throw new CaretakerError(
        ErrorCode.Store,
        `the PostgreSQL schema "${schema}" is at version ${current}, newer than this Caretaker knows (${latest}); upgrade Caretaker, or use another schema`,
      );
    }
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO caretaker_migrations (version) VALUES ($1)', [migration.version]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
