import assert from 'node:assert/strict';
import { appendFile, mkdir, open, readdir, readFile, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { type LogRotationOptions, type LogRotationResult, logRotation } from 'caretaker/tasks';
import { InvalidOptionError } from '../../src/util/errors.ts';
import { fakeContext, tempDir } from './context.ts';

const DAY = 86_400_000;

async function rotateOnce(options: LogRotationOptions, signal?: AbortSignal): Promise<LogRotationResult> {
  return (await logRotation(options)(fakeContext(signal === undefined ? {} : { signal }))) as LogRotationResult;
}

/** Name → content (gunzipped for .gz) of every file in `dir`. */
async function contents(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    const full = path.join(dir, name);
    if (!(await stat(full)).isFile()) continue;
    const data = await readFile(full);
    out[name] = (name.endsWith('.gz') ? gunzipSync(data) : data).toString();
  }
  return out;
}

describe('logRotation', () => {
  let dir: string;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
  });
  afterEach(() => cleanup());

  it('renames the file to .1, shifts older copies and drops those beyond keep', async () => {
    const log = path.join(dir, 'app.log');
    for (const line of ['one', 'two', 'three', 'four']) {
      await writeFile(log, `${line}\n`);
      await rotateOnce({ files: log, keep: 2 });
    }
    assert.deepEqual(await contents(dir), { 'app.log': '', 'app.log.1': 'four\n', 'app.log.2': 'three\n' });
  });

  it('gzips rotated copies, keeping older uncompressed ones as they are', async () => {
    const log = path.join(dir, 'app.log');
    await writeFile(`${log}.1`, 'plain\n');
    await writeFile(log, 'x'.repeat(10_000));
    const ctx = fakeContext();
    const result = (await logRotation({ files: 'app.log', root: dir, keep: 3, compress: true })(ctx)) as LogRotationResult;
    assert.deepEqual(await contents(dir), { 'app.log': '', 'app.log.1.gz': 'x'.repeat(10_000), 'app.log.2': 'plain\n' });
    assert.ok((await stat(`${log}.1.gz`)).size < 1000, 'compressed');
    assert.deepEqual(result.rotated, [{ file: log, bytes: 10_000, reason: 'every-run', to: `${log}.1.gz`, removed: [] }]);
    assert.equal(ctx.reports.at(-1)?.fraction, 1);
  });

  it('copy-truncate keeps an open append-mode writer writing to the same file', async () => {
    const log = path.join(dir, 'app.log');
    const writer = await open(log, 'a');
    try {
      await writer.write('before rotation\n');
      await rotateOnce({ files: log, keep: 1, mode: 'copy-truncate', compress: true });
      await writer.write('after rotation\n');
    } finally {
      await writer.close();
    }
    assert.deepEqual(await contents(dir), { 'app.log': 'after rotation\n', 'app.log.1.gz': 'before rotation\n' });
  });

  it('rename mode leaves an open writer on the renamed copy (why copy-truncate exists)', async () => {
    const log = path.join(dir, 'app.log');
    const writer = await open(log, 'a');
    try {
      await writer.write('before\n');
      await rotateOnce({ files: log, keep: 1 });
      await writer.write('after\n');
    } finally {
      await writer.close();
    }
    assert.deepEqual(await contents(dir), { 'app.log': '', 'app.log.1': 'before\nafter\n' });
  });

  it('rotates only files past maxSize or maxAge', async () => {
    await writeFile(path.join(dir, 'big.log'), 'x'.repeat(2048));
    await writeFile(path.join(dir, 'small.log'), 'x');
    await writeFile(path.join(dir, 'stale.log'), 'x');
    await writeFile(path.join(dir, 'stale.log.1'), 'older');
    const longAgo = new Date(Date.now() - 3 * DAY);
    await utimes(path.join(dir, 'stale.log.1'), longAgo, longAgo);
    await writeFile(path.join(dir, 'recent.log'), 'x');
    await writeFile(path.join(dir, 'recent.log.1'), 'older');
    const result = await rotateOnce({ files: '*.log', root: dir, maxSize: '2KiB', maxAge: '1d', keep: 5 });
    assert.deepEqual(
      result.rotated.map((r) => [path.basename(r.file), r.reason]),
      [
        ['big.log', 'size'],
        ['stale.log', 'age'],
      ],
    );
    assert.equal(result.checked, 4);
    // small.log was created just now: a never-rotated file counts from its creation.
    if ((await stat(path.join(dir, 'small.log'))).birthtimeMs > 0) assert.ok(!result.rotated.some((r) => r.file.endsWith('small.log')));
  });

  it('matches globs relative to root and skips rotated copies, links, empty files and deeper levels', async () => {
    await mkdir(path.join(dir, 'sub'));
    await writeFile(path.join(dir, 'a.log'), 'a');
    await writeFile(path.join(dir, 'a.log.1'), 'old');
    await writeFile(path.join(dir, 'a.log.2.gz'), 'old');
    await writeFile(path.join(dir, 'empty.log'), '');
    await writeFile(path.join(dir, 'notes.txt'), 'n');
    await writeFile(path.join(dir, 'sub', 'b.log'), 'b');
    await symlink(path.join(dir, 'notes.txt'), path.join(dir, 'link.log'));
    const result = await rotateOnce({ files: ['*.log*', 'missing.log'], root: dir, keep: 5, dryRun: true });
    assert.deepEqual(result.rotated.map((r) => path.basename(r.file)), ['a.log']);
    assert.equal(result.checked, 2, 'a.log and empty.log');
    assert.deepEqual(result.missing, [path.join(dir, 'missing.log')]);
    const deep = await rotateOnce({ files: ['**/*.log'], root: dir, keep: 5, dryRun: true });
    assert.deepEqual(deep.rotated.map((r) => path.relative(dir, r.file)), ['a.log', 'sub/b.log']);
  });

  it('shows in a dry run what a real run then does, changing nothing', async () => {
    const log = path.join(dir, 'app.log');
    await writeFile(log, 'current');
    for (let i = 1; i <= 5; i++) await writeFile(`${log}.${i}`, `copy ${i}`);
    const before = await contents(dir);
    const options = { files: log, keep: 2, compress: true };
    const dry = await rotateOnce({ ...options, dryRun: true });
    assert.deepEqual(await contents(dir), before);
    const real = await rotateOnce(options);
    assert.deepEqual({ ...dry, dryRun: false }, real);
    assert.deepEqual(real.rotated[0]?.removed, [2, 3, 4, 5].map((i) => `${log}.${i}`).sort());
    assert.deepEqual(await contents(dir), { 'app.log': '', 'app.log.1.gz': 'current', 'app.log.2': 'copy 1' });
  });

  it('with keep 0 empties the file and keeps no copy', async () => {
    const log = path.join(dir, 'app.log');
    await writeFile(log, 'gone');
    await writeFile(`${log}.1`, 'old');
    await rotateOnce({ files: log, keep: 0, mode: 'copy-truncate' });
    assert.deepEqual(await contents(dir), { 'app.log': '' });
  });

  it('stops between files when the signal aborts', async () => {
    await writeFile(path.join(dir, 'a.log'), 'a');
    await writeFile(path.join(dir, 'b.log'), 'b');
    const controller = new AbortController();
    const reason = new Error('stop');
    const ctx = fakeContext({ signal: controller.signal, onProgress: (f) => f > 0 && controller.abort(reason) });
    await assert.rejects(async () => logRotation({ files: '*.log', root: dir, keep: 1 })(ctx), (e: unknown) => e === reason);
    assert.deepEqual(Object.keys(await contents(dir)), ['a.log', 'a.log.1', 'b.log']);
  });

  it('keeps writing appends made between runs to the new file', async () => {
    const log = path.join(dir, 'app.log');
    await writeFile(log, 'first\n');
    await rotateOnce({ files: log, keep: 3, mode: 'copy-truncate' });
    await appendFile(log, 'second\n');
    await rotateOnce({ files: log, keep: 3, mode: 'copy-truncate' });
    assert.deepEqual(await contents(dir), { 'app.log': '', 'app.log.1': 'second\n', 'app.log.2': 'first\n' });
  });

  it('validates options when the factory is called', () => {
    assert.throws(
      () => logRotation({ files: [], mode: 'move', kep: 3 } as never),
      (e: unknown) => {
        assert.ok(e instanceof InvalidOptionError);
        const byPath = Object.fromEntries(e.issues.map((i) => [i.path, i.fix]));
        assert.match(byPath.files ?? '', /non-empty/);
        assert.match(byPath.mode ?? '', /use one of "rename", "copy-truncate"/);
        assert.match(byPath.kep ?? '', /did you mean "keep"/);
        return true;
      },
    );
    assert.throws(() => logRotation({ files: 'a.log', keep: 1, maxSize: 'big' }), /maxSize: received "big"; is not a size/);
    assert.throws(() => logRotation({ files: 'a.log' } as never), /keep: received nothing; is required/);
  });
});
