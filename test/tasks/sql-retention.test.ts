import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import pg from 'pg';
import { type SqlRetentionOptions, type SqlRetentionResult, sqlRetention } from 'caretaker/tasks';
import { InvalidOptionError } from '../../src/util/errors.ts';
import { postgresSkip, testDatabase } from '../helpers/postgres.ts';
import { fakeContext, tempDir } from './context.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

async function retain(options: SqlRetentionOptions, ctx = fakeContext()): Promise<SqlRetentionResult> {
  return (await sqlRetention(options)(ctx)) as SqlRetentionResult;
}

/** ISO text in the forms applications write: JS `toISOString`, SQLite's own, and with an offset. */
function isoForms(instant: number): string[] {
  const iso = new Date(instant).toISOString();
  const shifted = new Date(instant + 14 * HOUR).toISOString().slice(0, 19);
  return [iso, iso.slice(0, 19).replace('T', ' '), `${shifted}+14:00`];
}

describe('sqlRetention on SQLite', () => {
  let file: string;
  let db: DatabaseSync;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    const temp = await tempDir();
    cleanup = temp.cleanup;
    file = path.join(temp.dir, 'app.db');
    db = new DatabaseSync(file);
    db.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, created_at TEXT, ms INTEGER, s INTEGER)');
    db.exec('CREATE INDEX events_created_at ON events (created_at)');
  });
  afterEach(async () => {
    db.close();
    await cleanup();
  });

  const insert = (createdAt: string | null, instant: number) =>
    db.prepare('INSERT INTO events (created_at, ms, s) VALUES (?, ?, ?)').run(createdAt, instant, Math.floor(instant / 1000));
  const count = () => (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;

  it('deletes rows older than the cutoff in batches, whatever ISO form the text takes', async () => {
    const now = Date.now();
    db.exec('BEGIN');
    for (let i = 0; i < 2500; i++) insert(new Date(now - 40 * DAY - i * 1000).toISOString(), 0);
    db.exec('COMMIT');
    // Around the cutoff (30 days): an hour before goes, an hour after stays, in every form.
    for (const text of isoForms(now - 30 * DAY - HOUR)) insert(text, 0);
    for (const text of isoForms(now - 30 * DAY + HOUR)) insert(text, 0);
    insert(null, 0);
    insert('not a date', 0);
    const ctx = fakeContext();
    const result = await retain({ database: { sqlite: file }, table: 'events', column: 'created_at', olderThan: '30d', batchSize: 1000 }, ctx);
    assert.equal(result.rowsDeleted, 2503);
    assert.equal(result.batches, 3);
    assert.equal(result.dryRun, false);
    assert.ok(Math.abs(Date.parse(result.cutoff) - (now - 30 * DAY)) < 60_000);
    const left = db.prepare('SELECT created_at FROM events ORDER BY id').all().map((r) => r.created_at);
    assert.deepEqual(left, [...isoForms(now - 30 * DAY + HOUR), null, 'not a date']);
    assert.deepEqual(
      ctx.reports.map((r) => r.fraction),
      [1000 / 2503, 2000 / 2503, 1, 1],
    );
  });

  it('reads unix milliseconds and unix seconds columns', async () => {
    const now = Date.now();
    for (const age of [10, 5, 2, 0.5]) insert(null, now - age * DAY);
    const ms = await retain({ database: { sqlite: file }, table: 'events', column: 'ms', columnType: 'unix-ms', olderThan: '3d' });
    assert.equal(ms.rowsDeleted, 2);
    const s = await retain({ database: { sqlite: file }, table: 'events', column: 's', columnType: 'unix-s', olderThan: '1d' });
    assert.equal(s.rowsDeleted, 1);
    assert.equal(count(), 1);
  });

  it('counts without deleting in a dry run', async () => {
    for (let i = 0; i < 25; i++) insert(new Date(Date.now() - 100 * DAY).toISOString(), 0);
    const result = await retain({ database: { sqlite: file }, table: 'events', column: 'created_at', olderThan: '30d', batchSize: 10, dryRun: true });
    assert.deepEqual({ rowsDeleted: result.rowsDeleted, batches: result.batches, dryRun: result.dryRun }, { rowsDeleted: 25, batches: 3, dryRun: true });
    assert.equal(count(), 25);
  });

  it('quotes names, so reserved words and schema-qualified names work', async () => {
    db.exec('CREATE TABLE "order" ("select" TEXT)');
    db.prepare('INSERT INTO "order" VALUES (?)').run('2000-01-01T00:00:00Z');
    const result = await retain({ database: { sqlite: file }, table: 'main.order', column: 'select', olderThan: '1d' });
    assert.equal(result.rowsDeleted, 1);
  });

  it('stops between batches when aborted, also during the pause', async () => {
    for (let i = 0; i < 50; i++) insert(new Date(Date.now() - 100 * DAY).toISOString(), 0);
    const controller = new AbortController();
    const reason = new Error('shutdown');
    // Aborts while the handler waits out its (hour-long) pause after the first batch.
    const ctx = fakeContext({ signal: controller.signal, onProgress: () => setImmediate(() => controller.abort(reason)) });
    const options = { database: { sqlite: file }, table: 'events', column: 'created_at', olderThan: '1d', batchSize: 10, pauseBetweenBatches: '1h' };
    await assert.rejects(retain(options, ctx), (e: unknown) => e === reason);
    assert.equal(count(), 40);
  });

  it('fails the run when the file does not exist, without creating it', async () => {
    const missing = path.join(path.dirname(file), 'missing.db');
    await assert.rejects(retain({ database: { sqlite: missing }, table: 'events', column: 'created_at', olderThan: '1d' }), /does not exist/);
    await assert.rejects(stat(missing), { code: 'ENOENT' });
  });

  it('rejects identifiers that are not plain names, and other mistakes, at the factory call', () => {
    assert.throws(
      () =>
        sqlRetention({
          database: { sqlite: file, postgres: 'postgres://x' },
          table: 'events; DROP TABLE events',
          column: 'created_at"',
          olderThan: '0s',
          batchSize: 0,
          colunmType: 'unix-ms',
        } as never),
      (e: unknown) => {
        assert.ok(e instanceof InvalidOptionError);
        const byPath = Object.fromEntries(e.issues.map((i) => [i.path, i]));
        assert.match(byPath.database?.fix ?? '', /exactly one of sqlite/);
        assert.match(byPath.table?.fix ?? '', /is not a table name/);
        assert.equal(byPath.table?.received, '"events; DROP TABLE events"');
        assert.match(byPath.column?.fix ?? '', /is not a column name/);
        assert.match(byPath.olderThan?.fix ?? '', /longer than 0/);
        assert.match(byPath.batchSize?.fix ?? '', /at least 1/);
        assert.match(byPath.colunmType?.fix ?? '', /did you mean "columnType"/);
        return true;
      },
    );
    assert.throws(() => sqlRetention({ database: { mysql: 'x' }, table: 't', column: 'c', olderThan: '1d' } as never), (e: unknown) => e instanceof InvalidOptionError && e.issues.some((i) => i.path === 'database.mysql'));
    assert.throws(() => sqlRetention({ database: { postgres: 'localhost' }, table: 't', column: 'c', olderThan: '1d' }), /database.postgres: received "localhost"; must be a connection URL/);
  });
});

describe('sqlRetention on PostgreSQL', { skip: await postgresSkip() }, () => {
  let url: string;
  let drop: () => Promise<void>;
  let client: pg.Client;

  before(async () => {
    ({ url, drop } = await testDatabase());
    client = new pg.Client({ connectionString: url });
    await client.connect();
  });
  after(async () => {
    await client?.end();
    await drop?.();
  });

  it('deletes timestamptz rows older than the cutoff in ctid batches', async () => {
    await client.query('CREATE TABLE events (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL)');
    await client.query(`INSERT INTO events (created_at) SELECT now() - interval '40 days' - g * interval '1 second' FROM generate_series(1, 2500) g`);
    await client.query(`INSERT INTO events (created_at) VALUES (now() - interval '30 days' - interval '1 hour'), (now() - interval '30 days' + interval '1 hour'), (now())`);
    const ctx = fakeContext();
    const result = await retain({ database: { postgres: url }, table: 'events', column: 'created_at', olderThan: '30d', batchSize: 1000 }, ctx);
    assert.equal(result.rowsDeleted, 2501);
    assert.equal(result.batches, 3);
    const { rows } = await client.query('SELECT count(*)::int AS n FROM events');
    assert.equal(rows[0].n, 2);
    assert.equal(ctx.reports.at(-1)?.fraction, 1);
  });

  it('handles schema-qualified tables, timestamp without time zone, unix-ms and dry runs', async () => {
    await client.query('CREATE SCHEMA audit');
    await client.query('CREATE TABLE audit."Log" (at timestamp NOT NULL, ms bigint NOT NULL)');
    await client.query(`INSERT INTO audit."Log" SELECT (now() AT TIME ZONE 'UTC') - g * interval '1 day', (extract(epoch FROM now() - g * interval '1 day') * 1000)::bigint FROM generate_series(0, 9) g`);
    const base = { database: { postgres: url }, table: 'audit.Log' };
    const dry = await retain({ ...base, column: 'at', olderThan: '5d12h', dryRun: true });
    assert.equal(dry.rowsDeleted, 4);
    assert.equal((await client.query('SELECT count(*)::int AS n FROM audit."Log"')).rows[0].n, 10);
    assert.equal((await retain({ ...base, column: 'at', olderThan: '5d12h' })).rowsDeleted, 4);
    assert.equal((await retain({ ...base, column: 'ms', columnType: 'unix-ms', olderThan: '2d12h', batchSize: 2 })).rowsDeleted, 3);
    assert.equal((await client.query('SELECT count(*)::int AS n FROM audit."Log"')).rows[0].n, 3);
  });
});
