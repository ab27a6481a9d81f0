/**
 * Process trees for tests of command tasks: a shell wrapper with a long-lived grandchild, and
 * a /proc view (Linux) of what is still running.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const skipUnlessLinux = process.platform === 'linux' ? false : 'reads /proc (Linux only)';

/** State letter and process group of a process, or null when it is gone. */
function stat(pid: number): { state: string; pgrp: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
  const [state = '', , pgrp = ''] = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state, pgrp: Number(pgrp) };
}

/** Running, not a zombie: a dead child its parent has not reaped yet is gone for our purpose. */
export function running(pid: number): boolean {
  const s = stat(pid);
  return s !== null && s.state !== 'Z' && s.state !== 'X';
}

/** The running processes of a process group. */
export function groupMembers(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => stat(pid)?.pgrp === pgid && running(pid));
}

/** This process's own group. */
export const OWN_GROUP = stat(process.pid)?.pgrp ?? -1;

/**
 * The grandchild: with `ignore` it ignores SIGTERM (exec keeps that), with `obey` it writes
 * `term-<pid>` on SIGTERM and exits. When ready it writes its pid as `tree-<pid>` in the
 * directory (renamed into place, never half-written), then runs for 100 s.
 */
const GRANDCHILD = `
if [ "$2" = obey ]; then trap 'echo TERM > "$1/term-$$"; exit 0' TERM; else trap '' TERM; fi
echo $$ > "$1/.t$$" && mv "$1/.t$$" "$1/tree-$$"
if [ "$2" = obey ]; then sleep 100 & wait; else exec sleep 100; fi
`;

/** A started tree: the grandchild's pid and its process group (the wrapper's). */
export interface Tree {
  readonly pid: number;
  readonly pgid: number;
}

/** Every tree any test started, killed at the end whatever happened. */
const started: Tree[] = [];

/** A temporary directory for trees, with the grandchild script in it. */
export class TreeDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'caretaker-tree-'));
  readonly #script = join(this.dir, 'grandchild.sh');
  readonly #seen = new Set<string>();

  constructor() {
    writeFileSync(this.#script, GRANDCHILD);
  }

  /** Shell line of the grandchild in the background: end it with `& wait` or another `&` list. */
  grandchild(mode: 'ignore' | 'obey' = 'ignore'): string {
    return `sh '${this.#script}' '${this.dir}' ${mode}`;
  }

  /** A wrapper that waits for its grandchild (for ever, as it ignores SIGTERM). */
  waiting(): string {
    return `${this.grandchild()} & wait`;
  }

  /** A wrapper that exits with `code` as soon as its background grandchild is ready. */
  exiting(code: number, mode: 'ignore' | 'obey' = 'ignore'): string {
    return `${this.grandchild(mode)} & until [ -e '${this.dir}'/tree-$! ]; do sleep 0.02; done; echo done; echo leaving >&2; exit ${code}`;
  }

  /** Whether a grandchild got SIGTERM (mode `obey`). */
  termed(tree: Tree): boolean {
    return existsSync(join(this.dir, `term-${tree.pid}`));
  }

  /** Waits for the next tree to start here (one at a time, in the order they start). */
  async next(timeoutMs = 10_000): Promise<Tree> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const fresh = readdirSync(this.dir).filter((n) => n.startsWith('tree-') && !this.#seen.has(n));
      const name = fresh[0];
      if (name !== undefined) {
        this.#seen.add(name);
        const pid = Number(name.slice('tree-'.length));
        const tree = { pid, pgid: stat(pid)?.pgrp ?? -1 };
        started.push(tree);
        return tree;
      }
      if (Date.now() > deadline) throw new Error(`no new process tree started in ${this.dir}`);
      await sleep(10);
    }
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** What of a tree still runs: the grandchild and the members of its group. Empty when all gone. */
export function leftOf(tree: Tree): string[] {
  const out: string[] = [];
  if (running(tree.pid)) out.push(`grandchild ${tree.pid}`);
  if (tree.pgid !== OWN_GROUP) for (const pid of groupMembers(tree.pgid)) if (pid !== tree.pid) out.push(`group member ${pid}`);
  return out;
}

/** Kills every tree started so far (for `after` hooks: nothing survives a failed test). */
export function killTrees(): void {
  for (const tree of started) {
    for (const target of tree.pgid > 0 && tree.pgid !== OWN_GROUP ? [-tree.pgid, tree.pid] : [tree.pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/**
 * The environment variable that marks every process a test command starts: a command passes its
 * environment down to all it starts, whatever group or session they move to.
 */
export const MARK_VARIABLE = 'CARETAKER_TEST_TREE';
/** Every mark handed out, killed at the end whatever happened. */
const marks: string[] = [];

/** A fresh mark for a command's `env`. */
export function newMark(): string {
  const mark = `${process.pid}-${marks.length}`;
  marks.push(mark);
  return mark;
}

/** A running process carrying a mark. */
export interface Marked {
  readonly pid: number;
  readonly pgrp: number;
}

/** The running processes carrying `mark`. */
export function marked(mark: string): Marked[] {
  const out: Marked[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    let environ: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
    } catch {
      continue;
    }
    if (!environ.split('\0').includes(`${MARK_VARIABLE}=${mark}`)) continue;
    const s = stat(pid);
    if (s !== null && running(pid)) out.push({ pid, pgrp: s.pgrp });
  }
  return out;
}

/** Waits until the processes carrying `mark` are in two process groups or more: one moved out of its command's group. */
export async function moved(mark: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (new Set(marked(mark).map((m) => m.pgrp)).size < 2) {
    if (Date.now() > deadline) throw new Error(`no process marked ${mark} moved out of its command's group`);
    await sleep(10);
  }
}

/** Kills every marked process (for `after` hooks). */
export function killMarked(): void {
  for (const mark of marks) {
    for (const { pid } of marked(mark)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
