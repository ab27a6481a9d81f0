/**
 * The SQLite file's filesystem fills up under a running scheduler, or is read-only at start:
 * a clear error that names the file and the fix, the scheduler keeps trying and resumes when
 * space is back, and the database is never corrupted.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, it } from 'node:test';
import { CaretakerError, createScheduler, type RunRecord, sqliteStore } from '../../src/index.ts';
import { storeRuns, waitFor } from '../multiprocess/cluster.ts';
import { mountTmpfs, type Tmpfs, tmpfsSkip } from './tmpfs.ts';

const integrity = (path: string): string => {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return (db.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check;
  } finally {
    db.close();
  }
};

describe('SQLite on a full or read-only filesystem', { skip: tmpfsSkip() }, () => {
  let fs: Tmpfs | undefined;
  afterEach(() => {
    fs?.dispose();
    fs = undefined;
  });

  it('disk full while running: a clear error, retried, resumed when space is freed, not corrupted', async () => {
    fs = mountTmpfs('4m');
    const path = join(fs.dir, 'state.db');
    const scheduler = createScheduler({ store: sqliteStore({ path }) });
    let runs = 0;
    scheduler.add({ name: 'beat', schedule: { every: '200ms' }, handler: () => void runs++ });
    const errors: unknown[] = [];
    scheduler.on('error', (e) => errors.push(e.error));
    try {
      await scheduler.start();
      await waitFor(() => runs >= 3, 5_000, 'runs before the disk fills');
      assert.throws(() => writeFileSync(join(fs!.dir, 'filler'), Buffer.alloc(8 * 2 ** 20)), /ENOSPC/);
      await waitFor(() => errors.length >= 2, 5_000, 'the store errors');
      const error = errors[0] as CaretakerError;
      assert.ok(error instanceof CaretakerError, String(error));
      assert.equal(error.code, 'ERR_STORE');
      assert.match(error.message, new RegExp(`the disk holding the SQLite database ${path.replaceAll('/', '\\/')} is full; free space there`));
      assert.doesNotMatch(error.message, /rollback|\n\s+at /);
      const runsWhileFull = runs;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      assert.ok(runs <= runsWhileFull + 1, 'no run starts without its claim written');
      rmSync(join(fs.dir, 'filler'));
      // The claim backoff is at most 5 s: the scheduler is back within it.
      await waitFor(() => runs >= runsWhileFull + 3, 8_000, 'runs after space is freed');
      const records: RunRecord[] = await storeRuns(scheduler.store, 'beat');
      await scheduler.stop();
      assert.equal(integrity(path), 'ok');
      const slots = records.map((r) => r.scheduledFor.getTime());
      assert.equal(new Set(slots).size, slots.length, 'a tick recorded twice');
      // (The newest may still be running when the records were read.)
      assert.deepEqual(records.map((r) => r.status).filter((s) => s !== 'succeeded' && s !== 'skipped' && s !== 'running'), []);
    } finally {
      await scheduler.stop();
    }
  });

  it('read-only at start: start() fails naming the file and the fix; nothing is lost, and it starts once writable', async () => {
    fs = mountTmpfs('4m');
    const path = join(fs.dir, 'state.db');
    const first = createScheduler({ store: sqliteStore({ path }) });
    first.add({ name: 'once', schedule: { every: '1h' }, handler: () => 'done' });
    await first.start();
    await first.onIdle();
    await first.stop();
    fs.readOnly();
    const second = createScheduler({ store: sqliteStore({ path }) });
    second.add({ name: 'once', schedule: { every: '1h' }, handler: () => 'done' });
    await assert.rejects(second.start(), (error: Error) => {
      assert.ok(error instanceof CaretakerError);
      assert.equal(error.code, 'ERR_STORE');
      assert.match(error.message, /SQLite database .*state\.db (is read-only|cannot)|cannot open the SQLite database .*state\.db/);
      assert.match(error.message, /writable/);
      return true;
    });
    assert.equal(second.state === 'running', false);
    fs.writable();
    assert.equal(integrity(path), 'ok');
    const third = createScheduler({ store: sqliteStore({ path }) });
    third.add({ name: 'once', schedule: { every: '1h' }, handler: () => 'done' });
    await third.start();
    const kept = await storeRuns(third.store, 'once');
    await third.stop();
    assert.deepEqual(kept.map((r) => [r.status, r.output]), [['succeeded', 'done']], 'the earlier run is kept and the tick not run again');
  });
});
