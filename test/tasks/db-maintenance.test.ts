import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import pg from 'pg';
import { type DbMaintenanceOptions, type DbMaintenanceResult, dbMaintenance } from 'caretaker/tasks';
import { InvalidOptionError } from '../../src/util/errors.ts';
import { postgresSkip, testDatabase } from '../helpers/postgres.ts';
import { fakeContext, tempDir } from './context.ts';

async function maintain(options: DbMaintenanceOptions, ctx = fakeContext()): Promise<DbMaintenanceResult> {
  return (await dbMaintenance(options)(ctx)) as DbMaintenanceResult;
}

describe('dbMaintenance on SQLite', () => {
  let file: string;
  let app: DatabaseSync;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    const temp = await tempDir();
    cleanup = temp.cleanup;
    file = path.join(temp.dir, 'app.db');
    // The application's own connection stays open in WAL mode, as it would in production.
    app = new DatabaseSync(file);
    app.exec('PRAGMA journal_mode = WAL');
    app.exec('PRAGMA wal_autocheckpoint = 0');
    app.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, body TEXT)');
    app.exec('CREATE INDEX items_body ON items (body)');
    const insert = app.prepare('INSERT INTO items (body) VALUES (?)');
    app.exec('BEGIN');
    for (let i = 0; i < 3000; i++) insert.run(`row ${i} ${'x'.repeat(200)}`);
    app.exec('COMMIT');
    app.exec('DELETE FROM items WHERE id > 300');
  });
  afterEach(async () => {
    app.close();
    await cleanup();
  });

  const hasStats = () => app.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'sqlite_stat1'").get()?.n === 1;

  it('checkpoints the WAL and truncates it', async () => {
    assert.ok((await stat(`${file}-wal`)).size > 100_000, 'WAL holds the writes');
    const result = await maintain({ database: { sqlite: file }, operations: ['wal_checkpoint'] });
    // TRUNCATE resets the WAL, so SQLite reports 0 frames; busy 1 would mean a reader blocked it.
    assert.deepEqual(result.steps[0]?.details, { busy: 0, log: 0, checkpointed: 0 });
    assert.equal((await stat(`${file}-wal`)).size, 0);
  });

  it('vacuums, analyzes, reindexes and optimizes, timing each step', async () => {
    const ctx = fakeContext();
    const result = await maintain({ database: { sqlite: file }, operations: ['wal_checkpoint', 'vacuum', 'analyze', 'reindex', 'optimize'], tables: ['items'] }, ctx);
    assert.deepEqual(
      result.steps.map((s) => [s.operation, s.table, s.statement]),
      [
        ['wal_checkpoint', null, 'PRAGMA wal_checkpoint(TRUNCATE)'],
        ['vacuum', null, 'VACUUM'],
        ['analyze', 'items', 'ANALYZE "items"'],
        ['reindex', 'items', 'REINDEX "items"'],
        ['optimize', null, 'PRAGMA optimize'],
      ],
    );
    for (const step of result.steps) assert.ok(typeof step.durationMs === 'number' && step.durationMs >= 0);
    const vacuum = result.steps[1]?.details;
    assert.ok(vacuum !== undefined && (vacuum.bytesAfter ?? 0) < (vacuum.bytesBefore ?? 0) / 2, JSON.stringify(vacuum));
    assert.ok(hasStats(), 'ANALYZE wrote statistics');
    assert.equal(result.dryRun, false);
    assert.ok(result.totalMs >= 0);
    assert.deepEqual(ctx.reports.map((r) => r.fraction), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  });

  it('lists the statements and runs none in a dry run', async () => {
    const walBefore = (await stat(`${file}-wal`)).size;
    const result = await maintain({ database: { sqlite: file }, operations: ['wal_checkpoint', 'analyze', 'vacuum'], dryRun: true });
    assert.deepEqual(result.steps.map((s) => [s.statement, s.durationMs]), [
      ['PRAGMA wal_checkpoint(TRUNCATE)', null],
      ['ANALYZE', null],
      ['VACUUM', null],
    ]);
    assert.equal((await stat(`${file}-wal`)).size, walBefore);
    assert.equal(hasStats(), false);
  });

  it('stops between steps when aborted', async () => {
    const controller = new AbortController();
    const reason = new Error('timeout');
    const ctx = fakeContext({ signal: controller.signal, onProgress: (f) => f > 0 && controller.abort(reason) });
    await assert.rejects(maintain({ database: { sqlite: file }, operations: ['analyze', 'reindex', 'vacuum'] }, ctx), (e: unknown) => e === reason);
    assert.ok(hasStats(), 'the first step ran');
  });

  it('validates operations and tables at the factory call', () => {
    assert.throws(
      () => dbMaintenance({ database: { sqlite: file }, operations: ['vacuum', 'defrag', 'vacuum'] as never, tables: ['items', 'x y'] }),
      (e: unknown) => {
        assert.ok(e instanceof InvalidOptionError);
        assert.deepEqual(e.issues.map((i) => i.path), ['operations.1', 'tables.1']);
        assert.match(e.issues[0]?.fix ?? '', /use one of "optimize"/);
        return true;
      },
    );
    assert.throws(() => dbMaintenance({ database: { sqlite: file }, operations: ['vacuum', 'vacuum'] }), /operations.1: received "vacuum"; is listed twice/);
    assert.throws(() => dbMaintenance({ database: { sqlite: file }, operations: [] }), /operations: received an array of 0; name at least one/);
    assert.throws(
      () => dbMaintenance({ database: { postgres: 'postgres://localhost/app' }, operations: ['optimize', 'reindex'] }),
      (e: unknown) => {
        assert.ok(e instanceof InvalidOptionError);
        assert.deepEqual(e.issues.map((i) => i.path), ['operations.0', 'tables']);
        assert.match(e.message, /SQLite only/);
        assert.match(e.message, /REINDEX TABLE blocks writes/);
        return true;
      },
    );
  });
});

describe('dbMaintenance on PostgreSQL', { skip: await postgresSkip() }, () => {
  let url: string;
  let drop: () => Promise<void>;
  let client: pg.Client;

  before(async () => {
    ({ url, drop } = await testDatabase());
    client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('CREATE SCHEMA app');
    await client.query('CREATE TABLE app.items (id serial PRIMARY KEY, body text)');
    await client.query(`INSERT INTO app.items (body) SELECT 'row ' || g FROM generate_series(1, 1000) g`);
  });
  after(async () => {
    await client?.end();
    await drop?.();
  });

  it('runs VACUUM (ANALYZE) and REINDEX TABLE on the named tables', async () => {
    const indexFile = async () => (await client.query(`SELECT relfilenode FROM pg_class WHERE oid = 'app.items_pkey'::regclass`)).rows[0].relfilenode;
    const before = await indexFile();
    const result = await maintain({ database: { postgres: url }, operations: ['vacuum', 'reindex', 'analyze'], tables: ['app.items'] });
    assert.deepEqual(result.steps.map((s) => s.statement), ['VACUUM (ANALYZE) "app"."items"', 'REINDEX TABLE "app"."items"', 'ANALYZE "app"."items"']);
    const { rows } = await client.query(`SELECT last_vacuum IS NOT NULL AS vacuumed, last_analyze IS NOT NULL AS analyzed FROM pg_stat_user_tables WHERE relid = 'app.items'::regclass`);
    assert.deepEqual(rows[0], { vacuumed: true, analyzed: true });
    assert.notEqual(await indexFile(), before, 'REINDEX rebuilt the index into a new file');
  });

  it('vacuums the whole database when no tables are named', async () => {
    const result = await maintain({ database: { postgres: url }, operations: ['vacuum'] });
    assert.deepEqual(result.steps.map((s) => [s.statement, s.table]), [['VACUUM (ANALYZE)', null]]);
  });
});
