import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import { z } from 'zod';
import type { TaskHandler } from '../engine/task.ts';
import type { Duration } from '../util/duration.ts';
import type { Size } from '../util/size.ts';
import { durationField, globFix, parseOptions, sizeField, stringListField } from './options.ts';
import { progressCounter } from './pacing.ts';
import { isRotatedCopy, planRotation, type RotatedCopy, rotate, rotatedCopies } from './rotate-file.ts';
import { walk } from './walk.ts';

/** Options of {@link logRotation}. */
export interface LogRotationOptions {
  /**
   * Log files: paths or picomatch globs (`logs/*.log`; `**` matches at any depth). Rotated copies
   * (`app.log.1`, `app.log.2.gz`), links and empty files are never rotated.
   */
  readonly files: string | readonly string[];
  /** What relative `files` resolve against. @defaultValue the working directory when the factory is called */
  readonly root?: string;
  /** Rotate a file once it is at least this large. */
  readonly maxSize?: Size;
  /**
   * Rotate a file once its previous rotation (the time of copy 1) is this old; a file never
   * rotated counts from its creation. Without `maxSize` and `maxAge`, every run rotates.
   */
  readonly maxAge?: Duration;
  /** Rotated copies to keep (`app.log.1` … `app.log.<keep>`); 0 discards the content. */
  readonly keep: number;
  /** Gzip rotated copies (`app.log.1.gz`). @defaultValue false */
  readonly compress?: boolean;
  /**
   * `rename` moves the file and creates an empty one: for writers that reopen it (on SIGHUP, or
   * per write). `copy-truncate` copies and truncates in place: for writers that keep it open,
   * which must open it in append mode. @defaultValue 'rename'
   */
  readonly mode?: 'rename' | 'copy-truncate';
  /** Report what would be rotated and change nothing. @defaultValue false */
  readonly dryRun?: boolean;
}

/** One rotated file in a run's output. */
export interface RotatedFile {
  readonly file: string;
  readonly bytes: number;
  readonly reason: 'size' | 'age' | 'every-run';
  /** The new copy 1, or null with `keep: 0`. */
  readonly to: string | null;
  /** Copies removed to stay within `keep`. */
  readonly removed: readonly string[];
}

/** A rotation run's output; in a dry run, `rotated` lists what would have been rotated. */
export interface LogRotationResult {
  readonly dryRun: boolean;
  /** Files the patterns matched. */
  readonly checked: number;
  readonly rotated: readonly RotatedFile[];
  /** Plain paths (not globs) that did not exist. */
  readonly missing: readonly string[];
  readonly errors: readonly { readonly file: string; readonly message: string }[];
}

const schema = z.strictObject({
  files: stringListField(globFix),
  root: z.string().min(1).optional(),
  maxSize: sizeField.optional(),
  maxAge: durationField.optional(),
  keep: z.number().int().min(0).max(1000),
  compress: z.boolean().optional(),
  mode: z.enum(['rename', 'copy-truncate']).optional(),
  dryRun: z.boolean().optional(),
});

/**
 * A handler that rotates log files: `app.log` becomes `app.log.1` (or `.1.gz`), older copies
 * move up one, and copies beyond `keep` are removed.
 *
 * @example
 * import { logRotation } from 'caretaker/tasks';
 * scheduler.add({
 *   name: 'rotate-logs',
 *   schedule: { cron: '0 0 * * *' },
 *   handler: logRotation({ files: 'logs/*.log', maxSize: '100MB', keep: 7, compress: true, mode: 'copy-truncate' }),
 * });
 */
export function logRotation(options: LogRotationOptions): TaskHandler {
  const o = parseOptions('logRotation', schema, options);
  const root = path.resolve(o.root ?? process.cwd());
  const mode = o.mode ?? 'rename';
  const dryRun = o.dryRun ?? false;
  return async (ctx) => {
    const { files, missing } = await findFiles(root, o.files, ctx.signal);
    // Where each directory really was when listed: one swapped for a link since then (to make
    // the rotation rename, truncate or delete files elsewhere) no longer resolves there.
    const listed = new Map<string, string | null>();
    for (const dir of new Set(files.map((f) => path.dirname(f)))) listed.set(dir, await realpath(dir).catch(() => null));
    const now = Date.now();
    const rotated: RotatedFile[] = [];
    const errors: { file: string; message: string }[] = [];
    const report = progressCounter(ctx, files.length, 'checked');
    for (const [i, file] of files.entries()) {
      ctx.signal.throwIfAborted();
      try {
        const dir = path.dirname(file);
        if ((await realpath(dir)) !== listed.get(dir)) throw new Error(`not rotated: ${JSON.stringify(dir)} is no longer the directory that was listed (replaced by a link?)`);
        const info = await lstat(file);
        const copies = await rotatedCopies(file);
        const since = await lastRotation(file, info, copies.find((c) => c.index === 1));
        const reason = info.isFile() && info.size > 0 ? dueReason(info.size, since, o, now) : null;
        if (reason !== null) {
          const plan = planRotation(file, copies, o.keep, o.compress ?? false);
          if (!dryRun) await rotate(file, plan, { mode, fileMode: info.mode & 0o777, signal: ctx.signal });
          rotated.push({ file, bytes: info.size, reason, to: plan.target, removed: plan.remove });
        }
      } catch (error) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        errors.push({ file, message: (error as Error).message });
      }
      report(i + 1);
    }
    if (errors.length > 0) ctx.logger.warn({ failed: errors.length, first: errors[0] }, 'log rotation failed for some files');
    ctx.progress(1, `${dryRun ? 'would rotate' : 'rotated'} ${rotated.length} of ${files.length} files`);
    return { dryRun, checked: files.length, rotated, missing, errors } satisfies LogRotationResult;
  };
}

/** Why a file is due, or null. */
function dueReason(size: number, lastRotation: number, o: { maxSize?: number | undefined; maxAge?: number | undefined }, now: number): RotatedFile['reason'] | null {
  if (o.maxSize === undefined && o.maxAge === undefined) return 'every-run';
  if (o.maxSize !== undefined && size >= o.maxSize) return 'size';
  if (o.maxAge !== undefined && now - lastRotation >= o.maxAge) return 'age';
  return null;
}

/**
 * When the file was last rotated: copy 1's mtime (written at that rotation), or for a file never
 * rotated its creation time; 0 (due at once) where the file system records none.
 */
async function lastRotation(file: string, info: { readonly birthtimeMs: number }, copy1: RotatedCopy | undefined): Promise<number> {
  if (copy1 !== undefined) return (await lstat(path.join(path.dirname(file), copy1.name))).mtimeMs;
  return info.birthtimeMs > 0 ? info.birthtimeMs : 0;
}

/**
 * The regular files the patterns name, each once. A glob is matched below its fixed base
 * directory, no deeper than it can match, and never through a link.
 */
async function findFiles(root: string, patterns: readonly string[], signal: AbortSignal): Promise<{ files: string[]; missing: string[] }> {
  const files = new Set<string>();
  const missing: string[] = [];
  for (const pattern of patterns) {
    const absolute = path.resolve(root, pattern);
    const scan = picomatch.scan(absolute);
    if (!scan.isGlob) {
      const info = await lstat(absolute).catch(() => null);
      if (info === null) missing.push(absolute);
      else if (info.isFile()) files.add(absolute);
      continue;
    }
    const matches = picomatch(scan.glob);
    const maxDepth = scan.glob.includes('**') ? Number.POSITIVE_INFINITY : scan.glob.split('/').length;
    // A missing base directory matches nothing, as a shell glob would.
    const found = await walk(scan.base, { signal, maxDepth });
    for (const entry of found.files) {
      if (!entry.symlink && matches(entry.relative) && !isRotatedCopy(path.basename(entry.path))) files.add(entry.path);
    }
  }
  return { files: [...files].sort(), missing };
}
