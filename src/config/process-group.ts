import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** How often an ending group is checked for members left. */
const POLL_MS = 20;

/**
 * The part of `abortGrace` left for SIGKILL to take effect and the run to settle: the engine
 * abandons a handler exactly `abortGrace` after the abort, and by then the group must be gone.
 */
function marginMs(abortGraceMs: number): number {
  return Math.min(1_000, abortGraceMs / 4);
}

/** How long after SIGTERM a command's process group gets SIGKILL. */
export function killDelayMs(abortGraceMs: number): number {
  return Math.max(0, abortGraceMs - marginMs(abortGraceMs));
}

/** Groups not yet known to be empty: killed if this process exits first. */
const live = new Set<number>();
let exitHookInstalled = false;

/**
 * Only synchronous work runs in an 'exit' listener, and nothing else would end the groups:
 * whatever way this process goes (stop deadline, second signal, uncaught exception), it takes
 * its commands with it. A SIGKILL of this process itself cannot be handled by anyone.
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pgid of live) signal(pgid, 'SIGKILL');
  });
}

/** Signals every process of the group; false once the group has no process left. */
function signal(pgid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch (error) {
    // EPERM: a member changed its user; it still exists, and is not ours to end.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Whether a process of the group still runs. A signal 0 counts zombies too, and an orphan's
 * zombie lasts until init reaps it: late with some inits, never where Node itself is PID 1 (a
 * container). On Linux, /proc tells the living from the dead.
 */
function running(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
  if (process.platform !== 'linux') return true;
  let pids: string[];
  try {
    pids = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const pid of pids) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}

/**
 * The process group of one command (spawned `detached`, so it leads a group of its own and
 * everything it starts is in it, unless a descendant starts its own session on purpose, as a
 * daemon does). Ending it is SIGTERM to the whole group, then SIGKILL `killDelayMs` later.
 */
export class ProcessGroup {
  readonly pgid: number;
  readonly #abortGraceMs: number;
  #killTimer: NodeJS.Timeout | undefined;
  #killed = false;
  /** Known to have no process left: its number may since name an unrelated group. */
  #empty = false;
  #ended: Promise<void> | undefined;

  constructor(pgid: number, abortGraceMs: number) {
    this.pgid = pgid;
    this.#abortGraceMs = abortGraceMs;
    installExitHook();
    live.add(pgid);
  }

  /** SIGTERM to the group now (once), SIGKILL when the delay has passed. */
  terminate(): void {
    if (this.#killTimer !== undefined || this.#killed || this.#empty) return;
    if (!signal(this.pgid, 'SIGTERM')) return;
    this.#killTimer = setTimeout(() => this.#kill(), killDelayMs(this.#abortGraceMs));
  }

  /**
   * Resolves when no process of the group is left (or SIGKILL was sent and had a moment to
   * act). Call it once the leader has exited: members it left behind get SIGTERM, then SIGKILL.
   */
  end(): Promise<void> {
    this.#ended ??= this.#reap();
    return this.#ended;
  }

  async #reap(): Promise<void> {
    if (running(this.pgid)) this.terminate();
    while (!this.#killed && running(this.pgid)) await sleep(POLL_MS);
    // SIGKILL cannot be ignored, but a dying process takes a moment (and one in the middle of a
    // disk wait takes longer): bounded, so the run still settles before it is abandoned.
    const until = Date.now() + marginMs(this.#abortGraceMs) / 2;
    while (Date.now() < until && running(this.pgid)) await sleep(POLL_MS);
    clearTimeout(this.#killTimer);
    this.#empty = true;
    live.delete(this.pgid);
  }

  #kill(): void {
    this.#killed = true;
    signal(this.pgid, 'SIGKILL');
  }
}
