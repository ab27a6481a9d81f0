import fc from 'fast-check';

/** Strings that parse as JSON, or that jsonb and UTF-8 text cannot hold as they are. */
export const trickyString = fc.oneof(
  fc.constantFrom(
    'ok', '', 'null', 'NULL', 'true', '42', '-0', '1e400', '"quoted"', '{}', '[]', '{"a":1}', 'a\u0000b', '\u0000', '\ud800', 'x\udc00y', '\\u0000',
    '{"$caretaker:json":"1"}', 'a,b', '{x}', 'back\\slash',
  ),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string({ unit: 'binary' }),
);

/** Any value a handler may return, the awkward ones (envelope look-alikes, tricky strings) often. */
export const awkwardJson = fc.oneof(
  fc.jsonValue(),
  trickyString,
  fc.dictionary(trickyString, fc.oneof(trickyString, fc.jsonValue()), { maxKeys: 4 }),
  fc.array(trickyString, { maxLength: 4 }),
  fc.constant({ '$caretaker:json': '{"a":1}' }),
  fc.constant({ '$caretaker:json': 7 }),
  fc.constant(null),
);

/** What the engine hands a store: plain JSON (toJsonOutput parses what it stringified). */
export const asStored = (v: unknown) => JSON.parse(JSON.stringify(v) ?? 'null');

/** A run error whose every text is tricky. */
export const runError = fc.record({ message: trickyString, name: trickyString, code: fc.option(trickyString), stack: fc.option(trickyString) });

/** Progress with a tricky message. */
export const runProgress = fc.record({ fraction: fc.double({ min: 0, max: 1, noNaN: true }).map((f) => (Object.is(f, -0) ? 0 : f)), message: fc.option(trickyString) });
