import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The fenced code block that follows a `<!-- readme-example: NAME -->` marker. */
function example(name: string): string {
  const marker = readme.indexOf(`<!-- readme-example: ${name} -->`);
  assert.ok(marker >= 0, `README has no example "${name}"`);
  const match = /```ts\n([\s\S]*?)```/.exec(readme.slice(marker));
  assert.ok(match?.[1] !== undefined);
  return match[1];
}

describe('README', () => {
  it('the library example runs as written', async () => {
    // Inside the package, so `import … from 'caretaker'` resolves to this repository.
    const dir = new URL('./.tmp/', import.meta.url);
    mkdirSync(dir, { recursive: true });
    const file = new URL('readme-library.ts', dir);
    writeFileSync(file, example('library'));
    const { stdout } = await run(process.execPath, ['--conditions=development', file.pathname], { timeout: 30_000 });
    assert.match(stdout, /^cache-cleanup succeeded \{ removed: 12 \}$/m);
    assert.match(stdout, /^nightly-report cancelled null$/m);
    assert.match(stdout, /trigger: 'manual'/);
    assert.match(stdout, /^stopped: \d+ finished, 0 interrupted$/m);
  });
});
