import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before } from 'node:test';
import { postgresStore, sqliteStore, type Store } from '../../src/index.ts';
import { postgresSkip, testDatabase } from '../helpers/postgres.ts';
import { killAllReplicas, startReplica } from './cluster.ts';

/** Where replica processes keep state: a SQLite file, or a schema in a PostgreSQL database. */
export type StoreConfig = { readonly sqlite: string } | { readonly postgres: string; readonly schema: string };

/** Scratch stores of one backend for one test file: a config per name, and a way to read them. */
export interface Backend {
  /** A fresh store config; replicas given the same name share it. */
  config(name: string): StoreConfig;
  /** Opens the store at `config`, runs `work` on it, closes it. */
  withStore<T>(config: StoreConfig, work: (store: Store) => Promise<T>): Promise<T>;
  dispose(): Promise<void>;
}

/** SQLite always; PostgreSQL unless it is unreachable outside CI (then `skip` says why). */
export const backends: readonly { readonly name: 'SQLite' | 'PostgreSQL'; readonly skip: string | false }[] = [
  { name: 'SQLite', skip: false },
  { name: 'PostgreSQL', skip: await postgresSkip() },
];

export async function openBackend(name: 'SQLite' | 'PostgreSQL'): Promise<Backend> {
  let config: (schema: string) => StoreConfig;
  let open: (c: StoreConfig) => Store;
  let dispose: () => Promise<void>;
  if (name === 'SQLite') {
    const dir = mkdtempSync(join(tmpdir(), 'caretaker-replicas-'));
    config = (schema) => ({ sqlite: join(dir, `${schema}.db`) });
    open = (c) => sqliteStore({ path: (c as { sqlite: string }).sqlite });
    dispose = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const db = await testDatabase();
    config = (schema) => ({ postgres: db.url, schema });
    open = (c) => postgresStore({ url: (c as { postgres: string }).postgres, schema: (c as { schema: string }).schema });
    dispose = () => db.drop();
  }
  return {
    config,
    async withStore(c, work) {
      const store = open(c);
      await store.open();
      try {
        return await work(store);
      } finally {
        await store.close();
      }
    },
    dispose,
  };
}

/**
 * For a `describe` of multi-process tests: opens the backend before, disposes of it after, and
 * kills leftover replicas after each test (a failing test must not leave processes behind).
 * Returns the backend and a helper that starts `count` replicas (r0, r1, …) on one config.
 */
export function useBackend(name: 'SQLite' | 'PostgreSQL'): {
  readonly backend: () => Backend;
  readonly replicas: (config: StoreConfig, tasks: object[], extra?: object, count?: number) => ReturnType<typeof startAll>;
} {
  let backend: Backend | undefined;
  before(async () => {
    backend = await openBackend(name);
  });
  after(async () => backend?.dispose());
  afterEach(killAllReplicas);
  return {
    backend: () => backend as Backend,
    replicas: (config, tasks, extra = {}, count = 4) => startAll(config, tasks, extra, count),
  };
}

function startAll(config: StoreConfig, tasks: object[], extra: object, count: number) {
  return Promise.all(Array.from({ length: count }, (_, i) => startReplica({ instance: `r${i}`, store: config, tasks, ...extra })));
}
