import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteStore } from '../../src/index.ts';
import { describeStoreContract } from './contract.ts';

describeStoreContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'caretaker-sqlite-'));
  return { store: sqliteStore({ path: join(dir, 'caretaker.db') }), close: async () => rmSync(dir, { recursive: true, force: true }) };
});
