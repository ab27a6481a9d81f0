import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** This package's version, from its package.json (the same path from src/ and from dist/). */
export function packageVersion(): string {
  cached ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return cached;
}
