import type { Store } from '../store/port.ts';
import { memoryStore } from '../store/memory/memory-store.ts';
import { postgresStore } from '../store/postgres/postgres-store.ts';
import { sqliteStore } from '../store/sqlite/sqlite-store.ts';
import type { StoreSpec } from './store-spec.ts';

/** The store a config names (not yet opened). */
export function openStore(spec: StoreSpec): Store {
  switch (spec.kind) {
    case 'memory':
      return memoryStore();
    case 'sqlite':
      return sqliteStore({
        path: spec.options.path,
        ...(spec.options.busyTimeout !== undefined ? { busyTimeoutMs: spec.options.busyTimeout } : {}),
        ...(spec.options.synchronous !== undefined ? { synchronous: spec.options.synchronous } : {}),
      });
    case 'postgres':
      return postgresStore({
        url: spec.options.url,
        ...(spec.options.schema !== undefined ? { schema: spec.options.schema } : {}),
        ...(spec.options.poolSize !== undefined ? { poolSize: spec.options.poolSize } : {}),
      });
  }
}

/** A one-line description of where a store keeps its data, for logs and CLI output. */
export function describeStore(spec: StoreSpec): string {
  if (spec.kind === 'memory') return 'memory';
  if (spec.kind === 'sqlite') return `sqlite ${spec.options.path}`;
  const url = new URL(spec.options.url);
  url.password = url.password === '' ? '' : '***';
  return `postgres ${url.toString()} (schema ${spec.options.schema ?? 'caretaker'})`;
}
