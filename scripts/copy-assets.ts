/** Copies the SQL migrations next to the compiled stores: `tsc` only emits JavaScript. */
import { cpSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const src = new URL('../src/', import.meta.url).pathname;
const dist = new URL('../dist/', import.meta.url).pathname;

function copySql(dir: string): void {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) copySql(path);
    else if (entry.endsWith('.sql')) cpSync(path, join(dist, relative(src, path)));
  }
}
copySql(src);
