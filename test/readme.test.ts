import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { assertLibraryExampleOutput, readmeExample } from './helpers/readme.ts';

const run = promisify(execFile);

describe('README', () => {
  it('the library example runs as written', async () => {
    // Inside the package, so `import … from 'caretaker'` resolves to this repository.
    const dir = new URL('./.tmp/', import.meta.url);
    mkdirSync(dir, { recursive: true });
    const file = new URL('readme-library.ts', dir);
    writeFileSync(file, readmeExample('library'));
    const { stdout } = await run(process.execPath, ['--conditions=caretaker-source', file.pathname], { timeout: 30_000 });
    assertLibraryExampleOutput(stdout);
  });
});
