import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createScheduler, postgresStore } from '../../src/index.ts';
import { createTestClock } from '../../src/testing/index.ts';
import { postgresMigrations } from '../../src/store/postgres/migrate.ts';
import { openHandles, postgresSkip, testDatabase } from '../helpers/postgres.ts';
import { describeStoreContract } from './contract.ts';

// One database for this file, cloned from the migrated template; a schema of its own per test.
let database: Awaited<ReturnType<typeof testDatabase>> | null = null;
let schemas = 0;
const skip = await postgresSkip();

describe('PostgreSQL store', { skip }, () => {
  before(async () => {
    database = await testDatabase();
  });
  after(async () => {
    await database?.drop();
  });

  describeStoreContract('postgres', async () => {
    if (database === null) throw new Error('no test database');
    const handles = openHandles();
    const store = postgresStore({ url: database.url, schema: `contract_${++schemas}` });
    return {
      store,
      close: async () => {
        // The store was closed by the suite: no pool, socket or timer may be left. Sockets close
        // asynchronously, so allow them a moment.
        for (let i = 0; i < 50 && JSON.stringify(openHandles()) !== JSON.stringify(handles); i++) await new Promise((resolve) => setTimeout(resolve, 20));
        assert.deepEqual(openHandles(), handles, 'the closed store left handles behind');
      },
    };
  });

  it('migrates once when ten replicas start together, and refuses a newer schema', async () => {
    if (database === null) throw new Error('no test database');
    const stores = Array.from({ length: 10 }, () => postgresStore({ url: database!.url, schema: 'concurrent' }));
    await Promise.all(stores.map((s) => s.open()));
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      const { rows } = await admin.query('SELECT count(*)::int AS n FROM concurrent.caretaker_migrations');
      assert.equal(rows[0].n, postgresMigrations().length, 'each migration applied once');
      await Promise.all(stores.map((s) => s.close()));
      await admin.query('INSERT INTO concurrent.caretaker_migrations (version) VALUES (999)');
      const newer = postgresStore({ url: database.url, schema: 'concurrent' });
      await assert.rejects(newer.open(), new RegExp(`schema "concurrent" is at version 999, newer than this Caretaker knows \\(${postgresMigrations().length}\\); upgrade Caretaker`));
    } finally {
      await admin.end();
    }
  });

  it('a scheduler registers and runs every kind of schedule on it (cron, every, at)', async () => {
    if (database === null) throw new Error('no test database');
    const clock = createTestClock({ start: '2026-03-29T00:59:00Z', settleTurns: 5 });
    const store = postgresStore({ url: database.url, schema: 'kinds' });
    const scheduler = createScheduler({ store, clock, instance: 'kinds' });
    const ran: string[] = [];
    const handler = (ctx: { task: string }) => void ran.push(ctx.task);
    scheduler.add({ name: 'cron', schedule: { cron: '0 * * * *', timezone: 'Europe/Berlin', dst: { gap: 'skip' } }, handler });
    scheduler.add({ name: 'every', schedule: { every: '30m' }, handler });
    scheduler.add({ name: 'at', schedule: { at: '2026-03-29T01:00:00Z' }, handler });
    await scheduler.start();
    // The first `every` tick is due at start: let its claim (real I/O) come back before virtual
    // time moves on, or it comes back a minute "late", with its lease gone, and is not started.
    await scheduler.onIdle();
    await clock.advance(61_000);
    await scheduler.onIdle();
    const tasks = (await store.listTasks()).map((t) => t.name).sort();
    await scheduler.stop();
    assert.deepEqual(tasks, ['at', 'cron', 'every']);
    assert.deepEqual(ran.sort(), ['at', 'cron', 'every']);
  });

  it('upgrades a schema a previous version left, keeping its runs', async () => {
    if (database === null) throw new Error('no test database');
    const [first] = postgresMigrations();
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      // The schema exactly as version 1 left it, with a run in it.
      await admin.query('BEGIN');
      await admin.query('CREATE SCHEMA old; SET LOCAL search_path TO old');
      await admin.query(first!.sql);
      await admin.query('CREATE TABLE caretaker_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
      await admin.query('INSERT INTO caretaker_migrations (version) VALUES (1)');
      await admin.query('COMMIT');
      await admin.query(`INSERT INTO old.caretaker_runs (id, task, slot, attempt, trigger, scheduled_for, due_at, status, instance)
        VALUES ('r1', 't', 't:0', 1, 'schedule', 0, 0, 'succeeded', 'i')`);
      const old = postgresStore({ url: database.url, schema: 'old' });
      await old.open();
      const { rows } = await admin.query('SELECT max(version)::int AS v FROM old.caretaker_migrations');
      assert.equal(rows[0].v, postgresMigrations().length);
      assert.equal((await old.getRun('r1'))?.status, 'succeeded');
      const poll = await old.poll({ instance: 'i', now: 1, pauseVersion: 0, retryGraceMs: 1, held: ['r1'] });
      assert.deepEqual(poll.interrupted, []);
      // A replica of the previous release (rolling upgrade) still pauses with the old signature.
      await old.registerTasks([{ name: 't', scheduleKey: 'k', anchor: null, paused: false }], 1);
      const { rows: paused } = await admin.query("SELECT old.caretaker_set_paused('t', true) AS ok");
      assert.equal(paused[0].ok, true);
      const [state] = await old.listTasks();
      assert.deepEqual([state?.paused, state?.pauseNote], [true, null]);
      await old.close();
    } finally {
      await admin.end();
    }
  });

  it('replicas registering and claiming the same tasks in any order at once never deadlock', async () => {
    if (database === null) throw new Error('no test database');
    const stores = Array.from({ length: 6 }, () => postgresStore({ url: database!.url, schema: 'register_race' }));
    await Promise.all(stores.map((s) => s.open()));
    try {
      const names = Array.from({ length: 300 }, (_, k) => `t${k}`);
      const registrations = (order: string[]) => order.map((name) => ({ name, scheduleKey: 'k', anchor: null, paused: false }));
      await stores[0]!.registerTasks(registrations(names), Date.now());
      // Existing tasks: registration locks their rows, as claims do (in name order); a replica
      // starting while others claim must take them in the same order.
      for (let round = 0; round < 8; round++) {
        const now = Date.now() + round;
        await Promise.all(
          stores.map((store, n) => {
            const order = names.map((_, k) => names[(k * (2 * n + 3) + round) % names.length] as string);
            if (n % 2 === 0) return store.registerTasks(registrations(order), now);
            return store.claim(order.map((task) => ({ runId: `${task}-${round}-${n}`, task, slot: `t:${now}`, attempt: 1, trigger: 'schedule', scheduledFor: now, dueAt: now, startAt: now, instance: `i${n}`, skip: null, skippedTicks: 1, overlap: 'allow', maxConcurrent: 1_000, leaseMs: 15_000 })), now);
          }),
        );
      }
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('a server that cannot be used is one clear ERR_STORE error naming it and the fix, not a driver stack', async () => {
    if (database === null) throw new Error('no test database');
    const refused = postgresStore({ url: 'postgres://someone:secret@127.0.0.1:1/app' });
    await assert.rejects(refused.open(), (e: unknown) => {
      assert.equal((e as { code?: string }).code, 'ERR_STORE');
      assert.match((e as Error).message, /^postgresStore: cannot use PostgreSQL at 127\.0\.0\.1:1\/app as someone: nothing listens there: start PostgreSQL, or fix the host and port in the URL \(ECONNREFUSED/);
      assert.doesNotMatch((e as Error).message, /secret/, 'never the password');
      return true;
    });
    const missing = postgresStore({ url: database.url.replace(/\/[^/]+$/, '/no_such_database_here') });
    await assert.rejects(missing.open(), /the database does not exist: create it \(createdb\), or fix the database name in the URL \(3D000/);
  });

  it('rejects bad options with the field named', () => {
    assert.throws(() => postgresStore({}), /postgresStore: url: received nothing; give exactly one of "url"/);
    assert.throws(() => postgresStore({ url: 'postgres://x', schema: 'Bad-Name' }), /schema: received "Bad-Name"; use lowercase letters/);
  });

  it('uses a pool it is given without ending it', async () => {
    if (database === null) throw new Error('no test database');
    const pool = new pg.Pool({ connectionString: database.url, max: 2 });
    try {
      const store = postgresStore({ pool, schema: 'borrowed' });
      await store.open();
      await store.registerTasks([{ name: 'x', scheduleKey: 'k', anchor: null, paused: false }], Date.now());
      await store.close();
      const { rows } = await pool.query('SELECT name FROM borrowed.caretaker_tasks');
      assert.deepEqual(rows, [{ name: 'x' }], 'the pool still works after the store closed');
    } finally {
      await pool.end();
    }
  });
});
