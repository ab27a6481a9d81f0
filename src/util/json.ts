/** A value that survives JSON round trips unchanged. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** What a run records of a thrown value, whatever its type. */
export interface RunError {
  readonly message: string;
  /** The error's class name, or `NonError` when something other than an Error was thrown. */
  readonly name: string;
  /** The thrown value's `code` when it has a string or number one (e.g. `ENOENT`), else null. */
  readonly code: string | null;
  readonly stack: string | null;
}

const MAX_STACK_CHARS = 16_384;
const MAX_MESSAGE_CHARS = 4_096;

/**
 * Captures any thrown value as a {@link RunError}: Errors keep message, stack and code; strings,
 * numbers, objects and `undefined` get a readable message. Never throws: a handler may throw a
 * revoked Proxy, or an Error whose getters throw, and its run must still get a record.
 */
export function captureError(thrown: unknown): RunError {
  let isError: boolean;
  try {
    isError = thrown instanceof Error;
  } catch (error) {
    // `instanceof` runs a Proxy's traps; a revoked Proxy throws even for that.
    return nonError(`handler threw a value that cannot be inspected (${textOf(error)})`);
  }
  if (!isError) return nonError(describeThrown(thrown));
  const error = thrown as Error & { code?: unknown };
  const name = readString(() => error.name) ?? 'Error';
  const code = read(() => error.code);
  const stack = readString(() => error.stack);
  return {
    message: clip(readString(() => error.message) || name || 'Error', MAX_MESSAGE_CHARS),
    name,
    code: typeof code === 'string' || typeof code === 'number' ? String(code) : null,
    stack: stack === undefined ? null : clip(stack, MAX_STACK_CHARS),
  };
}

function nonError(message: string): RunError {
  return { message: clip(message, MAX_MESSAGE_CHARS), name: 'NonError', code: null, stack: null };
}

/** `get()`, or undefined when it throws (a getter or Proxy trap of a thrown value). */
function read(get: () => unknown): unknown {
  try {
    return get();
  } catch {
    return undefined;
  }
}

function readString(get: () => unknown): string | undefined {
  const value = read(get);
  return typeof value === 'string' ? value : undefined;
}

/** The `output` a thrown value carries (see the README: a failed run's output), or undefined; never throws. */
export function outputCarriedBy(thrown: unknown): unknown {
  if ((typeof thrown !== 'object' && typeof thrown !== 'function') || thrown === null) return undefined;
  return read(() => (thrown as { output?: unknown }).output);
}

/** Text for any value (its `message` when it has one), never throwing. */
export function textOf(value: unknown): string {
  const message = read(() => (value as { message?: unknown } | null)?.message);
  if (typeof message === 'string') return message;
  return readString(() => String(value)) ?? 'a value that cannot be inspected';
}

function describeThrown(thrown: unknown): string {
  if (typeof thrown === 'string') return thrown;
  if (thrown === undefined) return 'handler threw undefined';
  if (thrown === null) return 'handler threw null';
  if (typeof thrown === 'object' || typeof thrown === 'function') {
    const message = readString(() => (thrown as { message?: unknown }).message);
    if (message !== undefined) return message;
    const json = read(() => JSON.stringify(thrown));
    if (typeof json === 'string') return `handler threw ${json}`;
    const tag = readString(() => Object.prototype.toString.call(thrown));
    return `handler threw ${tag ?? 'a value that cannot be inspected'}`;
  }
  // Symbols, numbers, booleans and BigInts all have a String() that cannot throw.
  return `handler threw ${String(thrown)}`;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** The result of turning a handler's return value into a run's output. */
export type OutputConversion =
  | { readonly ok: true; readonly value: JsonValue }
  | { readonly ok: false; readonly value: JsonValue; readonly problem: string };

/**
 * Turns a handler's return value into JSON. `undefined` becomes null; values that cannot be
 * serialised (cycles, BigInt) or that exceed `maxBytes` are replaced by a small marker and
 * reported, so a run record never holds something a store cannot write.
 */
export function toJsonOutput(value: unknown, maxBytes: number): OutputConversion {
  if (value === undefined || value === null) return { ok: true, value: null };
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    const problem = `output is not JSON-serialisable: ${textOf(error)}`;
    return { ok: false, value: null, problem };
  }
  if (text === undefined) return { ok: true, value: null };
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) {
    return {
      ok: false,
      value: { truncated: true, bytes, preview: text.slice(0, 256) },
      problem: `output of ${bytes} bytes (UTF-8 JSON) exceeds the limit of ${maxBytes}; stored a preview`,
    };
  }
  return { ok: true, value: JSON.parse(text) as JsonValue };
}
