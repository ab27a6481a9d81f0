import type { JsonReader } from '../sql/codec.ts';

/**
 * jsonb cannot hold every JSON value a handler may return: it refuses strings (and keys) with a
 * NUL character or a lone UTF-16 surrogate, both of which JSON text escapes (`\u0000`,
 * `\ud800`). Such a value is stored as its JSON text inside a one-key envelope object instead;
 * everything else is stored as itself, so jsonb queries over outputs keep working.
 */
export const ENVELOPE_KEY = '$caretaker:json';
/**
 * The escapes jsonb refuses. It may also match an escaped backslash followed by `u0000`; that
 * false positive only wraps a value that did not need it, which still reads back unchanged.
 */
const UNSTORABLE_ESCAPE = /\\u(?:0000|d[89a-f][0-9a-f]{2})/i;

function isEnvelope(value: unknown): value is { readonly [ENVELOPE_KEY]: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === ENVELOPE_KEY && typeof (value as Record<string, unknown>)[ENVELOPE_KEY] === 'string';
}

/**
 * A JSON value as a jsonb column can take it. A value that itself looks like the envelope is
 * wrapped too, so reading never mistakes a handler's output for an envelope.
 */
export function toJsonb(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  const text = JSON.stringify(value);
  return UNSTORABLE_ESCAPE.test(text) || isEnvelope(value) ? { [ENVELOPE_KEY]: text } : value;
}

/** A jsonb column as the driver parsed it, envelopes opened. Never parses a plain string again. */
export const fromJsonb: JsonReader = (value) => {
  if (value === undefined) return null;
  return isEnvelope(value) ? (JSON.parse(value[ENVELOPE_KEY]) as unknown) : value;
};
