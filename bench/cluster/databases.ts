import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

/** Where the benchmark's databases live; `CARETAKER_BENCH_PG` overrides. */
export const PG_ADMIN_URL = process.env.CARETAKER_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.CARETAKER_BENCH_REDIS ?? 'redis://127.0.0.1:6379';

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

/** Commands Redis has processed so far (all clients). */
export async function redisCommandsSoFar(): Promise<number> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  await redis.connect();
  try {
    const info = await redis.info('stats');
    return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? Number.NaN) - 1;
  } finally {
    redis.disconnect();
  }
}

export async function flushRedis(): Promise<void> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(REDIS_URL);
  try {
    await redis.flushall();
  } finally {
    redis.disconnect();
  }
}
