import { createHash } from 'node:crypto';
import pg from 'pg';
import { migratePostgres, postgresMigrations } from '../../src/store/postgres/migrate.ts';

/** Server the PostgreSQL tests use; override with CARETAKER_TEST_PG (no database in the URL). */
export const PG_SERVER = process.env.CARETAKER_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432';

let available: Promise<boolean> | undefined;

/** Whether the test server answers (checked once per process). */
export function postgresAvailable(): Promise<boolean> {
  available ??= (async () => {
    const client = new pg.Client({ connectionString: `${PG_SERVER}/postgres`, connectionTimeoutMillis: 3_000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return available;
}

/**
 * Why PostgreSQL tests must be skipped here, or false when they run. In CI an unreachable
 * PostgreSQL is a failure, not a skip: this throws.
 *
 * @example
 * describe('on PostgreSQL', { skip: await postgresSkip() }, () => { ... });
 */
export async function postgresSkip(): Promise<string | false> {
  if (await postgresAvailable()) return false;
  const message = `PostgreSQL is not reachable at ${PG_SERVER}; start it (trust auth, user postgres) or set CARETAKER_TEST_PG to run these tests`;
  if (process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false') throw new Error(`${message} (required in CI)`);
  return message;
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: `${PG_SERVER}/postgres` });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** The template: a database with the default schema migrated, named after the migrations' hash. */
async function template(): Promise<string> {
  const hash = createHash('sha256');
  for (const m of postgresMigrations()) hash.update(m.sql);
  const name = `caretaker_tpl_${hash.digest('hex').slice(0, 12)}`;
  await admin(async (client) => {
    // Test files start in parallel: one of them builds the template, the others wait.
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [name]);
    try {
      const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (rowCount === 0) {
        // Templates of older migrations are of no more use: one is kept, the current one.
        const { rows } = await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'caretaker\\_tpl\\_%' AND datname <> $1", [name]);
        for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
        await client.query(`CREATE DATABASE "${name}"`);
        const pool = new pg.Pool({ connectionString: `${PG_SERVER}/${name}`, max: 1 });
        try {
          await migratePostgres(pool, 'caretaker');
        } finally {
          await pool.end();
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [name]);
    }
  });
  return name;
}

/** A fresh database for one test file, cloned from the migrated template; `drop` removes it. */
export async function testDatabase(): Promise<{ readonly url: string; drop(): Promise<void> }> {
  const tpl = await template();
  const name = `caretaker_t_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  await admin((client) => client.query(`CREATE DATABASE "${name}" TEMPLATE "${tpl}"`));
  return {
    url: `${PG_SERVER}/${name}`,
    drop: () => admin((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => {}),
  };
}

/** Active handles that a closed store must not leave behind (sockets, timers). */
export function openHandles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) if (kind !== 'TTYWrap' && kind !== 'PipeWrap') counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}
