/**
 * Path escape against the directory-cleanup and log-rotation built-ins, on real temporary
 * trees: links to files and directories outside the root, link loops, dangling links, `..` and
 * absolute globs, a root that is itself a link, links planted at the names the tasks write
 * (rotated copies, temporary files), and directories (or the root) swapped for links to a
 * look-alike tree outside while a run is under way. Whatever happens inside the root, every
 * file outside it keeps its content, and a refusal is an InvalidOptionError naming the option.
 *
 * Every link target lies inside the test's own temporary directory, so even a regression that
 * followed links could not reach anything else on the machine.
 */
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { directoryCleanup, logRotation } from '../../src/tasks/index.ts';
import { InvalidOptionError } from '../../src/util/errors.ts';
import { fakeContext } from '../tasks/context.ts';
import { assertOptionError, attempt, fuzz } from './support.ts';

const scratch = mkdtempSync(path.join(tmpdir(), 'caretaker-fuzz-paths-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const DAY = 86_400_000;
const DIRS = ['', 'a', 'a/b', 'c', '.hidden'];
const NAMES = ['x.log', 'y.txt', 'app.log', '.dot', 'z y.log', 'ü.log', '..a'];

/** What is in a tree: each entry's kind and content, or a link's target. Links are not followed. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (at: string) => {
    for (const name of readdirSync(at)) {
      const full = path.join(at, name);
      const info = lstatSync(full);
      const key = path.relative(dir, full);
      if (info.isSymbolicLink()) out.set(key, `link -> ${readlinkSync(full)}`);
      else if (info.isDirectory()) {
        out.set(key, 'dir');
        visit(full);
      } else out.set(key, `file ${readFileSync(full, 'base64')}`);
    }
  };
  visit(dir);
  return out;
}

/** A file with `content` whose mtime (and birth, for rotation by age) is `ageDays` ago. */
function plant(file: string, content: string, ageDays: number): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
  const when = new Date(Date.now() - ageDays * DAY);
  utimesSync(file, when, when);
}

interface Sandbox {
  readonly base: string;
  readonly root: string;
  /** Files, directories and links the task must never change. */
  readonly outside: string;
  /** A copy of the root's layout outside it, to swap in for a directory mid-run. */
  readonly mirror: string;
}

/** Where a link points: outside files and dirs, the mirror, the root, the base, nowhere, itself. */
type LinkTarget = 'outside-file' | 'outside-dir' | 'mirror' | 'root' | 'base' | 'dangling' | 'self' | 'loop' | 'sibling';

interface Tree {
  readonly files: readonly { readonly dir: number; readonly name: number; readonly ageDays: number; readonly size: number }[];
  readonly links: readonly { readonly dir: number; readonly name: string; readonly to: LinkTarget; readonly absolute: boolean; readonly ageDays: number }[];
}

const tree: fc.Arbitrary<Tree> = fc.record({
  files: fc.array(fc.record({ dir: fc.nat({ max: DIRS.length - 1 }), name: fc.nat({ max: NAMES.length - 1 }), ageDays: fc.constantFrom(0, 2, 40, 400), size: fc.nat({ max: 3000 }) }), { maxLength: 12 }),
  links: fc.array(
    fc.record({
      dir: fc.nat({ max: DIRS.length - 1 }),
      name: fc.constantFrom('link.log', 'to-dir', 'app.log.1', 'app.log.2.gz', '.app.log.1.gz.caretaker-tmp', '.app.log.1.caretaker-tmp', '.x.log.1.caretaker-tmp', 'loop', 'x.log'),
      to: fc.constantFrom<LinkTarget>('outside-file', 'outside-dir', 'mirror', 'root', 'base', 'dangling', 'self', 'loop', 'sibling'),
      absolute: fc.boolean(),
      ageDays: fc.constantFrom(0, 400),
    }),
    { maxLength: 6 },
  ),
});

let runs = 0;
/** Builds a fresh sandbox with `t` under its root; files outside are old, so any cleanup would want them. */
function build(t: Tree): Sandbox {
  const base = path.join(scratch, `run-${runs++}`);
  const sb: Sandbox = { base, root: path.join(base, 'root'), outside: path.join(base, 'outside'), mirror: path.join(base, 'outside', 'mirror') };
  mkdirSync(sb.root, { recursive: true });
  for (const dir of DIRS) {
    mkdirSync(path.join(sb.root, dir), { recursive: true });
    for (const name of NAMES) plant(path.join(sb.mirror, dir, name), `mirror ${dir}/${name}\n`.repeat(50), 400);
  }
  plant(path.join(sb.outside, 'victim.log'), 'outside victim\n'.repeat(100), 400);
  plant(path.join(sb.outside, 'logs', 'app.log'), 'outside app log\n'.repeat(100), 400);
  plant(path.join(base, 'sibling.log'), 'sibling of root\n'.repeat(100), 400);
  for (const f of t.files) plant(path.join(sb.root, DIRS[f.dir] as string, NAMES[f.name] as string), 'x'.repeat(f.size), f.ageDays);
  for (const [i, l] of t.links.entries()) {
    const at = path.join(sb.root, DIRS[l.dir] as string, l.name);
    if (lstatSync(at, { throwIfNoEntry: false }) !== undefined) continue;
    const targets: Record<LinkTarget, string> = {
      'outside-file': path.join(sb.outside, 'victim.log'),
      'outside-dir': path.join(sb.outside, 'logs'),
      mirror: path.join(sb.mirror, DIRS[l.dir] as string),
      root: sb.root,
      base,
      dangling: path.join(sb.outside, `missing-${i}`),
      self: at,
      loop: path.join(path.dirname(at), `${l.name}.loop`),
      sibling: path.join(base, 'sibling.log'),
    };
    const target = targets[l.to];
    symlinkSync(l.absolute ? target : path.relative(path.dirname(at), target) || '.', at);
    if (l.to === 'loop') symlinkSync(at, target);
  }
  return sb;
}

/**
 * A ctx.progress callback that, at the `when`-th report, swaps a directory under the root (or
 * the root itself) for a link to its look-alike in the mirror: a run that then followed paths
 * it listed earlier would delete or rewrite the mirror's files.
 */
function swapper(sb: Sandbox, when: number | null, dir: number): (fraction: number) => void {
  let reports = 0;
  return () => {
    if (reports++ !== when) return;
    const victim = path.join(sb.root, DIRS[dir] as string);
    if (!existsSync(victim) || lstatSync(victim).isSymbolicLink()) return;
    renameSync(victim, path.join(sb.base, `moved-${reports}`));
    symlinkSync(path.join(sb.mirror, DIRS[dir] as string), victim);
  };
}

/** Asserts nothing outside the root changed: the outside tree and the root's siblings. */
function assertOutsideUntouched(sb: Sandbox, outsideBefore: Map<string, string>, siblingBefore: string, what: string): void {
  assert.deepEqual(snapshot(sb.outside), outsideBefore, `${what}: files outside the root changed`);
  assert.equal(readFileSync(path.join(sb.base, 'sibling.log'), 'utf8'), siblingBefore, `${what}: the root's sibling changed`);
}

const GLOBS = ['**', '*.log', '**/*.log', 'a/**', '.hidden/*', '../**', '../outside/**', '/**', 'a/../../outside/*', '**/..', '..', 'a/../*.log', '\\..\\*', 'C:\\*', 'to-dir/**', 'mirror/**'];
const fromGlobs = fc.option(fc.oneof(fc.constantFrom(...GLOBS), fc.uniqueArray(fc.constantFrom(...GLOBS), { minLength: 1, maxLength: 3 })), { nil: undefined });

describe('directory-cleanup never leaves its root (fast-check, real files)', () => {
  it('random trees with links, loops and escaping globs, and directories swapped for links mid-run', async () => {
    const options = fc.record({
      root: fc.constantFrom('root', 'root-link', 'root/a/..', 'root-loop', 'sibling.log', 'missing', 'dangling'),
      maxAge: fc.option(fc.constantFrom('0ms', '1d', '30d'), { nil: undefined }),
      maxTotalSize: fc.option(fc.constantFrom(0, '1KB', '1MB'), { nil: undefined }),
      include: fromGlobs,
      exclude: fromGlobs,
      removeEmptyDirs: fc.boolean(),
      dryRun: fc.boolean(),
    });
    const swap = fc.record({ when: fc.option(fc.nat({ max: 6 }), { nil: null }), dir: fc.nat({ max: DIRS.length - 1 }) });
    await fc.assert(
      fc.asyncProperty(tree, options, swap, async (t, o, s) => {
        const sb = build(t);
        symlinkSync(sb.root, path.join(sb.base, 'root-link'));
        symlinkSync(path.join(sb.base, 'root-loop'), path.join(sb.base, 'root-loop'));
        symlinkSync(path.join(sb.base, 'nowhere'), path.join(sb.base, 'dangling'));
        const outsideBefore = snapshot(sb.outside);
        const siblingBefore = readFileSync(path.join(sb.base, 'sibling.log'), 'utf8');
        const rootBefore = snapshot(sb.root);
        const defined = Object.fromEntries(Object.entries({ ...o, root: path.join(sb.base, o.root) }).filter(([, v]) => v !== undefined));
        const made = attempt(() => directoryCleanup(defined as never), 'directoryCleanup');
        if ('error' in made) {
          for (const issue of made.error.issues) assert.match(issue.path, /^(include|exclude|maxAge)(\.\d+)?$/, made.error.message);
          assert.deepEqual(snapshot(sb.root), rootBefore, 'a refused factory changed the root');
          return assertOutsideUntouched(sb, outsideBefore, siblingBefore, 'refused');
        }
        const outcome = await Promise.resolve(made.value(fakeContext({ onProgress: swapper(sb, s.when, s.dir) }))).then(
          (result) => ({ result: result as { sample: string[] } }),
          (error: unknown) => ({ error }),
        );
        if ('error' in outcome) {
          // Only a root that is not a usable directory fails the run, naming root.
          assertOptionError(outcome.error, 'directoryCleanup run');
          assert.deepEqual(outcome.error.issues.map((i) => i.path), ['root'], outcome.error.message);
          assert.ok(['sibling.log', 'missing', 'dangling', 'root-loop'].includes(o.root), `${o.root}: ${outcome.error.message}`);
        } else {
          for (const removed of outcome.result.sample) assert.ok(!removed.split('/').includes('..') && !path.isAbsolute(removed), `removed ${removed}`);
          if (o.dryRun && s.when === null) assert.deepEqual(snapshot(sb.root), rootBefore, 'a dry run changed the root');
        }
        assertOutsideUntouched(sb, outsideBefore, siblingBefore, JSON.stringify({ t, o, s }));
        rmSync(sb.base, { recursive: true, force: true });
      }),
      fuzz(120, 0x9a7401),
    );
  });

  it('the root itself swapped for a link to a look-alike tree mid-run removes nothing there', async () => {
    await fc.assert(
      fc.asyncProperty(tree, fc.nat({ max: 4 }), async (t, when) => {
        const sb = build(t);
        const outsideBefore = snapshot(sb.outside);
        const siblingBefore = readFileSync(path.join(sb.base, 'sibling.log'), 'utf8');
        await directoryCleanup({ root: sb.root, maxAge: '0ms', removeEmptyDirs: true })(fakeContext({ onProgress: swapper(sb, when, 0) }));
        assertOutsideUntouched(sb, outsideBefore, siblingBefore, JSON.stringify({ t, when }));
        rmSync(sb.base, { recursive: true, force: true });
      }),
      fuzz(60, 0x9a7402),
    );
  });
});

describe('log-rotation never writes through a link (fast-check, real files)', () => {
  it('random trees, patterns with .. and links, planted links at copy and temp names: nothing outside changes', async () => {
    // The fixed part of a pattern is taken as written, links included (like a shell glob, and
    // like /var/log being a link): the wildcards are what must never cross a link.
    const patterns = fc.uniqueArray(fc.constantFrom('*.log', '**/*.log', 'a/*.log', '*/*.log', '*/**', '*/*/*.log', 'a/../*.log', 'a/b/../../*.log', '*.log.1', '**', '.*', 'missing/*.log', 'ROOT/**/*.log', 'ROOT/a/*.log', 'app.log', 'a/app.log'), { minLength: 1, maxLength: 3 });
    const options = fc.record({
      keep: fc.nat({ max: 3 }),
      compress: fc.boolean(),
      mode: fc.constantFrom('rename' as const, 'copy-truncate' as const),
      maxSize: fc.option(fc.constantFrom(0, '1KB'), { nil: undefined }),
      dryRun: fc.boolean(),
    });
    const swap = fc.record({ when: fc.option(fc.nat({ max: 6 }), { nil: null }), dir: fc.nat({ max: DIRS.length - 1 }) });
    await fc.assert(
      fc.asyncProperty(tree, patterns, options, swap, async (t, files, o, s) => {
        const sb = build(t);
        const outsideBefore = snapshot(sb.outside);
        const siblingBefore = readFileSync(path.join(sb.base, 'sibling.log'), 'utf8');
        const rootBefore = snapshot(sb.root);
        const handler = logRotation({ root: sb.root, files: files.map((f) => f.replace('ROOT', sb.root)), ...(o.maxSize === undefined ? {} : { maxSize: o.maxSize }), keep: o.keep, compress: o.compress, mode: o.mode, dryRun: o.dryRun });
        const result = (await handler(fakeContext({ onProgress: swapper(sb, s.when, s.dir) }))) as { rotated: { file: string }[]; errors: { file: string }[] };
        for (const r of [...result.rotated, ...result.errors]) assert.ok(r.file.startsWith(`${sb.root}${path.sep}`), `${r.file} is outside the root`);
        if (o.dryRun && s.when === null) assert.deepEqual(snapshot(sb.root), rootBefore, 'a dry run changed the root');
        assertOutsideUntouched(sb, outsideBefore, siblingBefore, JSON.stringify({ t, files, o, s }));
        rmSync(sb.base, { recursive: true, force: true });
      }),
      // Found: a link planted at the temporary name made the copy overwrite its target outside.
      { ...fuzz(120, 0x9a7403), examples: [[{ files: [{ dir: 0, name: 2, ageDays: 0, size: 100 }], links: [{ dir: 0, name: '.app.log.1.gz.caretaker-tmp', to: 'outside-file', absolute: false, ageDays: 0 }] }, ['app.log'], { keep: 2, compress: true, mode: 'rename', maxSize: undefined, dryRun: false }, { when: null, dir: 0 }]] },
    );
  });

  it('refuses globs it cannot compile, naming files', () => {
    assert.throws(() => logRotation({ files: ['ok.log', `${'a/'.repeat(40_000)}*.log`], keep: 1 }), (e: unknown) => {
      assert.ok(e instanceof InvalidOptionError);
      assert.deepEqual(e.issues.map((i) => i.path), ['files.1']);
      return true;
    });
  });
});
