/**
 * Decision 039: a batch of claims or ends reads a few rows per run by key, whatever the size of
 * the tables, the size of the batch, or what the connection ran before. PL/pgSQL plans a
 * statement for the values of a call; seeing 1,000 ids, the planner preferred reading every task
 * and every run. These tests run the functions with auto_explain (nested statements, actual row
 * counts) and bound the rows each scan of the task and run tables read.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import pg from 'pg';
import { postgresStore } from '../../src/index.ts';
import { postgresSkip, testDatabase } from '../helpers/postgres.ts';

const skip = await postgresSkip();
const TASKS = 20_000;
/** Tasks 1..RUNNING have a running run (slot t:1000); the others only a finished one. */
const RUNNING = 10_000;

const runId = (i: number) => `r${String(i).padStart(6, '0')}`;
const range = (from: number, n: number) => Array.from({ length: n }, (_, k) => from + k);
/** One column of a batch: the same value for each of `n` rows. */
const filled = <V>(n: number, value: V): V[] => Array.from({ length: n }, () => value);

/** One scan of a Caretaker table in a logged plan, and how many rows it read (kept and filtered out, over all loops). */
interface TableRead {
  readonly line: string;
  readonly rows: number;
}

/**
 * The scans of the task and run tables (and their indexes) in auto_explain's ANALYZE output.
 * EXPLAIN reports rows and rows removed per loop.
 */
function tableReads(plan: string): TableRead[] {
  const lines = plan.split('\n');
  const reads: TableRead[] = [];
  lines.forEach((line, i) => {
    if (!/(Seq Scan|Index Scan|Index Only Scan|Bitmap Heap Scan|Bitmap Index Scan)\b.* on caretaker_(runs|tasks)/.test(line)) return;
    const actual = /actual rows=(\d+) loops=(\d+)/.exec(line);
    if (actual === null) return;
    let removed = 0;
    const depth = line.search(/\S/);
    for (let j = i + 1; j < lines.length; j++) {
      const next = lines[j] as string;
      if (next.search(/\S/) <= depth || next.includes('->')) break;
      const filtered = /Rows Removed by (?:Filter|Index Recheck): (\d+)/.exec(next);
      if (filtered !== null) removed += Number(filtered[1]);
    }
    reads.push({ line: line.trim().slice(0, 160), rows: (Number(actual[1]) + removed) * Number(actual[2]) });
  });
  return reads;
}

describe('PostgreSQL batch functions read a few rows per run', { skip }, () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  let client: pg.Client;
  /** Plans logged by the current call: auto_explain sends each as a notice. */
  let plans: string[] = [];

  /** Runs one call in a transaction that is rolled back (the tables stay as built) and returns its rows and nested plans. */
  async function explained<T>(sql: string, params: unknown[]): Promise<{ rows: T[]; plans: string[] }> {
    plans = [];
    await client.query('BEGIN');
    try {
      const { rows } = await client.query(sql, params);
      return { rows: rows as T[], plans };
    } finally {
      await client.query('ROLLBACK');
    }
  }

  const claim = (tasks: readonly number[], tick: (i: number) => number) => {
    const names = tasks.map((i) => `t${i}`);
    const n = tasks.length;
    const ticks = tasks.map(tick);
    return explained<{ kind: string }>('SELECT * FROM caretaker_claim_ticks($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)', [
      names.map((name, k) => `c-${name}-${ticks[k]}`), names, ticks, ticks, ticks, filled(n, 'skip'), filled(n, 1), filled(n, 60_000), filled(n, 'b'), 5000,
    ]);
  };

  const end = (runs: readonly number[]) => {
    const n = runs.length;
    return explained<{ n: number[] | null }>(
      'SELECT * FROM caretaker_finish_many($1, $2, $3, $4, $5, $6::jsonb[], $7::jsonb[], $8, $9::jsonb[], $10, $11::text[], $12::float8[], $13)',
      [runs.map(runId), filled(n, 1), runs.map((i) => (i % 3 === 0 ? 'failed' : 'succeeded')), filled(n, 1000), filled(n, 1001), filled(n, null), filled(n, null),
        filled(n, null), filled(n, null), filled(n, true), filled(n, null), filled(n, null), 2000],
    );
  };

  /** The scans that read more than a few rows per run of a batch of `n`. */
  const wholeReads = (logged: readonly string[], n: number) => {
    const reads = logged.flatMap(tableReads);
    assert.ok(reads.length > 0, 'the plans of the call were logged');
    return reads.filter((read) => read.rows > 2 * n + 50);
  };

  before(async () => {
    db = await testDatabase();
    const store = postgresStore({ url: db.url });
    await store.open();
    await store.close();
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query('SET search_path = caretaker');
    const tasks = (from: number, to: number) => client.query(`INSERT INTO caretaker_tasks (name, schedule_key, since, fencing)
      SELECT 't' || i, 'every:1h', 0, 1 FROM generate_series(${from}, ${to}) i`);
    const running = (from: number, to: number) => client.query(`INSERT INTO caretaker_runs (id, task, slot, attempt, trigger,
        scheduled_for, due_at, status, instance, fencing_token, lease_expires_at)
      SELECT 'r' || lpad(i::text, 6, '0'), 't' || i, 't:1000', 1, 'schedule', 1000, 1000, 'running', 'a', 1, 9000000000000
      FROM generate_series(${from}, ${to}) i`);
    // First on small, analyzed tables, more than five calls of each on this connection: a plan
    // PostgreSQL kept from these would read whole tables once they have grown.
    await tasks(1, 10);
    await running(1, 10);
    await client.query('ANALYZE caretaker_tasks');
    await client.query('ANALYZE caretaker_runs');
    for (let k = 0; k < 7; k++) {
      await claim([1, 2, 3], () => 1000 + k);
      await end([1, 2, 3]);
    }
    // Then grown, and not analyzed again.
    await tasks(11, TASKS);
    await running(11, RUNNING);
    // Finished history, so the run table is as large as the task table.
    await client.query(`INSERT INTO caretaker_runs (id, task, slot, attempt, trigger, scheduled_for, due_at, status, finished_at)
      SELECT 'h' || i, 't' || i, 't:0', 1, 'schedule', 0, 0, 'succeeded', 1 FROM generate_series(1, ${TASKS - RUNNING}) i`);
    await client.query("LOAD 'auto_explain'");
    await client.query(`SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on;
      SET auto_explain.log_analyze = on; SET auto_explain.log_timing = off; SET auto_explain.log_level = notice;
      SET client_min_messages = notice`);
    client.on('notice', (notice) => plans.push(String(notice.message)));
  });

  after(async () => {
    await client?.end();
    await db?.drop();
  });

  it('tableReads counts the rows a scan read, filtered ones included', () => {
    const plan = [
      'Update on caretaker_runs r  (cost=1..2 rows=5 width=4) (actual rows=0 loops=1)',
      '  ->  Nested Loop  (cost=1..2 rows=5 width=4) (actual rows=7 loops=1)',
      '        ->  Index Scan using caretaker_runs_pkey on caretaker_runs r  (cost=0.42..14.31 rows=1 width=55) (actual rows=1 loops=7)',
      '              Index Cond: (id = x.run_id)',
      '              Rows Removed by Filter: 2',
      '        ->  Seq Scan on caretaker_tasks t  (cost=0.00..489.58 rows=24058 width=12) (actual rows=3 loops=1)',
      '              Rows Removed by Filter: 19997',
    ].join('\n');
    assert.deepEqual(tableReads(plan).map((read) => read.rows), [21, 20000]);
  });

  it('claims: any batch of started, skipped and taken ticks reads a few rows per claim', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1_000 }), fc.integer({ min: 1, max: TASKS - 1_000 }), async (n, first) => {
        const tasks = range(first, n);
        // Tasks with a running run: an odd one's tick is that run's (taken), an even one's the next (skipped for overlap).
        const { rows, plans: logged } = await claim(tasks, (i) => (i <= RUNNING && i % 2 === 0 ? 2000 : 1000));
        assert.deepEqual(rows.map((row) => row.kind), tasks.map((i) => (i > RUNNING ? 'started' : i % 2 === 0 ? 'skipped' : 'taken')));
        assert.deepEqual(wholeReads(logged, n), []);
      }),
      { numRuns: 12 },
    );
  });

  it('ends: any batch reads a few rows per end', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1_000 }), fc.integer({ min: 11, max: RUNNING - 1_000 }), async (n, first) => {
        const { rows, plans: logged } = await end(range(first, n));
        assert.equal(rows[0]?.n?.length, n, 'every end recorded');
        assert.deepEqual(wholeReads(logged, n), []);
      }),
      { numRuns: 12 },
    );
  });

  it("the poll finds its instance's cancel requests through their index", async () => {
    await client.query('UPDATE caretaker_runs SET cancel_requested = true WHERE id = $1', [runId(7)]);
    try {
      const { rows, plans: logged } = await explained<{ result: { cancels: string[] } }>('SELECT caretaker_poll($1, $2, $3, $4, $5) AS result', ['a', 2000, 0, 0, []]);
      assert.deepEqual(rows[0]?.result.cancels, [runId(7)]);
      const cancels = logged.find((plan) => plan.includes("'cancels'")) ?? '';
      assert.ok(cancels.includes('caretaker_runs_cancel_requested'), cancels.split('\n').slice(0, 20).join('\n'));
    } finally {
      await client.query('UPDATE caretaker_runs SET cancel_requested = false WHERE id = $1', [runId(7)]);
    }
  });
});
