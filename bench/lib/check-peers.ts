/**
 * Imports every dependency of bench/package.json: CI's proof that the benchmarks' own install
 * works, without running them (a full run takes most of an hour).
 */
import { readFileSync } from 'node:fs';

const { dependencies } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };
for (const name of Object.keys(dependencies)) await import(name);
console.log(`bench: imported ${Object.keys(dependencies).join(', ')}`);
