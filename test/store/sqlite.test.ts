import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { it } from 'node:test';
import { sqliteStore } from '../../src/index.ts';
import { sqliteMigrations } from '../../src/store/sqlite/connection.ts';
import { describeStoreContract } from './contract.ts';

describeStoreContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'caretaker-sqlite-'));
  return { store: sqliteStore({ path: join(dir, 'caretaker.db') }), close: async () => rmSync(dir, { recursive: true, force: true }) };
});

it('upgrades a file a previous version left, keeping its runs, and refuses a newer one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'caretaker-sqlite-upgrade-'));
  const path = join(dir, 'old.db');
  try {
    const [first] = sqliteMigrations();
    const db = new DatabaseSync(path);
    db.exec(first!.sql);
    db.exec('PRAGMA user_version = 1');
    db.exec(`INSERT INTO caretaker_runs (id, task, slot, attempt, trigger, scheduled_for, due_at, status, instance)
      VALUES ('r1', 't', 't:0', 1, 'schedule', 0, 0, 'succeeded', 'i')`);
    db.close();
    const store = sqliteStore({ path });
    await store.open();
    assert.equal((await store.getRun('r1'))?.status, 'succeeded');
    await store.close();
    const check = new DatabaseSync(path);
    const version = (check.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
    const indexes = (check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'caretaker_tasks'").all() as { name: string }[]).map((r) => r.name);
    check.exec('PRAGMA user_version = 999');
    check.close();
    assert.equal(version, sqliteMigrations().length);
    assert.ok(indexes.includes('caretaker_tasks_by_pause_version'), indexes.join());
    await assert.rejects(sqliteStore({ path }).open(), /schema version 999, newer than this Caretaker knows/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
