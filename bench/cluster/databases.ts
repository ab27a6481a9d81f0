import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

// Redis has its own file (redis.ts): the soak imports this one from the root package, which has no Redis client.

/** Where the benchmark's PostgreSQL databases live; `CARETAKER_BENCH_PG` overrides. */
export const PG_ADMIN_URL = process.env.CARETAKER_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh, empty database for one measurement; returns its URL. */
export async function freshDatabase(name: string): Promise<string> {
  await admin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${name}`);
  });
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropDatabase(name: string): Promise<void> {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

/**
 * Statements the database has executed so far (committed plus rolled-back transactions: every
 * statement outside an explicit transaction is one). A backend reports its counts when it
 * exits, so this waits until no one is connected, and is exact only between two such moments.
 */
export async function statementsSoFar(name: string): Promise<number> {
  return admin(async (c) => {
    for (let i = 0; i < 100; i++) {
      const { rows } = await c.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1', [name]);
      if (rows[0]?.n === '0') break;
      await sleep(100);
    }
    await sleep(200);
    await c.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await c.query<{ n: string }>('SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = $1', [name]);
    return Number(rows[0]?.n ?? Number.NaN);
  });
}
