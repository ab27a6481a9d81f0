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
 * numbers, objects and `undefined` get a readable message.
 */
export function captureError(thrown: unknown): RunError {
  if (thrown instanceof Error) {
    const code = (thrown as { code?: unknown }).code;
    return {
      message: clip(thrown.message || thrown.name, MAX_MESSAGE_CHARS),
      name: thrown.name,
      code: typeof code === 'string' || typeof code === 'number' ? String(code) : null,
      stack: typeof thrown.stack === 'string' ? clip(thrown.stack, MAX_STACK_CHARS) : null,
    };
  }
  return { message: clip(describeThrown(thrown), MAX_MESSAGE_CHARS), name: 'NonError', code: null, stack: null };
}

function describeThrown(thrown: unknown): string {
  if (typeof thrown === 'string') return thrown;
  if (thrown === undefined) return 'handler threw undefined';
  if (thrown === null) return 'handler threw null';
  if (typeof thrown === 'object') {
    const message = (thrown as { message?: unknown }).message;
    if (typeof message === 'string') return message;
    try {
      return `handler threw ${JSON.stringify(thrown)}`;
    } catch {
      return `handler threw ${Object.prototype.toString.call(thrown)}`;
    }
  }
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
    const problem = `output is not JSON-serialisable: ${error instanceof Error ? error.message : String(error)}`;
    return { ok: false, value: null, problem };
  }
  if (text === undefined) return { ok: true, value: null };
  if (text.length > maxBytes) {
    return {
      ok: false,
      value: { truncated: true, bytes: text.length, preview: text.slice(0, 256) },
      problem: `output of ${text.length} bytes exceeds the limit of ${maxBytes}; stored a preview`,
    };
  }
  return { ok: true, value: JSON.parse(text) as JsonValue };
}
