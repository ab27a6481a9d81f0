/**
 * A task page's charts over a long history: `GET /api/tasks/:name/stats` answered through the
 * admin API (store query, field discovery and JSON) for a task with 100,000 runs of history (one
 * a minute, ~69 days, with retries, skips and outputs) beside another task's 100,000 runs. The
 * issue's bar: under 200 ms on SQLite and on PostgreSQL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { createScheduler, postgresStore, sqliteStore, type Store } from 'caretaker';
import { createAdminApi } from 'caretaker/http';
import pg from 'pg';
import { dropDatabase, freshDatabase } from '../cluster/databases.ts';
import { percentile } from '../lib/stats.ts';
import type { SuiteOptions, SuiteResult } from '../lib/suite.ts';
import { caretakerOnly, type Headline } from '../lib/summary.ts';
import { fmt, type Table } from '../lib/table.ts';

const RUNS = 100_000;
const MINUTE = 60_000;
const DAY = 1_440 * MINUTE;
const TARGET_MS = 200;
const TASK = 'cleanup';
type Backend = 'SQLite' | 'PostgreSQL';

/** The history ends at this instant (a whole minute): one run a minute before it. */
export const END = Math.floor(Date.now() / MINUTE) * MINUTE;
export const START = END - RUNS * MINUTE;

/** The queries a task page makes, widest last. */
const CASES: readonly { readonly label: string; readonly query: string }[] = [
  { label: '7 days by hour, bytesFreed', query: `from=${END - 7 * DAY}&to=${END}&bucket=hour&field=bytesFreed` },
  { label: '30 days by day, bytesFreed', query: `from=${END - 30 * DAY}&to=${END}&bucket=day&field=bytesFreed` },
  { label: 'all 100,000 runs by day', query: `from=${START}&to=${END}&bucket=day` },
  { label: 'all 100,000 runs by day, bytesFreed', query: `from=${START}&to=${END}&bucket=day&field=bytesFreed` },
  { label: 'all 100,000 runs by hour, bytesFreed', query: `from=${START}&to=${END}&bucket=hour&field=bytesFreed` },
];

/**
 * The rows of one task's history, as the engine writes them: every 20th tick failed once and
 * succeeded on its retry, every 100th was skipped for overlap; outputs carry the cleanup figures.
 */
export function* history(task: string): Generator<(string | number | null)[]> {
  for (let i = 0; i < RUNS; i++) {
    const tick = START + i * MINUTE;
    const id = `${tick.toString(16).padStart(12, '0')}-${task}-${i}`;
    const slot = `t:${tick}`;
    const duration = 40 + ((i * 7919) % 900) + (i % 97 === 0 ? 5_000 : 0);
    const output = JSON.stringify({ removed: i % 50, bytesFreed: ((i * 104_729) % 1_000_000) * 1024, dirs: { scanned: 3 } });
    if (i % 100 === 0) {
      yield [id, task, slot, 1, tick, null, null, 'skipped', null, 1, null];
    } else if (i % 20 === 0) {
      yield [`${id}a`, task, slot, 1, tick, tick + 2, tick + 2 + duration, 'failed', null, 0, tick + 5_000];
      yield [`${id}b`, task, slot, 2, tick, tick + 5_002, tick + 5_002 + duration, 'succeeded', output, 0, null];
    } else {
      yield [id, task, slot, 1, tick, tick + 2, tick + 2 + duration, 'succeeded', output, 0, null];
    }
  }
}

const COLUMNS = 'id, task, slot, attempt, scheduled_for, started_at, finished_at, status, output, skipped_ticks, retry_at';

export async function withBackend<T>(backend: Backend, work: (store: Store, insert: (rows: Iterable<(string | number | null)[]>) => Promise<void>) => Promise<T>): Promise<T> {
  if (backend === 'SQLite') {
    const dir = mkdtempSync(join(tmpdir(), 'caretaker-stats-'));
    const path = join(dir, 'stats.db');
    const store = sqliteStore({ path });
    try {
      await store.open();
      const insert = async (rows: Iterable<(string | number | null)[]>) => {
        const db = new DatabaseSync(path);
        const statement = db.prepare(`INSERT INTO caretaker_runs (${COLUMNS}, trigger, due_at, instance) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'schedule', ?, 'bench')`);
        db.exec('BEGIN');
        for (const r of rows) statement.run(...(r as (string | number | null)[]), r[4] as number);
        db.exec('COMMIT');
        db.exec('ANALYZE');
        db.close();
      };
      return await work(store, insert);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const name = 'caretaker_bench_stats';
  const url = await freshDatabase(name);
  const store = postgresStore({ url });
  try {
    await store.open();
    const insert = async (rows: Iterable<(string | number | null)[]>) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        let batch: (string | number | null)[][] = [];
        const flush = async () => {
          if (batch.length === 0) return;
          const columns = Array.from({ length: 11 }, (_, c) => batch.map((r) => r[c] ?? null));
          await client.query(
            `INSERT INTO caretaker.caretaker_runs (${COLUMNS}, trigger, due_at, instance)
              SELECT *, 'schedule', s, 'bench' FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[], $6::float8[], $7::float8[], $8::text[], $9::jsonb[], $10::int[], $11::bigint[])
                AS u(id, task, slot, attempt, s, started_at, finished_at, status, output, skipped_ticks, retry_at)`,
            columns,
          );
          batch = [];
        };
        for (const r of rows) {
          batch.push(r);
          if (batch.length === 5_000) await flush();
        }
        await flush();
        // As autovacuum leaves a long history: hint bits and the visibility map set, statistics fresh.
        await client.query('VACUUM ANALYZE caretaker.caretaker_runs');
      } finally {
        await client.end();
      }
    };
    return await work(store, insert);
  } finally {
    await store.close();
    await dropDatabase(name);
  }
}

interface CaseFigures {
  readonly label: string;
  readonly p50: number;
  readonly max: number;
  readonly bytes: number;
  readonly runs: number;
}

async function measure(backend: Backend, repeat: number, log: (line: string) => void): Promise<CaseFigures[]> {
  return withBackend(backend, async (store, insert) => {
    log(`  ${backend}: writing ${RUNS.toLocaleString('en')} runs of ${TASK} and of another task`);
    await insert(history(TASK));
    await insert(history('other-task'));
    const scheduler = createScheduler({ store, instance: 'bench-stats' });
    scheduler.add({ name: TASK, schedule: { every: '1m' }, handler: () => {} });
    const api = createAdminApi({ scheduler, dashboard: false, processMetrics: false });
    try {
      const out: CaseFigures[] = [];
      for (const c of CASES) {
        const times: number[] = [];
        let bytes = 0;
        let runs = 0;
        for (let i = 0; i < repeat + 2; i++) {
          const t0 = performance.now();
          const res = await api.fetch(new Request(`http://localhost/api/tasks/${TASK}/stats?${c.query}`));
          const body = await res.text();
          const ms = performance.now() - t0;
          if (res.status !== 200) throw new Error(`${backend} ${c.label}: ${res.status} ${body.slice(0, 200)}`);
          if (i < 2) continue; // warm-up: the first reads fill the caches
          times.push(ms);
          bytes = body.length;
          const { stats } = JSON.parse(body) as { stats: { buckets: { outcomes: Record<string, number> }[] } };
          runs = stats.buckets.reduce((n, b) => n + Object.values(b.outcomes).reduce((x, y) => x + y, 0), 0);
        }
        out.push({ label: c.label, p50: percentile(times, 50), max: Math.max(...times), bytes, runs });
        log(`  ${backend} ${c.label}: p50 ${percentile(times, 50).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms, ${runs} ticks`);
      }
      return out;
    } finally {
      api.close();
    }
  });
}

export async function statsSuite({ quick, log }: SuiteOptions): Promise<SuiteResult> {
  const repeat = quick ? 3 : 9;
  const results: Record<Backend, CaseFigures[]> = { SQLite: await measure('SQLite', repeat, log), PostgreSQL: await measure('PostgreSQL', repeat, log) };
  const table: Table = {
    title: `Task stats: GET /api/tasks/:name/stats over ${RUNS.toLocaleString('en')} runs of history (median and slowest of ${repeat})`,
    header: ['query', 'ticks counted', 'SQLite p50', 'SQLite max', 'PostgreSQL p50', 'PostgreSQL max', 'response'],
    rows: CASES.map((c, i) => {
      const s = results.SQLite[i];
      const p = results.PostgreSQL[i];
      return [c.label, String(s?.runs ?? '–'), fmt.ms(s?.p50), fmt.ms(s?.max), fmt.ms(p?.p50), fmt.ms(p?.max), fmt.bytes(p?.bytes)];
    }),
    note: `Through the admin API (the store's query, the sample of outputs for field names, JSON). Target: under ${TARGET_MS} ms. Another task's ${RUNS.toLocaleString('en')} runs share the table.`,
  };
  const worst = (b: Backend) => Math.max(...results[b].map((r) => r.p50));
  const headlines: Headline[] = [caretakerOnly(`stats over ${RUNS / 1000}k runs, slowest query p50 (target < ${TARGET_MS} ms)`, [
    { name: 'SQLite', value: worst('SQLite') },
    { name: 'PostgreSQL', value: worst('PostgreSQL') },
  ], (v) => fmt.ms(v))];
  return { tables: [table], raw: results, headlines };
}
