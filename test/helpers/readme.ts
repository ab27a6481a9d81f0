import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The fenced code block that follows a `<!-- readme-example: NAME -->` marker. */
export function readmeExample(name: string): string {
  const marker = readme.indexOf(`<!-- readme-example: ${name} -->`);
  assert.ok(marker >= 0, `README has no example "${name}"`);
  const match = /```ts\n([\s\S]*?)```/.exec(readme.slice(marker));
  assert.ok(match?.[1] !== undefined);
  return match[1];
}

/** What the README's library example prints when it runs as documented. */
export function assertLibraryExampleOutput(stdout: string): void {
  assert.match(stdout, /^cache-cleanup succeeded \{ removed: 12 \}$/m);
  assert.match(stdout, /^nightly-report cancelled null$/m);
  assert.match(stdout, /trigger: 'manual'/);
  assert.match(stdout, /^stopped: \d+ finished, 0 interrupted$/m);
}
