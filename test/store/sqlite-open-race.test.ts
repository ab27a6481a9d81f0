/**
 * Replicas (processes) opening a new SQLite file at the same moment: each switches it to WAL,
 * which needs the file to itself, and SQLite may answer SQLITE_BUSY at once without its busy
 * handler. CI saw a replica exit with "database is locked" there; every opener must get through.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const dir = mkdtempSync(join(tmpdir(), 'caretaker-sqlite-race-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// Waits (spinning) for the go file, so all processes open within a millisecond of each other.
const OPENER = `
import { existsSync } from 'node:fs';
const [entry, path, go, name] = process.argv.slice(1);
const { sqliteStore } = await import(entry);
while (!existsSync(go)) {}
try {
  const store = sqliteStore({ path });
  await store.open();
  await store.registerTasks([{ name, scheduleKey: 'k', anchor: null, paused: false }], Date.now());
  await store.close();
  process.stdout.write('ok');
} catch (error) {
  process.stdout.write(String(error?.message ?? error));
}
`;

function opener(entry: string, path: string, go: string, name: string): Promise<string> {
  const child = spawn(process.execPath, [...process.execArgv, '--input-type=module', '--no-warnings', '-e', OPENER, entry, path, go, name], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', () => resolve(out));
  });
}

describe('SQLite: replicas opening a new file together', () => {
  it('6 processes opening the same new file at once, 8 times over: every one opens it', { timeout: 120_000 }, async () => {
    const entry = new URL('../../src/index.ts', import.meta.url).href;
    for (let round = 0; round < 8; round++) {
      const path = join(dir, `race-${round}.db`);
      const go = join(dir, `go-${round}`);
      const answers = Array.from({ length: 6 }, (_, i) => opener(entry, path, go, `w${i}`));
      // Every process has loaded the store and spins on the go file by then.
      await new Promise((r) => setTimeout(r, 1_500));
      writeFileSync(go, '');
      assert.deepEqual(await Promise.all(answers), Array(6).fill('ok'), `round ${round}`);
    }
  });
});
