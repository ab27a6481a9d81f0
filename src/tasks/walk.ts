import type { Dirent } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';

/** A file or symbolic link found under the root; links are never followed. */
export interface FileEntry {
  readonly path: string;
  /** Relative to the root, with `/` separators (what include/exclude globs match). */
  readonly relative: string;
  readonly symlink: boolean;
  /** From `lstat`: a link's own size and time, never its target's. */
  readonly size: number;
  readonly mtimeMs: number;
}

/** A directory under the root (the root itself excluded). */
export interface DirEntry {
  readonly path: string;
  readonly relative: string;
  readonly depth: number;
  /** How many entries of any kind it held when read. */
  readonly entries: number;
}

export interface WalkResult {
  readonly files: FileEntry[];
  readonly dirs: DirEntry[];
  /** Directories that could not be read (permissions); their contents are left alone. */
  readonly errors: { readonly path: string; readonly message: string }[];
}

/** Entries examined at once: enough to keep the thread pool busy, bounded in memory. */
const LSTAT_BATCH = 64;

/**
 * Lists regular files and symbolic links under `root` without following any link: a link to a
 * directory is an entry, not a place to descend into, so nothing outside `root` is ever listed.
 * `maxDepth` 1 reads only `root` itself.
 */
export async function walk(root: string, options: { readonly signal: AbortSignal; readonly maxDepth?: number }): Promise<WalkResult> {
  const result: WalkResult = { files: [], dirs: [], errors: [] };
  const maxDepth = options.maxDepth ?? Number.POSITIVE_INFINITY;
  const pending: { path: string; depth: number }[] = [{ path: root, depth: 0 }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    options.signal.throwIfAborted();
    let dirents: Dirent[];
    try {
      dirents = await readdir(next.path, { withFileTypes: true });
    } catch (error) {
      // Removed since it was listed: nothing to do there.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') result.errors.push({ path: next.path, message: (error as Error).message });
      continue;
    }
    if (next.depth > 0) result.dirs.push({ path: next.path, relative: relativePath(root, next.path), depth: next.depth, entries: dirents.length });
    const leaves: string[] = [];
    for (const dirent of dirents) {
      const full = path.join(next.path, dirent.name);
      // Dirent types come from readdir, which does not follow links: isDirectory() is false for a link.
      if (dirent.isDirectory()) {
        if (next.depth + 1 < maxDepth) pending.push({ path: full, depth: next.depth + 1 });
      } else if (dirent.isFile() || dirent.isSymbolicLink()) {
        leaves.push(full);
      }
    }
    for (let i = 0; i < leaves.length; i += LSTAT_BATCH) {
      const stats = await Promise.all(leaves.slice(i, i + LSTAT_BATCH).map((p) => lstat(p).then((s) => ({ p, s }), () => null)));
      for (const item of stats) {
        if (item === null || !(item.s.isFile() || item.s.isSymbolicLink())) continue;
        result.files.push({ path: item.p, relative: relativePath(root, item.p), symlink: item.s.isSymbolicLink(), size: item.s.size, mtimeMs: item.s.mtimeMs });
      }
    }
  }
  return result;
}

/** `child` relative to `root` with `/` separators. */
export function relativePath(root: string, child: string): string {
  return path.relative(root, child).split(path.sep).join('/');
}

/** True when `child` is strictly inside `root` (both absolute and normalised). */
export function isInside(root: string, child: string): boolean {
  const rel = path.relative(root, child);
  return rel !== '' && !path.isAbsolute(rel) && rel.split(path.sep)[0] !== '..';
}
