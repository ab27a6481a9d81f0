/**
 * The package as a user gets it: `npm pack` (which builds, on `prepare`), installed into a scratch
 * project with its production dependencies only. Every export must import, the README's library
 * example and the `caretaker` bin must run, the types must compile under a strict consumer
 * without skipLibCheck, and an older Node must get a message instead of a stack.
 *
 * Not in the `npm test` glob: npm install takes a while, and packing rebuilds dist/, which tests
 * running beside it read. `npm run test:packaging` (and CI) runs it.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { assertLibraryExampleOutput, readmeExample } from '../helpers/readme.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; exports: Record<string, unknown>; engines: { node: string } };
const execFileAsync = promisify(execFile);

/** The environment without what `npm run` adds (npm_config_*, npm_package_*): the scratch project's npm must not pick up the repository's. */
const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_'))),
  ...extra,
});

/** Runs a command; on failure the error carries its output, so the test says what went wrong. */
async function run(command: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }) {
  try {
    return await execFileAsync(command, args, { cwd: options.cwd, env: options.env ?? env(), timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 2 ** 20 });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${options.cwd}:\n${stdout ?? ''}\n${stderr ?? ''}`, { cause: error });
  }
}

/** `caretaker`'s own specifiers: '.' is 'caretaker', './testing' is 'caretaker/testing'. */
const specifiers = Object.keys(PKG.exports)
  .filter((key) => key !== './package.json')
  .map((key) => (key === '.' ? 'caretaker' : `caretaker/${key.slice(2)}`));

/** package.json's `engines` floor, which the bin checks: `>=22.13` is [22, 13]. */
const [floorMajor = 0, floorMinor = 0] = (/^>=(\d+)\.(\d+)$/.exec(PKG.engines.node) ?? []).slice(1).map(Number);

/** A Node.js on this machine older than that floor (the system one, where npm's scripts put Node 24 first on PATH). */
function olderNode(): { path: string; version: string } | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin'];
  for (const dir of new Set(dirs)) {
    const path = join(dir, 'node');
    if (dir === '' || !existsSync(path)) continue;
    try {
      const version = execFileSync(path, ['--version'], { encoding: 'utf8' }).trim();
      const [major = 0, minor = 0] = version.slice(1).split('.').map(Number);
      if (major < floorMajor || (major === floorMajor && minor < floorMinor)) return { path, version };
    } catch {
      // Not a working node.
    }
  }
  return undefined;
}

describe('the packed package', { timeout: 600_000 }, () => {
  let tmp: string;
  let consumer: string;
  let files: string[];

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'caretaker-pack-'));
    await run('npm', ['pack', '--pack-destination', tmp, '--silent'], { cwd: ROOT, timeoutMs: 300_000 });
    const tarball = readdirSync(tmp).find((name) => name.endsWith('.tgz'));
    assert.ok(tarball !== undefined, `npm pack wrote no tarball into ${tmp}`);
    files = execFileSync('tar', ['-tzf', join(tmp, tarball)], { encoding: 'utf8' }).trim().split('\n');
    consumer = join(tmp, 'consumer');
    mkdirSync(consumer);
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { caretaker: `file:../${tarball}` } }));
    await run('npm', ['install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: consumer, timeoutMs: 300_000 });
  });
  after(() => {
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  it('holds the build, the bin and the migrations, and no sources', () => {
    for (const file of ['package/dist/index.js', 'package/dist/index.d.ts', 'package/bin/caretaker.js', 'package/dist/dashboard/index.html', 'package/README.md']) {
      assert.ok(files.includes(file), `${file} is not in the tarball`);
    }
    assert.ok(files.some((file) => /^package\/dist\/store\/sqlite\/migrations\/.+\.sql$/.test(file)), 'no SQLite migrations in the tarball');
    assert.deepEqual(files.filter((file) => /^package\/(src|test|bench|soak|scripts|dashboard)\//.test(file)), []);
  });

  it('installs without development tools', () => {
    for (const tool of ['typescript', 'vite', 'fastify', 'express', '@types/pg']) {
      assert.equal(existsSync(join(consumer, 'node_modules', tool)), false, `${tool} was installed`);
    }
  });

  it('every export of package.json imports', async () => {
    const script = `for (const s of ${JSON.stringify(specifiers)}) console.log(s, Object.keys(await import(s)).sort().join(','));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: consumer });
    const names = new Map(stdout.trim().split('\n').map((line) => line.split(' ') as [string, string]));
    assert.deepEqual([...names.keys()], specifiers);
    const expected: Record<string, string> = {
      caretaker: 'createScheduler',
      'caretaker/testing': 'createTestClock',
      'caretaker/tasks': 'directoryCleanup',
      'caretaker/http': 'createAdminApi',
      'caretaker/fastify': 'caretakerFastify',
      'caretaker/express': 'caretakerExpress',
      'caretaker/hono': 'caretakerHono',
    };
    for (const specifier of specifiers) assert.ok(names.get(specifier)?.split(',').includes(expected[specifier] ?? '?'), `${specifier} exports ${names.get(specifier)}`);
  });

  it("runs the README's library example", async () => {
    writeFileSync(join(consumer, 'readme-library.ts'), readmeExample('library'));
    const { stdout } = await run(process.execPath, ['readme-library.ts'], { cwd: consumer, timeoutMs: 30_000 });
    assertLibraryExampleOutput(stdout);
  });

  it('runs the installed caretaker bin', async () => {
    const bin = join(consumer, 'node_modules', '.bin', 'caretaker');
    // `#!/usr/bin/env node`: the Node that runs this test comes first on PATH.
    const withNode = env({ PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` });
    const version = await run(bin, ['--version'], { cwd: consumer, env: withNode });
    assert.equal(version.stdout.trim(), PKG.version);
    const next = await run(bin, ['next', 'every 5m', '--count', '2'], { cwd: consumer, env: withNode });
    const lines = next.stdout.trim().split('\n');
    assert.equal(lines.length, 2, next.stdout);
    for (const line of lines) assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  });

  it('runs the demo from the installed package, writing its data in ./caretaker-demo, nothing inside node_modules', async () => {
    const bin = join(consumer, 'node_modules', '.bin', 'caretaker');
    const withNode = env({ PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`, CARETAKER_HTTP_PORT: '0' });
    const demo = spawn(bin, ['demo', '--log-format', 'json'], { cwd: consumer, env: withNode, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    demo.stdout.on('data', (d: Buffer) => (output += d.toString()));
    demo.stderr.on('data', (d: Buffer) => (output += d.toString()));
    try {
      const deadline = Date.now() + 60_000;
      while (!output.includes('caretaker running') && Date.now() < deadline && demo.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.ok(output.includes('caretaker running'), output);
    } finally {
      demo.kill('SIGTERM');
      await new Promise((resolve) => demo.once('exit', resolve));
    }
    assert.ok(existsSync(join(consumer, 'caretaker-demo', 'data', 'app.db')), 'the demo data is in ./caretaker-demo');
    assert.equal(existsSync(join(consumer, 'node_modules', 'caretaker', 'examples', 'demo', 'data')), false, 'nothing written inside node_modules');
  });

  it('type-checks in a strict consumer without skipLibCheck, under nodenext and bundler resolution', async () => {
    // The consumer's own development tools, taken from this repository's install.
    for (const tool of ['@types/node', '@types/express', 'express', 'fastify']) {
      mkdirSync(dirname(join(consumer, 'node_modules', tool)), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules', tool), join(consumer, 'node_modules', tool), 'dir');
    }
    writeFileSync(join(consumer, 'index.ts'), readFileSync(new URL('./consumer.ts', import.meta.url), 'utf8'));
    const strict = { strict: true, skipLibCheck: false, noEmit: true, target: 'es2022', lib: ['es2022'], types: ['node'], exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true };
    const configs = {
      'tsconfig.nodenext.json': { module: 'nodenext', moduleResolution: 'nodenext' },
      'tsconfig.bundler.json': { module: 'esnext', moduleResolution: 'bundler' },
    };
    for (const [name, resolution] of Object.entries(configs)) {
      writeFileSync(join(consumer, name), JSON.stringify({ compilerOptions: { ...strict, ...resolution }, files: ['index.ts'] }));
      await run(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', name], { cwd: consumer });
    }
  });

  it('tells an older Node which version it needs', async (t) => {
    assert.ok(floorMajor > 0, `package.json engines.node is ${JSON.stringify(PKG.engines.node)}, not ">=MAJOR.MINOR": update bin/caretaker.js and this test with it`);
    const old = olderNode();
    if (old === undefined) {
      t.skip(`no Node.js older than ${PKG.engines.node} on this machine (looked on PATH, in /usr/bin and /usr/local/bin)`);
      return;
    }
    const bin = join(consumer, 'node_modules', 'caretaker', 'bin', 'caretaker.js');
    const outcome = await execFileAsync(old.path, [bin, '--version'], { cwd: consumer, env: env() }).then(
      () => assert.fail('the bin ran on an older Node'),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    assert.equal(outcome.code, 2);
    assert.equal(outcome.stdout, '');
    assert.equal(outcome.stderr, `caretaker: Node.js ${floorMajor}.${floorMinor} or newer is needed; this is Node.js ${old.version} (${old.path})\n`);

    const script = `import { createScheduler, sqliteStore } from 'caretaker';
      try { await createScheduler({ store: sqliteStore({ path: 'state.db' }) }).start(); console.log('{}'); }
      catch (error) { console.log(JSON.stringify({ name: error.name, code: error.code, message: error.message })); }`;
    const { stdout } = await run(old.path, ['--input-type=module', '-e', script], { cwd: consumer });
    const error = JSON.parse(stdout) as { name: string; code: string; message: string };
    assert.equal(error.name, 'CaretakerError');
    assert.equal(error.code, 'ERR_STORE');
    assert.match(error.message, new RegExp(`^sqliteStore: node:sqlite is not available in Node.js ${old.version.replaceAll('.', '\\.')}; SQLite needs Node.js 22.13 or newer`));
  });
});
