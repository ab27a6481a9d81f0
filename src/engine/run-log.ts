import { LOG_LEVELS, type LogLevel, type LogLine, type RunLog } from '../store/records.ts';
import { type JsonValue, textOf } from '../util/json.ts';
import type { Logger } from '../util/logger.ts';
import type { EngineContext } from './context.ts';
import { type ElapsedEntry, timerEntry } from './timer-queue.ts';

/** How run logs are kept: the newest `maxBytes` of each run, written every `flushIntervalMs`. */
export interface RunLogOptions {
  /** 0 keeps no log. */
  readonly maxBytes: number;
  readonly flushIntervalMs: number;
}

/** A line's own size beyond its text, as stored: `{"seq":…,"at":…,"level":"…","message":,"fields":}` and a comma. */
const LINE_OVERHEAD_BYTES = 80;
/** Longest message kept whole; a longer one keeps its start and says how much was cut. */
export const MAX_LINE_CHARS = 8_192;
/** Largest fields kept whole (UTF-8 bytes of their JSON); larger ones are kept as a preview. */
const MAX_FIELDS_BYTES = 8_192;
/** How many times the end of a run's log is offered to a failing store before it is given up. */
const MAX_END_ATTEMPTS = 3;

/** `text` cut to at most `max` UTF-16 units, never between the halves of a surrogate pair. */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

function cutMessage(text: string): string {
  return text.length > MAX_LINE_CHARS ? `${cutText(text, MAX_LINE_CHARS)}… (${text.length - MAX_LINE_CHARS} more characters)` : text;
}

const jsonSafe = (_key: string, value: unknown) =>
  value instanceof Error ? { name: value.name, message: value.message, ...(typeof value.stack === 'string' ? { stack: value.stack } : {}) } : typeof value === 'bigint' ? value.toString() : value;

/**
 * A logger call as a line, read the way pino reads its arguments: `(fields, message)`,
 * `(message)`, `(error)` (the error becomes `err`, its message the line's), `({ msg })`. Fields
 * are JSON (errors as name, message and stack); fields that cannot be read are described, larger
 * ones kept as a preview; never a throw.
 */
function lineOf(bound: Readonly<Record<string, unknown>>, first: unknown, second: unknown): { message: string; fields: JsonValue | null } {
  let message = typeof second === 'string' ? second : typeof first === 'string' ? first : second === undefined ? '' : textOf(second);
  let own: unknown = typeof first === 'string' ? null : first;
  if (own instanceof Error) {
    if (message === '') message = own.message;
    own = { err: own };
  }
  let fields: JsonValue | null = null;
  try {
    const all: Record<string, unknown> = { ...bound, ...(typeof own === 'object' && own !== null && !Array.isArray(own) ? own : {}) };
    if (message === '' && typeof all.msg === 'string') {
      message = all.msg;
      delete all.msg;
    }
    if (Object.keys(all).length > 0) {
      const text = JSON.stringify(all, jsonSafe);
      if (text !== undefined) {
        const bytes = Buffer.byteLength(text, 'utf8');
        fields = bytes > MAX_FIELDS_BYTES ? { truncated: true, bytes, preview: cutText(text, 256) } : (JSON.parse(text) as JsonValue);
      }
    }
  } catch {
    // Circular, throwing getters, a Proxy that refuses its keys: the line is kept, its fields described.
    fields = { unserializable: true };
  }
  return { message: cutMessage(message), fields };
}

/** What a line takes in the store: the UTF-8 bytes of its JSON. */
function sizeOf(message: string, fields: JsonValue | null): number {
  return LINE_OVERHEAD_BYTES + Buffer.byteLength(JSON.stringify(message), 'utf8') + (fields === null ? 0 : Buffer.byteLength(JSON.stringify(fields), 'utf8'));
}

/** One run's log while it runs: the newest lines within the byte budget, dropped from the start in O(1). */
export class RunLogBuffer {
  readonly runId: string;
  readonly #maxBytes: number;
  #lines: LogLine[] = [];
  #sizes: number[] = [];
  /** Index of the oldest kept line: lines before it are dropped, compacted now and then. */
  #head = 0;
  #bytes = 0;
  #seq = 0;
  /** Changed since the last snapshot. */
  dirty = false;

  constructor(runId: string, maxBytes: number) {
    this.runId = runId;
    this.#maxBytes = maxBytes;
  }

  /** The seq of the newest line (0 before any). */
  get lastSeq(): number {
    return this.#seq;
  }

  push(at: number, level: LogLevel, message: string, fields: JsonValue | null): void {
    const size = sizeOf(message, fields);
    this.#lines.push({ seq: ++this.#seq, at: new Date(at), level, message, fields });
    this.#sizes.push(size);
    this.#bytes += size;
    // The end is kept: that is where a failure is explained. The newest line always stays.
    while (this.#bytes > this.#maxBytes && this.#lines.length - this.#head > 1) this.#bytes -= this.#sizes[this.#head++] ?? 0;
    if (this.#head > 1_024 && this.#head * 2 > this.#lines.length) {
      this.#lines = this.#lines.slice(this.#head);
      this.#sizes = this.#sizes.slice(this.#head);
      this.#head = 0;
    }
    this.dirty = true;
  }

  /** The kept lines newer than `seq`. */
  after(seq: number): LogLine[] {
    const first = this.#lines[this.#head]?.seq ?? this.#seq + 1;
    return this.#lines.slice(this.#head + Math.max(0, seq + 1 - first));
  }

  snapshot(now: number): RunLog {
    this.dirty = false;
    const lines = this.#lines.slice(this.#head);
    return { runId: this.runId, lines, dropped: this.#seq - lines.length, updatedAt: new Date(now) };
  }
}

/** A run's log on this instance: created when its handler first touches `ctx.logger` or `ctx.log`. */
interface RunEntry {
  readonly runId: string;
  readonly task: string;
  buffer: RunLogBuffer | null;
  /** The seq of the newest line sent as a `run:log` event. */
  emitted: number;
  ended: boolean;
  /** Writes of the ended log that failed: it is given up after a few. */
  failures: number;
}

/**
 * Keeps the logs of this instance's runs: a run's logger writes its lines here as well as to the
 * scheduler's logger; every flush interval the changed logs go to the store in one call (best
 * effort, as progress; a failed write is tried again at the next flush) and out as `run:log`
 * events. A run's log is flushed once more when it ends; lines written after that reach the
 * scheduler's logger only.
 */
export class RunLogWriter {
  readonly #ctx: EngineContext;
  readonly #options: RunLogOptions;
  readonly #runs = new Map<string, RunEntry>();
  readonly #timer: ElapsedEntry = timerEntry(() => void this.flush());
  #armed = false;
  #writing: Promise<void> | null = null;

  constructor(ctx: EngineContext, options: RunLogOptions) {
    this.#ctx = ctx;
    // A store written before run logs existed keeps none (rather than failing each flush).
    this.#options = typeof ctx.store.saveRunLogs === 'function' ? options : { ...options, maxBytes: 0 };
  }

  /** The logger a run's handler sees: `base`, and this run's log when logs are kept. */
  loggerFor(runId: string, task: string, base: Logger): Logger {
    if (this.#options.maxBytes === 0) return base;
    return this.#recording(this.#entry(runId, task), base, {});
  }

  /** Writes lines to a run's log only (not to the scheduler's logger): a command's output. */
  writerFor(runId: string, task: string): (level: LogLevel, message: string) => void {
    if (this.#options.maxBytes === 0) return () => {};
    const entry = this.#entry(runId, task);
    return (level, message) => this.#write(entry, level, cutMessage(message), null);
  }

  /** The run ended: its log is written once more, then forgotten here. */
  ended(runId: string): void {
    const entry = this.#runs.get(runId);
    if (entry === undefined) return;
    entry.ended = true;
    if (entry.buffer?.dirty === true || (entry.buffer?.lastSeq ?? 0) > entry.emitted) this.#arm(0);
    else this.#runs.delete(runId);
  }

  /**
   * Sends the new lines as events and writes every changed log, at most `timeoutMs` (a stop waits
   * no longer than its own timeout for a store that hangs).
   */
  async flush(timeoutMs = Number.POSITIVE_INFINITY): Promise<void> {
    this.#armed = false;
    const listened = this.#ctx.events.hasListeners('run:log');
    for (const [runId, entry] of this.#runs) {
      const buffer = entry.buffer;
      if (buffer === null) continue;
      // Events do not wait for the store, and carry only lines still kept (never more than the budget).
      if (listened && buffer.lastSeq > entry.emitted) this.#ctx.events.emit('run:log', { runId, task: entry.task, lines: buffer.after(entry.emitted) });
      entry.emitted = buffer.lastSeq;
    }
    // One write at a time: what changes meanwhile goes in the next, armed when this one ends.
    if (this.#writing === null) this.#writing = this.#save();
    if (!Number.isFinite(timeoutMs)) return this.#writing;
    // Real time, not the scheduler's clock: a stop must end even when nothing advances a virtual one.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#writing, new Promise((resolve) => (timer = setTimeout(resolve, Math.max(0, timeoutMs)).unref()))]);
    clearTimeout(timer);
  }

  async #save(): Promise<void> {
    const now = this.#ctx.clock.now();
    const batch: { entry: RunEntry; log: RunLog }[] = [];
    for (const entry of this.#runs.values()) if (entry.buffer?.dirty === true) batch.push({ entry, log: entry.buffer.snapshot(now) });
    const done = (entry: RunEntry) => {
      if (entry.ended && entry.buffer?.dirty !== true) this.#runs.delete(entry.runId);
    };
    try {
      if (batch.length > 0) await this.#ctx.track(Promise.resolve().then(() => this.#ctx.store.saveRunLogs(batch.map((b) => b.log))));
      for (const { entry } of batch) done(entry);
    } catch (error) {
      this.#ctx.reportError(error, 'logs');
      for (const { entry } of batch) {
        if (entry.buffer === null) continue;
        // Tried again at the next flush; an ended run's log only a few times.
        if (entry.ended && ++entry.failures >= MAX_END_ATTEMPTS) this.#runs.delete(entry.runId);
        else entry.buffer.dirty = true;
      }
    } finally {
      this.#writing = null;
    }
    // What changed while this write was on its way (or failed) goes in the next.
    for (const entry of this.#runs.values()) {
      if (entry.buffer?.dirty === true) {
        this.#arm(this.#options.flushIntervalMs);
        break;
      }
    }
  }

  #entry(runId: string, task: string): RunEntry {
    let entry = this.#runs.get(runId);
    if (entry === undefined) this.#runs.set(runId, (entry = { runId, task, buffer: null, emitted: 0, ended: false, failures: 0 }));
    return entry;
  }

  #write(entry: RunEntry, level: LogLevel, message: string, fields: JsonValue | null): void {
    if (entry.ended) return;
    entry.buffer ??= new RunLogBuffer(entry.runId, this.#options.maxBytes);
    entry.buffer.push(this.#ctx.clock.now(), level, message, fields);
    this.#arm(this.#options.flushIntervalMs);
  }

  /** Flushes after `delayMs`; sooner when already due sooner (a run's end flushes at once). */
  #arm(delayMs: number): void {
    if (this.#armed && delayMs > 0) return;
    this.#armed = true;
    this.#ctx.timers.after(this.#timer, delayMs);
  }

  #recording(entry: RunEntry, base: Logger, bound: Readonly<Record<string, unknown>>): Logger {
    const method =
      (level: LogLevel) =>
      (...args: unknown[]): void => {
        // Every argument reaches the scheduler's logger as given (pino formats `%d`, `%s`).
        (base[level] as (...a: unknown[]) => void).apply(base, args);
        const { message, fields } = lineOf(bound, args[0], args[1]);
        this.#write(entry, level, message, fields);
      };
    return {
      debug: method('debug'),
      info: method('info'),
      warn: method('warn'),
      error: method('error'),
      child: (fields: object) => {
        let more: Record<string, unknown> = {};
        try {
          more = { ...fields };
        } catch {
          // Fields that cannot be read are left out of the run's log, not thrown at the handler.
        }
        return this.#recording(entry, base.child(fields), { ...bound, ...more });
      },
    };
  }
}

/** A level as `ctx.log` takes it: any case, `warning` for `warn`; anything else is `info`. */
export function logLevel(level: unknown): LogLevel {
  const name = typeof level === 'string' ? level.toLowerCase() : 'info';
  if (name === 'warning') return 'warn';
  return (LOG_LEVELS as readonly string[]).includes(name) ? (name as LogLevel) : 'info';
}
