import { setTimeout as sleep } from 'node:timers/promises';
import { type ProcessEntry, type ProcessSnapshot, procAvailable, readProcess, readTableSync, runs, scan, watch } from './process-table.ts';

/**
 * How often the processes of a running command are looked up (one scan of /proc serves every
 * command). The limit of following processes: one that starts a session of its own (setsid, as
 * a daemon does) and whose parent, a process of the command, exits before a look has seen it (a
 * double fork within one interval) is an orphan in a foreign session when the next look comes,
 * and nothing ties it to the command any more: it escapes. One still in the command's session,
 * or still the child of one of its processes, or seen once by a look, does not.
 */
const TRACK_MS = 1_000;
/** The first wait before an ending command is checked again for processes left, doubled up to the last. */
const FIRST_CHECK_MS = 20;
const LAST_CHECK_MS = 250;

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

/** This process's own group: never signalled, whatever a /proc line says. */
const OWN_GROUP = readProcess(process.pid)?.pgrp ?? -1;

/** Sends `sig` to a pid (or a group, negative); false once there is no such process left. */
function send(target: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(target, sig);
    return true;
  } catch (error) {
    // EPERM: a member changed its user; it still exists, and is not ours to end.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * The running processes of the command led by `leader` in a scan: those of its session and of its
 * group, those seen before (`known`, pid to start time: the same pid with another start time is
 * another process), and every descendant of these.
 */
export function commandProcesses(snapshot: ProcessSnapshot, leader: number, known: ReadonlyMap<number, string>): ProcessEntry[] {
  return snapshot.withDescendants((p) => p.sid === leader || p.pgrp === leader || known.get(p.pid) === p.start).filter(runs);
}

/** Groups not yet known to be empty: killed if this process exits first. */
const live = new Set<ProcessGroup>();
let exitHookInstalled = false;

/**
 * The processes of one command. It is spawned `detached`, so it leads a process group and a
 * session of its own, and everything it starts is in both unless it moves out: GNU `timeout`,
 * `set -m` job control and `setpgrp` move into a group of their own, still in the session; a
 * daemon starts a session of its own. On Linux the command's processes are its session, its
 * group, those seen by an earlier look (remembered with their start times) and all their
 * descendants through the parent pids, looked up every `TRACK_MS` while it runs, at the abort
 * (before any signal, so a child whose parent dies of it is found while still a child) and
 * until none is left once it ends. Every signal goes to a process just read again with the same
 * start time, so a pid since reused by another process is never signalled (short of the
 * microseconds between that read and kill(2): Node offers no pidfd). Elsewhere only the group
 * is known and signalled, as before.
 *
 * Ending it is SIGTERM to each of its groups (once) and to each group found later, then
 * SIGKILL to all of them `killDelayMs` later.
 */
export class ProcessGroup {
  readonly pgid: number;
  readonly #abortGraceMs: number;
  #killTimer: NodeJS.Timeout | undefined;
  /** The signal ending the command: none until the end begins. */
  #level: 'SIGTERM' | 'SIGKILL' | null = null;
  /** Groups sent `#level`: a group found later gets it when found, and none gets it twice. */
  readonly #signalled = new Set<number>();
  /** Known to have no process left: its numbers may since name unrelated processes. */
  #empty = false;
  #ended: Promise<void> | undefined;
  /** The command's running processes as last seen: pid to start time. */
  #known = new Map<number, string>();
  #seen: ProcessSnapshot | null = null;
  /** Once it has exited, the leader's pid (the group's number) may be reused. */
  #leaderExited = false;
  readonly #unwatch: () => void;

  constructor(pgid: number, abortGraceMs: number) {
    this.pgid = pgid;
    this.#abortGraceMs = abortGraceMs;
    ProcessGroup.#installExitHook();
    live.add(this);
    const leader = readProcess(pgid);
    if (leader !== null) this.#known.set(pgid, leader.start);
    this.#unwatch = watch(TRACK_MS, (snapshot) => this.#update(snapshot));
  }

  /**
   * Only synchronous work runs in an 'exit' listener, and nothing else would end the commands:
   * whatever way this process goes (stop deadline, second signal, uncaught exception), it takes
   * them with it. A SIGKILL of this process itself cannot be handled by anyone.
   */
  static #installExitHook(): void {
    if (exitHookInstalled) return;
    exitHookInstalled = true;
    process.on('exit', () => {
      const snapshot = live.size > 0 ? readTableSync() : null;
      for (const group of live) group.#kill(snapshot);
    });
  }

  /** SIGTERM to the command now (once), SIGKILL when the delay has passed. */
  terminate(): void {
    if (this.#level !== null || this.#empty) return;
    this.#level = 'SIGTERM';
    this.#killTimer = setTimeout(() => this.#kill(), killDelayMs(this.#abortGraceMs));
    if (!procAvailable) send(-this.pgid, 'SIGTERM');
    // Looked up before any signal: a process whose parent dies of it is found while still its child.
    else void scan().then((snapshot) => this.#update(snapshot));
  }

  /** SIGKILL to every process known, then to those a scan finds (`snapshot`: one just read). */
  #kill(snapshot?: ProcessSnapshot | null): void {
    this.#level = 'SIGKILL';
    this.#signalled.clear();
    if (!procAvailable) {
      send(-this.pgid, 'SIGKILL');
      return;
    }
    this.#deliver(this.#knownNow());
    // The commands of one burst of aborts share the scan.
    if (snapshot !== undefined) this.#update(snapshot);
    else void scan(FIRST_CHECK_MS).then((fresh) => this.#update(fresh));
  }

  /**
   * Resolves when no process of the command is left (or SIGKILL was sent and had a moment to
   * act). Call it once the leader has exited: processes it left behind get SIGTERM, then SIGKILL.
   */
  end(): Promise<void> {
    this.#ended ??= this.#reap();
    return this.#ended;
  }

  async #reap(): Promise<void> {
    this.#leaderExited = true;
    let wait = 0;
    let killDeadline = Number.POSITIVE_INFINITY;
    while (await this.#anyLeft(Math.min(wait, killDeadline - Date.now()))) {
      if (this.#level === 'SIGKILL') {
        // SIGKILL cannot be ignored, but a dying process takes a moment (and one in the middle of
        // a disk wait takes longer): bounded, so the run still settles before it is abandoned.
        if (killDeadline === Number.POSITIVE_INFINITY) {
          killDeadline = Date.now() + marginMs(this.#abortGraceMs) / 2;
          wait = 0;
        }
        if (Date.now() >= killDeadline) break;
      } else this.terminate();
      wait = Math.min(LAST_CHECK_MS, Math.max(FIRST_CHECK_MS, wait * 2));
    }
    clearTimeout(this.#killTimer);
    this.#empty = true;
    live.delete(this);
    this.#unwatch();
  }

  /** Whether a process of the command still runs, checked by a scan within `waitMs`. */
  async #anyLeft(waitMs: number): Promise<boolean> {
    const snapshot = await scan(Math.max(0, waitMs));
    if (snapshot === null) {
      // No /proc: the group alone, and a signal 0 counts its zombies too.
      if (waitMs > 0) await sleep(waitMs);
      return send(-this.pgid, 0);
    }
    this.#update(snapshot);
    return this.#known.size > 0;
  }

  /** Takes in a scan: the command's processes now, and the ending signal for any not yet sent it. */
  #update(snapshot: ProcessSnapshot | null): void {
    if (this.#empty) return;
    if (snapshot === null) {
      // /proc could not be listed this time: the processes known, and the group while its leader lives.
      if (this.#level !== null && !this.#leaderExited) send(-this.pgid, this.#level);
      this.#deliver(this.#knownNow());
      return;
    }
    if (snapshot === this.#seen) return;
    this.#seen = snapshot;
    const found = commandProcesses(snapshot, this.pgid, this.#known);
    this.#known = new Map(found.map((p) => [p.pid, p.start]));
    this.#deliver(found);
  }

  /** The known processes that still run, as they are now; a pid with another start time is another process. */
  #knownNow(): ProcessEntry[] {
    const now: ProcessEntry[] = [];
    for (const [pid, start] of this.#known) {
      const entry = readProcess(pid);
      if (entry?.start === start && runs(entry)) now.push(entry);
      else this.#known.delete(pid);
    }
    return now;
  }

  /**
   * Each process's group gets the signal once; a process found in a group already sent SIGTERM
   * was started after it (it belongs to a graceful end) and waits for SIGKILL. Each is read again
   * just before: a scan may be a moment old, and a pid must still name the process it saw.
   */
  #deliver(processes: readonly ProcessEntry[]): void {
    const sig = this.#level;
    if (sig === null) return;
    for (const seen of processes) {
      const now = readProcess(seen.pid);
      if (now?.start !== seen.start || !runs(now) || now.pid === process.pid) continue;
      if (now.pgrp > 1 && now.pgrp !== OWN_GROUP) {
        if (!this.#signalled.has(now.pgrp)) {
          this.#signalled.add(now.pgrp);
          send(-now.pgrp, sig);
          continue;
        }
        if (sig === 'SIGTERM') continue;
      }
      send(now.pid, sig);
    }
  }
}
