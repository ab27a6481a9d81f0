import { readdirSync, readFileSync } from 'node:fs';

/** One numbered migration: `001-init.sql` is version 1. */
export interface MigrationFile {
  readonly version: number;
  readonly sql: string;
}

/** The numbered `.sql` migrations in `folder`, in version order. */
export function readMigrations(folder: URL): MigrationFile[] {
  return readdirSync(folder)
    .filter((file) => /^\d+-.*\.sql$/.test(file))
    .map((file) => ({ version: Number.parseInt(file, 10), sql: readFileSync(new URL(file, folder), 'utf8') }))
    .sort((a, b) => a.version - b.version);
}
