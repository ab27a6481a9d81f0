import type { LogLevel, LogLine, RunLog } from '../store/records.ts';
import type { JsonValue } from '../util/json.ts';
import type { Logger } from '../util/logger.ts';
import type { EngineContext } from './context.ts';
import { type ElapsedEntry, timerEntry } from './timer-queue.ts';

/** How run logs are kept: the newest `maxBytes` of each run, written every `flushIntervalMs`. */
export interface RunLogOptions {
  /** 0 keeps no log. */
  readonly maxBytes: number;
  readonly flushIntervalMs: number;
}

/** A line's own size beyond its text: the seq, time, level and JSON punctuation. */
const LINE_OVERHEAD_BYTES = 48;
/** Longest message kept whole; a longer one keeps its start and says how much was cut. */
const MAX_LINE_CHARS = 8_192;

/** The text a logger call carries, however it was called (pino takes a message alone too). */
function messageOf(fieldsOrMessage: unknown, message: unknown): string {
  const text = typeof fieldsOrMessage === 'string' ? fieldsOrMessage : typeof message === 'string' ? message : message === undefined ? '' : String(message);
  return text.length > MAX_LINE_CHARS ? `${text.slice(0, MAX_LINE_CHARS)}… (${text.length - MAX_LINE_CHARS} more characters)` : text;
}

/**
 * The fields of a logger call (and of its `child` calls) as JSON: errors as their name and
 * message; null for none. The run's own task, id and attempt are bound below these, not repeated.
 */
function fieldsOf(bound: Readonly<Record<string, unknown>>, fields: unknown): JsonValue | null {
  const all: Record<string, unknown> = { ...bound, ...(typeof fields === 'object' && fields !== null && !Array.isArray(fields) ? fields : {}) };
  if (Object.keys(all).length === 0) return null;
  try {
    const text = JSON.stringify(all, (_key, value: unknown) =>
      value instanceof Error ? { name: value.name, message: value.message } : typeof value === 'bigint' ? value.toString() : value,
    );
    return text === undefined ? null : (JSON.parse(text) as JsonValue);
  } catch {
    // Circular or throwing getters: the line is kept, its fields described.
    return { unserializable: Object.keys(all).join(', ') };
  }
}

/** One run's log while it runs: the newest lines within the byte budget. */
export class RunLogBuffer {
  readonly runId: string;
  readonly #maxBytes: number;
  readonly #lines: { line: LogLine; bytes: number }[] = [];
  #bytes = 0;
  #seq = 0;
  /** Lines dropped from the start to stay within the budget. */
  #dropped = 0;
  /** Changed since the last snapshot. */
  dirty = false;

  constructor(runId: string, maxBytes: number) {
    this.runId = runId;
    this.#maxBytes = maxBytes;
  }

  push(at: number, level: LogLevel, message: string, fields: JsonValue | null): LogLine {
    const line: LogLine = { seq: ++this.#seq, at: new Date(at), level, message, fields };
    const bytes = LINE_OVERHEAD_BYTES + message.length + (fields === null ? 0 : JSON.stringify(fields).length);
    this.#lines.push({ line, bytes });
    this.#bytes += bytes;
    // The end is kept: that is where a failure is explained. The newest line always stays.
    while (this.#bytes > this.#maxBytes && this.#lines.length > 1) {
      this.#bytes -= this.#lines.shift()?.bytes ?? 0;
      this.#dropped++;
    }
    this.dirty = true;
    return line;
  }

  snapshot(now: number): RunLog {
    this.dirty = false;
    return { runId: this.runId, lines: this.#lines.map((l) => l.line), dropped: this.#dropped, updatedAt: new Date(now) };
  }
}

/** A run's log on this instance: created when its handler first touches `ctx.logger`. */
interface RunEntry {
  readonly runId: string;
  readonly task: string;
  buffer: RunLogBuffer | null;
  /** Lines not yet sent as a `run:log` event. */
  readonly fresh: LogLine[];
  ended: boolean;
}

/**
 * Keeps the logs of this instance's runs: a run's logger writes its lines here as well as to the
 * scheduler's logger; every flush interval the changed logs go to the store in one call (best
 * effort, as progress) and out as `run:log` events. A run's log is flushed once more when it ends;
 * lines written after that reach the scheduler's logger only.
 */
export class RunLogWriter {
  readonly #ctx: EngineContext;
  readonly #options: RunLogOptions;
  readonly #runs = new Map<string, RunEntry>();
  readonly #timer: ElapsedEntry = timerEntry(() => void this.flush());
  #armed = false;
  #flushing: Promise<void> | null = null;

  constructor(ctx: EngineContext, options: RunLogOptions) {
    this.#ctx = ctx;
    this.#options = options;
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
    return (level, message) => this.#write(entry, level, message, null);
  }

  #entry(runId: string, task: string): RunEntry {
    let entry = this.#runs.get(runId);
    if (entry === undefined) this.#runs.set(runId, (entry = { runId, task, buffer: null, fresh: [], ended: false }));
    return entry;
  }

  #write(entry: RunEntry, level: LogLevel, message: string, fields: JsonValue | null): void {
    if (entry.ended) return;
    entry.buffer ??= new RunLogBuffer(entry.runId, this.#options.maxBytes);
    entry.fresh.push(entry.buffer.push(this.#ctx.clock.now(), level, message, fields));
    this.#arm(this.#options.flushIntervalMs);
  }

  /** The run ended: its log is written once more, then forgotten here. */
  ended(runId: string): void {
    const entry = this.#runs.get(runId);
    if (entry === undefined) return;
    entry.ended = true;
    if (entry.buffer?.dirty === true || entry.fresh.length > 0) this.#arm(0);
    else this.#runs.delete(runId);
  }

  /** Writes every changed log now (the scheduler stopping calls it). */
  async flush(): Promise<void> {
    this.#armed = false;
    // One write at a time: the next takes what changed meanwhile.
    while (this.#flushing !== null) await this.#flushing;
    const now = this.#ctx.clock.now();
    const logs: RunLog[] = [];
    for (const [runId, entry] of this.#runs) {
      if (entry.fresh.length > 0) this.#ctx.events.emit('run:log', { runId, task: entry.task, lines: entry.fresh.splice(0) });
      if (entry.buffer?.dirty === true) logs.push(entry.buffer.snapshot(now));
      if (entry.ended) this.#runs.delete(runId);
    }
    if (logs.length === 0) return;
    const writing = this.#ctx
      .track(this.#ctx.store.saveRunLogs(logs))
      .catch((error: unknown) => this.#ctx.reportError(error, 'logs'))
      .finally(() => {
        this.#flushing = null;
      });
    this.#flushing = writing;
    await writing;
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
      (fields: object, message: string): void => {
        (base[level] as (...args: unknown[]) => void).call(base, fields, message);
        this.#write(entry, level, messageOf(fields, message), fieldsOf(bound, typeof fields === 'string' ? null : fields));
      };
    return {
      debug: method('debug'),
      info: method('info'),
      warn: method('warn'),
      error: method('error'),
      child: (fields: object) => this.#recording(entry, base.child(fields), { ...bound, ...fields }),
    };
  }
}
