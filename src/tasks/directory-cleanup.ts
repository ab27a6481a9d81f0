import path from 'node:path';
import picomatch from 'picomatch';
import { z } from 'zod';
import type { TaskContext, TaskHandler } from '../engine/task.ts';
import type { Duration } from '../util/duration.ts';
import type { Size } from '../util/size.ts';
import { isFilesystemRoot, removeInside, resolveRoot } from './confined.ts';
import { durationField, globFix, optionIssue, parseOptions, sizeField, stringListField } from './options.ts';
import { progressCounter } from './pacing.ts';
import { type DirEntry, type FileEntry, relativePath, walk } from './walk.ts';

/** Options of {@link directoryCleanup}. */
export interface DirectoryCleanupOptions {
  /**
   * The directory to clean, resolved to its real path at every run. Nothing outside it is
   * removed, links are removed as links (never followed), and the root itself always stays.
   */
  readonly root: string;
  /** Remove files last modified longer ago than this. At least one of `maxAge` and `maxTotalSize` is required. */
  readonly maxAge?: Duration;
  /** Then remove the oldest files until the managed files (after include/exclude) total at most this. */
  readonly maxTotalSize?: Size;
  /** picomatch globs of paths relative to `root` that the task manages; dotfiles included. @defaultValue every file */
  readonly include?: string | readonly string[];
  /** Globs of paths to leave alone; wins over `include`, and keeps matching directories from `removeEmptyDirs`. */
  readonly exclude?: string | readonly string[];
  /** Remove directories under `root` left empty (including ones that already were). @defaultValue false */
  readonly removeEmptyDirs?: boolean;
  /** Report what would be removed and remove nothing. @defaultValue false */
  readonly dryRun?: boolean;
}

/** A cleanup run's output. In a dry run the removal counts are what would have been removed. */
export interface DirectoryCleanupResult {
  readonly root: string;
  readonly dryRun: boolean;
  /** Files and links under the root that include/exclude select. */
  readonly matched: { readonly files: number; readonly bytes: number };
  readonly removed: { readonly files: number; readonly bytes: number; readonly byAge: number; readonly bySize: number; readonly dirs: number };
  readonly remaining: { readonly files: number; readonly bytes: number };
  /** Up to 50 removed paths, relative to the root. */
  readonly sample: readonly string[];
  /** Entries that could not be read or removed; the rest of the run went on. */
  readonly failed: number;
  /** The first 20 of those failures. */
  readonly errors: readonly { readonly path: string; readonly message: string }[];
}

const SAMPLE = 50;
const MAX_ERRORS = 20;

const patternFix = (pattern: string): string | undefined =>
  path.posix.isAbsolute(pattern) || path.win32.isAbsolute(pattern) || pattern.split(/[\\/]/).includes('..')
    ? 'globs match paths relative to root (like "tmp/**/*.part") and cannot reach outside it; remove the leading "/" or ".."'
    : globFix(pattern);

const schema = z.strictObject({
  root: z.string().min(1, { message: 'must be the directory to clean' }),
  maxAge: durationField.optional(),
  maxTotalSize: sizeField.optional(),
  include: stringListField(patternFix).optional(),
  exclude: stringListField(patternFix).optional(),
  removeEmptyDirs: z.boolean().optional(),
  dryRun: z.boolean().optional(),
});

type Parsed = z.output<typeof schema>;

/**
 * A handler that removes old files under a directory: those older than `maxAge`, then the
 * oldest ones until the rest fit in `maxTotalSize`. It never leaves its root, never follows a
 * link, and keeps going past files it cannot remove (they are listed in the output).
 *
 * @example
 * import { directoryCleanup } from 'caretaker/tasks';
 * scheduler.add({
 *   name: 'cache-cleanup',
 *   schedule: { every: '6h' },
 *   handler: directoryCleanup({ root: './cache', maxAge: '30d', maxTotalSize: '10GB', exclude: '*.lock' }),
 * });
 */
export function directoryCleanup(options: DirectoryCleanupOptions): TaskHandler {
  const o = parseOptions('directoryCleanup', schema, options, (p) => {
    const issues = [];
    if (p.maxAge === undefined && p.maxTotalSize === undefined) {
      issues.push(optionIssue('maxAge', undefined, 'set maxAge, maxTotalSize or both, or the task has nothing to remove'));
    }
    if (isFilesystemRoot(p.root)) issues.push(optionIssue('root', p.root, 'is a filesystem root; point it at the directory to clean'));
    return issues;
  });
  const included = o.include === undefined ? () => true : picomatch(o.include, { dot: true });
  const excluded = o.exclude === undefined ? () => false : picomatch(o.exclude, { dot: true });
  const manages = (relative: string) => included(relative) && !excluded(relative);
  return async (ctx) => {
    const root = await resolveRoot('directoryCleanup', o.root);
    ctx.progress(0, `scanning ${root}`);
    const tree = await walk(root, { signal: ctx.signal });
    const files = tree.files.filter((f) => manages(f.relative));
    const plan = planRemovals(files, o, Date.now());
    const dryRun = o.dryRun ?? false;
    const errors = tree.errors.slice(0, MAX_ERRORS).map((e) => ({ path: relativePath(root, e.path), message: e.message }));
    let failed = tree.errors.length;
    const fail = (p: string, error: unknown) => {
      failed++;
      if (errors.length < MAX_ERRORS) errors.push({ path: p, message: (error as Error).message });
    };

    const removed: FileEntry[] = [];
    const report = progressCounter(ctx, plan.order.length, dryRun ? 'would remove' : 'removed');
    for (const file of plan.order) {
      ctx.signal.throwIfAborted();
      if (!dryRun) {
        try {
          await removeInside(root, file.path, 'entry');
        } catch (error) {
          // Already gone: someone else cleaned it, which is what we wanted.
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') fail(file.relative, error);
          continue;
        }
      }
      removed.push(file);
      report(removed.length);
    }

    const dirs = o.removeEmptyDirs === true ? await removeEmptyDirs(root, tree.dirs, removed, excluded, dryRun, ctx, fail) : 0;
    const bytes = (list: readonly FileEntry[]) => list.reduce((sum, f) => sum + f.size, 0);
    const matchedBytes = bytes(files);
    const removedBytes = bytes(removed);
    const byAge = removed.filter((f) => plan.byAge.has(f)).length;
    if (failed > 0) ctx.logger.warn({ root, failed, first: errors[0] }, 'directory cleanup could not read or remove some entries');
    ctx.progress(1, `${dryRun ? 'would remove' : 'removed'} ${removed.length} files`);
    return {
      root,
      dryRun,
      matched: { files: files.length, bytes: matchedBytes },
      removed: { files: removed.length, bytes: removedBytes, byAge, bySize: removed.length - byAge, dirs },
      remaining: { files: files.length - removed.length, bytes: matchedBytes - removedBytes },
      sample: removed.slice(0, SAMPLE).map((f) => f.relative),
      failed,
      errors,
    } satisfies DirectoryCleanupResult;
  };
}

/** The files to remove, in order: every file past `maxAge`, then the oldest until the rest fit. */
function planRemovals(files: readonly FileEntry[], o: Parsed, now: number): { order: FileEntry[]; byAge: Set<FileEntry> } {
  // Oldest first; the path breaks ties so a run is reproducible.
  const ordered = [...files].sort((a, b) => a.mtimeMs - b.mtimeMs || (a.relative < b.relative ? -1 : 1));
  const cutoff = o.maxAge === undefined ? Number.NEGATIVE_INFINITY : now - o.maxAge;
  const byAge = new Set(ordered.filter((f) => f.mtimeMs < cutoff));
  const order = [...byAge];
  if (o.maxTotalSize !== undefined) {
    let total = ordered.reduce((sum, f) => sum + (byAge.has(f) ? 0 : f.size), 0);
    for (const file of ordered) {
      if (total <= o.maxTotalSize) break;
      if (byAge.has(file)) continue;
      order.push(file);
      total -= file.size;
    }
  }
  return { order, byAge };
}

/**
 * Removes directories that are empty once `removed` are gone, deepest first, so a chain of
 * directories that only held old files goes entirely. Counting entries (instead of listing
 * again) lets a dry run predict the same result; a real run still relies on `rmdir` refusing a
 * directory that gained an entry meanwhile.
 */
async function removeEmptyDirs(
  root: string,
  dirs: readonly DirEntry[],
  removed: readonly FileEntry[],
  excluded: (relative: string) => boolean,
  dryRun: boolean,
  ctx: TaskContext,
  fail: (path: string, error: unknown) => void,
): Promise<number> {
  const left = new Map<string, number>(dirs.map((d) => [d.path, d.entries]));
  const gone = (entry: string) => {
    const parent = path.dirname(entry);
    const count = left.get(parent);
    if (count !== undefined) left.set(parent, count - 1);
  };
  for (const file of removed) gone(file.path);
  let count = 0;
  for (const dir of [...dirs].sort((a, b) => b.depth - a.depth)) {
    ctx.signal.throwIfAborted();
    if (left.get(dir.path) !== 0 || excluded(dir.relative)) continue;
    if (!dryRun) {
      try {
        await removeInside(root, dir.path, 'dir');
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOENT') fail(dir.relative, error);
        continue;
      }
    }
    gone(dir.path);
    count++;
  }
  return count;
}
