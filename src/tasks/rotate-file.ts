import { constants, createReadStream, createWriteStream } from 'node:fs';
import { copyFile, open, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

/** How a file is rotated; see `LogRotationOptions.mode`. */
export type RotationMode = 'rename' | 'copy-truncate';

/** A rotated copy next to its file: `app.log.3` or `app.log.3.gz`. */
export interface RotatedCopy {
  readonly name: string;
  readonly index: number;
  readonly gz: boolean;
}

const ROTATED = /\.(\d+)(\.gz)?$/;

/** True for names that are rotated copies themselves, which a glob like `*.log*` must not rotate again. */
export function isRotatedCopy(name: string): boolean {
  return ROTATED.test(name);
}

/** The rotated copies of `file` in its directory, any index, compressed or not. */
export async function rotatedCopies(file: string): Promise<RotatedCopy[]> {
  const base = path.basename(file);
  const out: RotatedCopy[] = [];
  for (const name of await readdir(path.dirname(file))) {
    if (!name.startsWith(`${base}.`)) continue;
    const match = ROTATED.exec(name);
    if (match === null || match.index !== base.length) continue;
    out.push({ name, index: Number(match[1]), gz: match[2] !== undefined });
  }
  return out;
}

/** What one rotation does to the files next to the log, computed before touching any of them. */
export interface RotationPlan {
  /** Copies dropped because they would be shifted past `keep`. */
  readonly remove: readonly string[];
  /** Renames that make room for the new copy, highest index first. */
  readonly shift: readonly { readonly from: string; readonly to: string }[];
  /** Where the current content goes, or null with `keep: 0` (it is discarded). */
  readonly target: string | null;
}

/** Plans a rotation: copies 1..keep-1 move up by one, the rest go, and the file becomes copy 1. */
export function planRotation(file: string, copies: readonly RotatedCopy[], keep: number, compress: boolean): RotationPlan {
  const dir = path.dirname(file);
  const base = path.basename(file);
  const remove = copies.filter((c) => c.index >= keep).map((c) => path.join(dir, c.name));
  const shift = copies
    .filter((c) => c.index >= 1 && c.index < keep)
    .sort((a, b) => b.index - a.index)
    .map((c) => ({ from: path.join(dir, c.name), to: path.join(dir, `${base}.${c.index + 1}${c.gz ? '.gz' : ''}`) }));
  const target = keep === 0 ? null : path.join(dir, `${base}.1${compress ? '.gz' : ''}`);
  return { remove, shift, target };
}

/**
 * Carries out a plan. `rename` moves the file away and creates an empty one in its place (the
 * writer must reopen it); `copy-truncate` copies it and truncates it in place, so a writer that
 * keeps it open in append mode goes on writing to the same file (lines written between the
 * copy and the truncation are lost: the price of not needing the writer's cooperation).
 */
export async function rotate(file: string, plan: RotationPlan, options: { readonly mode: RotationMode; readonly fileMode: number; readonly signal: AbortSignal }): Promise<void> {
  for (const p of plan.remove) await unlink(p).catch(ignoreMissing);
  for (const { from, to } of plan.shift) await rename(from, to);
  const { target } = plan;
  if (options.mode === 'copy-truncate') {
    if (target !== null) await copyInto(file, target, options.signal);
    // Not through a link: if the file was swapped for one since it was checked, this fails.
    const handle = await open(file, constants.O_WRONLY | constants.O_NOFOLLOW);
    try {
      await handle.truncate(0);
    } finally {
      await handle.close();
    }
    return;
  }
  if (target === null) {
    await unlink(file);
  } else if (target.endsWith('.gz')) {
    const plain = target.slice(0, -'.gz'.length);
    await rename(file, plain);
    await copyInto(plain, target, options.signal);
    await unlink(plain);
  } else {
    await rename(file, target);
  }
  // 'wx': a writer that already recreated the file keeps its own.
  await writeFile(file, '', { flag: 'wx', mode: options.fileMode }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
}

/**
 * Copies `from` to `to`, gzipping when `to` ends in `.gz`, through a hidden temporary file
 * renamed at the end: an interrupted copy never leaves a truncated `.1.gz` that looks complete.
 */
async function copyInto(from: string, to: string, signal: AbortSignal): Promise<void> {
  const temp = path.join(path.dirname(to), `.${path.basename(to)}.caretaker-tmp`);
  // The temporary name is predictable: whatever sits there (a leftover, or a link planted to
  // make the copy overwrite a file elsewhere) is removed, and the file is created exclusively,
  // so a link is never written through.
  await unlink(temp).catch(ignoreMissing);
  try {
    if (to.endsWith('.gz')) {
      await pipeline(createReadStream(from), createGzip(), createWriteStream(temp, { flags: 'wx' }), { signal });
    } else {
      await copyFile(from, temp, constants.COPYFILE_EXCL);
    }
    await rename(temp, to);
  } catch (error) {
    await unlink(temp).catch(ignoreMissing);
    signal.throwIfAborted();
    throw error;
  }
}

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}
