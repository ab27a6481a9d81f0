import { realpath, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { invalidOption } from '../util/errors.ts';
import { isInside } from './walk.ts';

/** True for `/`, `C:\` and the like: a root that would let a cleanup task empty a whole disk. */
export function isFilesystemRoot(dir: string): boolean {
  const resolved = path.resolve(dir);
  return path.parse(resolved).root === resolved;
}

/**
 * The real path of a task's root directory, checked at every run: it may have been removed,
 * replaced or turned into a link to `/` since the task was defined.
 */
export async function resolveRoot(factory: string, root: string): Promise<string> {
  const real = await realpath(root).catch(() => null);
  const info = real === null ? null : await stat(real).catch(() => null);
  if (real === null || info === null || !info.isDirectory()) {
    throw invalidOption(`${factory} options`, 'root', root, 'must be an existing directory; create it or fix the path');
  }
  if (isFilesystemRoot(real)) {
    throw invalidOption(`${factory} options`, 'root', root, `resolves to the filesystem root ${JSON.stringify(real)}; point it at the directory to clean`);
  }
  return real;
}

/**
 * Removes a file, link or empty directory found by {@link walk}, refusing anything that is not
 * strictly inside `root`. The parent is resolved again just before: if a directory on the way
 * was swapped for a link since the walk, its real path differs and nothing is removed.
 */
export async function removeInside(root: string, target: string, kind: 'entry' | 'dir'): Promise<void> {
  if (!isInside(root, target)) throw new Error(`refusing to remove ${JSON.stringify(target)}: outside ${JSON.stringify(root)}`);
  const parent = path.dirname(target);
  if ((await realpath(parent)) !== parent) throw new Error(`refusing to remove ${JSON.stringify(target)}: ${JSON.stringify(parent)} is no longer a plain directory`);
  // unlink removes a link itself, never its target; rmdir refuses links and non-empty directories.
  await (kind === 'dir' ? rmdir(target) : unlink(target));
}
