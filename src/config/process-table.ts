import { readdirSync, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';

/** One line of the process table (Linux /proc/<pid>/stat). */
export interface ProcessEntry {
  readonly pid: number;
  readonly ppid: number;
  readonly pgrp: number;
  /** Session id: the pid of the process that called setsid. */
  readonly sid: number;
  /** One letter; Z (zombie) and X (dead) are processes that no longer run. */
  readonly state: string;
  /** Start time after boot, in clock ticks: with the pid it names one process, as a reused pid starts later. */
  readonly start: string;
}

/** Whether this system has a readable /proc to follow processes through; elsewhere only process groups are used. */
export const procAvailable = process.platform === 'linux' && readProcess(process.pid) !== null;

/** The /proc entries read between two turns of the event loop: a scan of thousands of processes never blocks it for long. */
const SLICE = 128;

/** Whether a process still runs: a zombie has ended, whatever its parent does about it. */
export function runs(entry: ProcessEntry): boolean {
  return entry.state !== 'Z' && entry.state !== 'X';
}

/** A process's entry now, or null once it is gone (or on a system without /proc). */
export function readProcess(pid: number): ProcessEntry | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // "pid (comm) state ppid pgrp session tty_nr ... starttime ...": comm may hold spaces and
  // parentheses; after it, field n of proc(5) is at index n - 3.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [state, ppid, pgrp, sid] = fields;
  const start = fields[19];
  if (state === undefined || sid === undefined || start === undefined) return null;
  return { pid, ppid: Number(ppid), pgrp: Number(pgrp), sid: Number(sid), state, start };
}

/** The process table at one moment. */
export class ProcessSnapshot {
  readonly entries: ReadonlyMap<number, ProcessEntry>;
  #children: Map<number, ProcessEntry[]> | undefined;

  constructor(entries: ReadonlyMap<number, ProcessEntry>) {
    this.entries = entries;
  }

  /** Every process `isRoot` picks, and every descendant of one through the parent pids. */
  withDescendants(isRoot: (entry: ProcessEntry) => boolean): ProcessEntry[] {
    this.#children ??= childrenByParent(this.entries);
    const found = new Map<number, ProcessEntry>();
    const stack = [...this.entries.values()].filter(isRoot);
    for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
      if (found.has(entry.pid)) continue;
      found.set(entry.pid, entry);
      stack.push(...(this.#children.get(entry.pid) ?? []));
    }
    return [...found.values()];
  }
}

function childrenByParent(entries: ReadonlyMap<number, ProcessEntry>): Map<number, ProcessEntry[]> {
  const children = new Map<number, ProcessEntry[]>();
  for (const entry of entries.values()) {
    const siblings = children.get(entry.ppid);
    if (siblings === undefined) children.set(entry.ppid, [entry]);
    else siblings.push(entry);
  }
  return children;
}

function add(entries: Map<number, ProcessEntry>, name: string): void {
  if (!/^\d+$/.test(name)) return;
  const entry = readProcess(Number(name));
  if (entry !== null) entries.set(entry.pid, entry);
}

/**
 * Each stat file is read synchronously, in slices between turns of the event loop: asynchronous
 * reads cost 3 to 7 times the CPU (four thread-pool round trips per file) for a file the kernel
 * writes in microseconds, and would hold the thread pool other I/O needs.
 */
async function readTable(): Promise<ProcessSnapshot | null> {
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return null;
  }
  const entries = new Map<number, ProcessEntry>();
  for (const [i, name] of names.entries()) {
    if (i > 0 && i % SLICE === 0) await nextTurn();
    add(entries, name);
  }
  return new ProcessSnapshot(entries);
}

/** The table read in one go, for a process 'exit' listener, where nothing asynchronous runs. */
export function readTableSync(): ProcessSnapshot | null {
  if (!procAvailable) return null;
  const entries = new Map<number, ProcessEntry>();
  try {
    for (const name of readdirSync('/proc')) add(entries, name);
  } catch {
    return null;
  }
  return new ProcessSnapshot(entries);
}

/*
 * One scan of /proc serves everyone who needs one: every command being followed while it runs and
 * every one being reaped. A scan is due at the earliest time any of them asked for, nothing is
 * armed while nobody asks, and whoever asks during a scan waits for the next one (the running one
 * may have read a process before the change the caller waits to see).
 */

interface Waiter {
  readonly at: number;
  readonly resolve: (snapshot: ProcessSnapshot | null) => void;
}

interface Watcher {
  readonly intervalMs: number;
  readonly listener: (snapshot: ProcessSnapshot | null) => void;
  at: number;
}

const waiters: Waiter[] = [];
const watchers = new Set<Watcher>();
let timer: NodeJS.Timeout | undefined;
let timerAt = Number.POSITIVE_INFINITY;
let scanning = false;
let scans = 0;

/** Scans done by this process (for tests). */
export function scanCount(): number {
  return scans;
}

/** Whether a scan is under way or armed (for tests: none once no command is alive). */
export function scanPending(): boolean {
  return scanning || timer !== undefined;
}

/**
 * The table as read by a scan that starts after this call and no later than `withinMs` from now
 * (sooner when someone else needs one sooner); null where there is no /proc to read.
 */
export function scan(withinMs = 0): Promise<ProcessSnapshot | null> {
  if (!procAvailable) return Promise.resolve(null);
  return new Promise((resolve) => {
    waiters.push({ at: performance.now() + withinMs, resolve });
    arm();
  });
}

/** Calls `listener` with every scan, and asks for one at least every `intervalMs`, until the returned function is called. */
export function watch(intervalMs: number, listener: (snapshot: ProcessSnapshot | null) => void): () => void {
  if (!procAvailable) return () => {};
  const watcher: Watcher = { intervalMs, listener, at: performance.now() + intervalMs };
  watchers.add(watcher);
  arm();
  return () => {
    watchers.delete(watcher);
    arm();
  };
}

function arm(): void {
  if (scanning) return; // re-armed when it ends
  let at = Number.POSITIVE_INFINITY;
  for (const waiter of waiters) at = Math.min(at, waiter.at);
  for (const watcher of watchers) at = Math.min(at, watcher.at);
  if (at === timerAt) return;
  clearTimeout(timer);
  timer = undefined;
  timerAt = at;
  // Not unref'd: a run waits on it to settle, as it waited on the polls this replaced.
  if (at !== Number.POSITIVE_INFINITY) timer = setTimeout(() => void run(), Math.max(0, at - performance.now()));
}

async function run(): Promise<void> {
  timer = undefined;
  timerAt = Number.POSITIVE_INFINITY;
  scanning = true;
  const startedAt = performance.now();
  const served = waiters.splice(0);
  const snapshot = await readTable(); // never throws: what cannot be read is gone
  scanning = false;
  scans++;
  for (const watcher of watchers) watcher.at = startedAt + watcher.intervalMs;
  for (const watcher of [...watchers]) watcher.listener(snapshot);
  // Waiters not yet due are served too: the scan is done, and an earlier answer costs nothing.
  for (const waiter of served) waiter.resolve(snapshot);
  arm();
}
