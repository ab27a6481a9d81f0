import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import pg from 'pg';
import { type OrphanCleanupOptions, type OrphanCleanupResult, orphanCleanup } from 'caretaker/tasks';
import { InvalidOptionError } from '../../src/util/errors.ts';
import { postgresSkip, testDatabase } from '../helpers/postgres.ts';
import { fakeContext, tempDir } from './context.ts';

async function clean(options: OrphanCleanupOptions, ctx = fakeContext()): Promise<OrphanCleanupResult> {
  return (await orphanCleanup(options)(ctx)) as OrphanCleanupResult;
}

describe('orphanCleanup on SQLite', () => {
  let dir: string;
  let uploads: string;
  let file: string;
  let db: DatabaseSync;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    uploads = path.join(dir, 'uploads');
    await mkdir(path.join(uploads, 'nested'), { recursive: true });
    file = path.join(dir, 'app.db');
    db = new DatabaseSync(file);
    db.exec('CREATE TABLE uploads (name TEXT PRIMARY KEY, path TEXT)');
  });
  afterEach(async () => {
    db.close();
    await cleanup();
  });

  const add = (name: string, p: string | null) => db.prepare('INSERT INTO uploads VALUES (?, ?)').run(name, p);
  const names = () => db.prepare('SELECT name FROM uploads ORDER BY name').all().map((r) => r.name);

  /** 30 rows: every third file exists (relative, absolute, nested); the rest are gone. */
  async function seed(): Promise<string[]> {
    const kept: string[] = [];
    for (let i = 0; i < 30; i++) {
      const name = `u${String(i).padStart(2, '0')}`;
      const relative = i % 2 === 0 ? `nested/${name}.bin` : `${name}.bin`;
      if (i % 3 === 0) {
        await writeFile(path.join(uploads, relative), name);
        kept.push(name);
      }
      add(name, i % 5 === 0 ? path.join(uploads, relative) : relative);
    }
    return kept;
  }

  it('deletes rows whose file is gone, in batches, resolving relative paths against root', async () => {
    const kept = await seed();
    add('v-null', null);
    add('v-empty', '');
    await symlink(path.join(dir, 'nowhere'), path.join(uploads, 'dangling'));
    add('v-dangling', 'dangling');
    const ctx = fakeContext();
    const result = await clean({ database: { sqlite: file }, table: 'uploads', pathColumn: 'path', root: uploads, batchSize: 7 }, ctx);
    assert.deepEqual(result, { table: 'uploads', dryRun: false, rowsScanned: 33, rowsDeleted: 20, rowsSkipped: 2, batches: 5 });
    assert.deepEqual(names(), [...kept, 'v-dangling', 'v-empty', 'v-null']);
    assert.equal(ctx.reports.at(-1)?.fraction, 1);
  });

  it('pages by a named id column too', async () => {
    const kept = await seed();
    const result = await clean({ database: { sqlite: file }, table: 'uploads', pathColumn: 'path', idColumn: 'name', root: uploads, batchSize: 4 });
    assert.equal(result.rowsDeleted, 20);
    assert.deepEqual(names(), kept);
  });

  it('skips relative paths when no root is given', async () => {
    await seed();
    const result = await clean({ database: { sqlite: file }, table: 'uploads', pathColumn: 'path' });
    // Only the absolute paths (every fifth row) can be judged: u05, u10, u20, u25 are gone.
    assert.equal(result.rowsDeleted, 4);
    assert.equal(result.rowsSkipped, 24);
    assert.equal(names().length, 26);
  });

  it('counts orphans without deleting in a dry run', async () => {
    await seed();
    const result = await clean({ database: { sqlite: file }, table: 'uploads', pathColumn: 'path', root: uploads, dryRun: true });
    assert.equal(result.rowsDeleted, 20);
    assert.equal(result.dryRun, true);
    assert.equal(names().length, 30);
  });

  it('stops between batches when aborted', async () => {
    await seed();
    const controller = new AbortController();
    const reason = new Error('cancel');
    const ctx = fakeContext({ signal: controller.signal, onProgress: () => controller.abort(reason) });
    await assert.rejects(clean({ database: { sqlite: file }, table: 'uploads', pathColumn: 'path', root: uploads, batchSize: 10 }, ctx), (e: unknown) => e === reason);
    // The first batch (u00..u09) was handled: its 6 orphans are gone, the rest untouched.
    assert.equal(names().length, 24);
  });

  it('validates options at the factory call', () => {
    assert.throws(
      () => orphanCleanup({ database: { postgres: 'postgres://localhost/app' }, table: 'uploads', pathColumn: 'path', batchSize: 100_000 }),
      (e: unknown) => e instanceof InvalidOptionError && e.issues.some((i) => i.path === 'batchSize'),
    );
    assert.throws(
      () => orphanCleanup({ database: { postgres: 'postgres://localhost/app' }, table: 'uploads', pathColumn: 'path' }),
      (e: unknown) => e instanceof InvalidOptionError && e.issues[0]?.path === 'idColumn' && /required with PostgreSQL/.test(e.message),
    );
    assert.throws(() => orphanCleanup({ database: { sqlite: file }, table: 'uploads', pathColumn: 'path;--' }), /pathColumn: received "path;--"; is not a column name/);
  });
});

describe('orphanCleanup on PostgreSQL', { skip: await postgresSkip() }, () => {
  let url: string;
  let drop: () => Promise<void>;
  let client: pg.Client;
  let dir: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    ({ url, drop } = await testDatabase());
    ({ dir, cleanup } = await tempDir());
    client = new pg.Client({ connectionString: url });
    await client.connect();
  });
  after(async () => {
    await client?.end();
    await drop?.();
    await cleanup?.();
  });

  it('deletes orphaned rows keyed by a bigint id', async () => {
    await client.query('CREATE TABLE uploads (id bigserial PRIMARY KEY, path text)');
    for (let i = 0; i < 12; i++) {
      if (i % 4 === 0) await writeFile(path.join(dir, `f${i}`), 'x');
      await client.query('INSERT INTO uploads (path) VALUES ($1)', [`f${i}`]);
    }
    const options = { database: { postgres: url }, table: 'uploads', pathColumn: 'path', idColumn: 'id', root: dir, batchSize: 5 };
    assert.equal((await clean({ ...options, dryRun: true })).rowsDeleted, 9);
    const result = await clean(options);
    assert.deepEqual(result, { table: 'uploads', dryRun: false, rowsScanned: 12, rowsDeleted: 9, rowsSkipped: 0, batches: 3 });
    const { rows } = await client.query('SELECT path FROM uploads ORDER BY id');
    assert.deepEqual(rows.map((r) => r.path), ['f0', 'f4', 'f8']);
  });
});
