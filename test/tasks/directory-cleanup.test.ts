import assert from 'node:assert/strict';
import { lstat, lutimes, mkdir, readdir, readFile, realpath, stat, symlink, writeFile } from 'node:fs/promises';
import { renameSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createScheduler } from 'caretaker';
import { type DirectoryCleanupResult, directoryCleanup } from 'caretaker/tasks';
import { createTestClock } from 'caretaker/testing';
import { InvalidOptionError } from '../../src/util/errors.ts';
import { fakeContext, tempDir, writeAged } from './context.ts';

const DAY = 86_400_000;

/** Every path under `dir` with its size, to prove a run changed nothing. */
async function listing(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const paths = entries.map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
  return Promise.all(
    paths.map(async (p) => {
      const s = await lstat(path.join(dir, p));
      return `${p}:${s.isSymbolicLink() ? 'link' : s.isDirectory() ? 'dir' : s.size}`;
    }),
  );
}

const exists = (p: string) => lstat(p).then(() => true, () => false);

async function run(options: Parameters<typeof directoryCleanup>[0], signal?: AbortSignal): Promise<DirectoryCleanupResult> {
  return (await directoryCleanup(options)(fakeContext(signal === undefined ? {} : { signal }))) as DirectoryCleanupResult;
}

describe('directoryCleanup', () => {
  let base: string;
  let root: string;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    ({ dir: base, cleanup } = await tempDir());
    root = path.join(base, 'root');
    await mkdir(path.join(root, 'a', 'b'), { recursive: true });
  });
  afterEach(() => cleanup());

  it('removes files older than maxAge at any depth and keeps newer ones', async () => {
    await writeAged(path.join(root, 'old.txt'), 10, 40);
    await writeAged(path.join(root, 'a', 'old.bin'), 20, 31);
    await writeAged(path.join(root, 'a', 'b', 'old.log'), 30, 100);
    await writeAged(path.join(root, 'a', 'b', 'new.log'), 40, 29);
    await writeAged(path.join(root, '.hidden'), 5, 60);
    const ctx = fakeContext();
    const result = (await directoryCleanup({ root, maxAge: '30d' })(ctx)) as DirectoryCleanupResult;
    assert.deepEqual(await listing(root), ['a:dir', 'a/b:dir', 'a/b/new.log:40']);
    assert.equal(result.root, await realpath(root));
    assert.deepEqual(result.matched, { files: 5, bytes: 105 });
    assert.deepEqual(result.removed, { files: 4, bytes: 65, byAge: 4, bySize: 0, dirs: 0 });
    assert.deepEqual(result.remaining, { files: 1, bytes: 40 });
    assert.deepEqual([...result.sample].sort(), ['.hidden', 'a/b/old.log', 'a/old.bin', 'old.txt']);
    assert.equal(result.failed, 0);
    assert.deepEqual(result.errors, []);
    assert.equal(ctx.reports.at(-1)?.fraction, 1);
    assert.ok(ctx.reports.some((r) => r.fraction > 0 && r.fraction < 1), 'progress between start and end');
  });

  it('removes the oldest files first until the rest fit in maxTotalSize', async () => {
    await writeAged(path.join(root, 'f1'), 100, 5);
    await writeAged(path.join(root, 'a', 'f2'), 100, 4);
    await writeAged(path.join(root, 'a', 'b', 'f3'), 100, 3);
    await writeAged(path.join(root, 'f4'), 100, 2);
    await writeAged(path.join(root, 'f5'), 100, 1);
    const result = await run({ root, maxTotalSize: 250 });
    assert.deepEqual(result.sample, ['f1', 'a/f2', 'a/b/f3']);
    assert.deepEqual(await listing(root), ['a:dir', 'a/b:dir', 'f4:100', 'f5:100']);
    assert.deepEqual(result.remaining, { files: 2, bytes: 200 });
  });

  it('applies maxAge first, then the size budget to what is left', async () => {
    await writeAged(path.join(root, 'ancient'), 10, 90);
    await writeAged(path.join(root, 'f1'), 1000, 5);
    await writeAged(path.join(root, 'f2'), 1000, 4);
    await writeAged(path.join(root, 'f3'), 1000, 3);
    const result = await run({ root, maxAge: '30d', maxTotalSize: '2KB' });
    assert.deepEqual(result.sample, ['ancient', 'f1']);
    assert.deepEqual(result.removed, { files: 2, bytes: 1010, byAge: 1, bySize: 1, dirs: 0 });
    assert.deepEqual(result.remaining, { files: 2, bytes: 2000 });
  });

  it('manages only files that include selects and exclude does not, matched relative to root', async () => {
    await writeAged(path.join(root, 'x.tmp'), 1, 40);
    await writeAged(path.join(root, 'a', 'y.tmp'), 1, 40);
    await writeAged(path.join(root, 'a', 'b', 'keep.tmp'), 1, 40);
    await writeAged(path.join(root, 'a', 'z.dat'), 1, 40);
    const result = await run({ root, maxAge: '1d', include: ['**/*.tmp'], exclude: 'a/b/**' });
    assert.deepEqual([...result.sample].sort(), ['a/y.tmp', 'x.tmp']);
    assert.deepEqual(await listing(root), ['a:dir', 'a/b:dir', 'a/b/keep.tmp:1', 'a/z.dat:1']);
    assert.equal(result.matched.files, 2);
  });

  it('removes a link to a file outside root as a link and leaves its target alone', async () => {
    const outside = path.join(base, 'outside.txt');
    await writeAged(outside, 7, 400);
    const link = path.join(root, 'a', 'link.txt');
    await symlink(outside, link);
    const old = new Date(Date.now() - 90 * DAY);
    await lutimes(link, old, old);
    const result = await run({ root, maxAge: '30d' });
    assert.deepEqual(result.sample, ['a/link.txt']);
    assert.equal(await exists(link), false);
    assert.equal((await readFile(outside)).length, 7);
  });

  it('judges a link by its own age, not its target’s', async () => {
    const outside = path.join(base, 'outside.txt');
    await writeAged(outside, 7, 400);
    await symlink(outside, path.join(root, 'fresh-link'));
    const result = await run({ root, maxAge: '30d' });
    assert.equal(result.removed.files, 0);
    assert.equal(await exists(path.join(root, 'fresh-link')), true);
  });

  it('never descends into a linked directory, inside or outside root', async () => {
    const outsideDir = path.join(base, 'outside');
    await mkdir(outsideDir);
    await writeAged(path.join(outsideDir, 'precious'), 3, 400);
    await writeAged(path.join(root, 'a', 'b', 'inner'), 3, 1);
    await symlink(outsideDir, path.join(root, 'to-outside'));
    await symlink(path.join(root, 'a'), path.join(root, 'to-a'));
    const result = await run({ root, maxTotalSize: 0, removeEmptyDirs: true });
    // Both links are entries of their own; what they point at is never listed through them.
    assert.deepEqual([...result.sample].sort(), ['a/b/inner', 'to-a', 'to-outside']);
    assert.deepEqual(await readdir(outsideDir), ['precious']);
    assert.deepEqual(await readdir(root), []);
    assert.ok((await stat(root)).isDirectory(), 'root itself stays');
  });

  it('resolves ".." in root to the real directory and cleans only there', async () => {
    const sibling = path.join(base, 'sibling');
    await mkdir(sibling);
    await writeAged(path.join(sibling, 'old'), 1, 40);
    await writeAged(path.join(root, 'old'), 1, 40);
    const result = await run({ root: path.join(root, 'a', '..', '..', 'sibling'), maxAge: '1d' });
    assert.equal(result.root, await realpath(sibling));
    assert.deepEqual(await readdir(sibling), []);
    assert.equal(await exists(path.join(root, 'old')), true);
  });

  it('refuses a filesystem root, also when reached through ".." or a link', async () => {
    const dots = path.join(root, ...Array.from({ length: root.split(path.sep).length }, () => '..'));
    for (const bad of ['/', dots]) {
      assert.throws(() => directoryCleanup({ root: bad, maxAge: '1d' }), (e: unknown) => e instanceof InvalidOptionError && e.issues[0]?.path === 'root');
    }
    await symlink('/', path.join(base, 'slash'));
    const handler = directoryCleanup({ root: path.join(base, 'slash'), maxAge: '1d' });
    await assert.rejects(async () => handler(fakeContext()), (e: unknown) => e instanceof InvalidOptionError && /filesystem root/.test(e.message));
  });

  it('fails the run when root is missing or not a directory', async () => {
    await writeFile(path.join(base, 'file'), 'x');
    for (const bad of [path.join(base, 'missing'), path.join(base, 'file')]) {
      await assert.rejects(async () => directoryCleanup({ root: bad, maxAge: '1d' })(fakeContext()), (e: unknown) => e instanceof InvalidOptionError && e.issues[0]?.path === 'root');
    }
  });

  it('rejects globs that try to leave root', () => {
    assert.throws(
      () => directoryCleanup({ root, maxAge: '1d', include: ['*.tmp', '../**'], exclude: '/etc/**' }),
      (e: unknown) => {
        assert.ok(e instanceof InvalidOptionError);
        assert.deepEqual(e.issues.map((i) => i.path), ['include.1', 'exclude']);
        assert.match(e.issues[0]?.fix ?? '', /relative to root/);
        assert.equal(e.issues[0]?.received, '"../**"');
        return true;
      },
    );
  });

  it('removes directories left empty, deepest first, but never root or excluded ones', async () => {
    await mkdir(path.join(root, 'keep', 'deep'), { recursive: true });
    await mkdir(path.join(root, 'empty-already'));
    await writeAged(path.join(root, 'a', 'b', 'old'), 1, 40);
    await writeAged(path.join(root, 'keep', 'deep', 'old'), 1, 40);
    const result = await run({ root, maxAge: '1d', removeEmptyDirs: true, exclude: ['keep', 'keep/deep'] });
    assert.equal(result.removed.dirs, 3);
    assert.deepEqual(await listing(root), ['keep:dir', 'keep/deep:dir']);
  });

  it('changes nothing in a dry run and reports what a real run then does', async () => {
    await writeAged(path.join(root, 'a', 'b', 'old'), 10, 40);
    await writeAged(path.join(root, 'big-old'), 500, 20);
    await writeAged(path.join(root, 'new'), 300, 0);
    await symlink(path.join(base, 'nowhere'), path.join(root, 'dangling'));
    const old = new Date(Date.now() - 90 * DAY);
    await lutimes(path.join(root, 'dangling'), old, old);
    const before = await listing(root);
    const options = { root, maxAge: '30d', maxTotalSize: 400, removeEmptyDirs: true };
    const dry = await run({ ...options, dryRun: true });
    assert.deepEqual(await listing(root), before);
    assert.equal(dry.dryRun, true);
    const real = await run(options);
    assert.deepEqual({ ...dry, dryRun: false }, real);
    assert.deepEqual(await listing(root), ['new:300']);
  });

  it('stops between files when the signal aborts, with the signal’s reason', async () => {
    for (let i = 0; i < 5; i++) await writeAged(path.join(root, `f${i}`), 1, 40 + i);
    const controller = new AbortController();
    const reason = new Error('cancelled by test');
    const ctx = fakeContext({ signal: controller.signal, onProgress: (fraction) => fraction > 0 && controller.abort(reason) });
    await assert.rejects(async () => directoryCleanup({ root, maxAge: '1d' })(ctx), (e: unknown) => e === reason);
    assert.deepEqual((await readdir(root)).sort(), ['a', 'f0', 'f1', 'f2', 'f3']);
  });

  it('refuses to remove through a directory swapped for a link after the scan', async () => {
    const outsideDir = path.join(base, 'outside');
    await mkdir(outsideDir);
    await writeAged(path.join(outsideDir, 'victim'), 4, 400);
    await writeAged(path.join(root, 'first'), 1, 50);
    await writeAged(path.join(root, 'a', 'victim'), 1, 40);
    const swap = () => {
      renameSync(path.join(root, 'a'), path.join(base, 'a-moved'));
      symlinkSync(outsideDir, path.join(root, 'a'));
    };
    const ctx = fakeContext({ onProgress: (fraction) => fraction > 0 && fraction < 1 && swap() });
    const result = (await directoryCleanup({ root, maxAge: '1d' })(ctx)) as DirectoryCleanupResult;
    assert.deepEqual(result.sample, ['first']);
    assert.equal(result.failed, 1);
    assert.equal(result.errors[0]?.path, 'a/victim');
    assert.match(result.errors[0]?.message ?? '', /no longer a plain directory/);
    assert.deepEqual(await readdir(outsideDir), ['victim']);
  });

  it('validates options when the factory is called, naming each field and the fix', () => {
    assert.throws(
      () => directoryCleanup({ root: '', maxAgee: '30d', maxTotalSize: '10 parsecs' } as never),
      (e: unknown) => {
        assert.ok(e instanceof InvalidOptionError);
        assert.equal(e.code, 'ERR_INVALID_OPTION');
        const byPath = Object.fromEntries(e.issues.map((i) => [i.path, i]));
        assert.match(byPath.maxAgee?.fix ?? '', /did you mean "maxAge"/);
        assert.match(byPath.maxTotalSize?.fix ?? '', /is not a size/);
        assert.equal(byPath.maxTotalSize?.received, '"10 parsecs"');
        assert.match(byPath.root?.fix ?? '', /directory to clean/);
        return true;
      },
    );
    assert.throws(() => directoryCleanup({ root }), (e: unknown) => e instanceof InvalidOptionError && /set maxAge, maxTotalSize or both/.test(e.message));
    assert.throws(() => directoryCleanup(undefined as never), (e: unknown) => e instanceof InvalidOptionError && e.issues[0]?.path === 'options');
  });

  it('records its summary as the run output in a scheduler', async () => {
    await writeAged(path.join(root, 'old'), 3, 40);
    const clock = createTestClock();
    const scheduler = createScheduler({ clock });
    scheduler.add({ name: 'cleanup', schedule: { every: '1h', initialDelay: '1h' }, handler: directoryCleanup({ root, maxAge: '1d' }) });
    await scheduler.start();
    await scheduler.trigger('cleanup');
    await scheduler.onIdle();
    const [runRecord] = await scheduler.history({ task: 'cleanup' });
    await scheduler.stop();
    assert.equal(runRecord?.status, 'succeeded');
    assert.deepEqual((runRecord?.output as unknown as DirectoryCleanupResult).removed.files, 1);
  });
});
