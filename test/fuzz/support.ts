/**
 * Shared pieces of the bad-input (fuzz) suite: run settings, garbage values, and the checks
 * every rejection must pass (typed error, stable code, a named field, a fix, no stack trace).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidOptionError, type OptionIssue } from '../../src/util/errors.ts';

/**
 * fast-check settings: a fixed seed per property so a failure reproduces; FUZZ_SEED and
 * FUZZ_RUNS override them (fast-check prints the seed and path of any counterexample).
 */
export function fuzz(numRuns: number, seed: number): fc.Parameters<unknown> {
  return {
    numRuns: Number(process.env.FUZZ_RUNS ?? numRuns),
    seed: process.env.FUZZ_SEED === undefined ? seed : Number(process.env.FUZZ_SEED),
  };
}

/** A line of a V8 stack trace: what a user must never see in an error message. */
const STACK_LINE = /\n\s+at /;

/** Asserts a user-facing text carries no stack trace. */
export function assertNoStack(text: string, what: string): void {
  assert.doesNotMatch(text, STACK_LINE, `${what} contains a stack trace:\n${text}`);
  assert.doesNotMatch(text, /\bat (file:\/\/|node:internal|.*\.ts:\d+:\d+)/, `${what} contains a stack frame:\n${text}`);
}

/** zod's own wording, which names no fix ("Invalid input"). */
const NO_FIX = /^(Invalid input|Invalid option|Required)\.?$/i;

/**
 * Asserts `error` is the project's typed option error: code `ERR_INVALID_OPTION`, at least one
 * issue, each with a path, a rendered value and a fix, and a message without a stack trace.
 */
export function assertOptionError(error: unknown, what: string): asserts error is InvalidOptionError {
  if (!(error instanceof InvalidOptionError)) {
    assert.fail(`${what}: expected InvalidOptionError, got ${error instanceof Error ? `${error.constructor.name}: ${error.message}\n${error.stack ?? ''}` : String(error)}`);
  }
  assert.equal(error.code, 'ERR_INVALID_OPTION');
  assert.ok(error.issues.length > 0, `${what}: no issues`);
  for (const issue of error.issues) {
    assert.ok(issue.path.trim() !== '', `${what}: an issue without a path: ${JSON.stringify(issue)}`);
    assert.ok(issue.received !== '', `${what}: an issue without the value: ${JSON.stringify(issue)}`);
    assert.ok(issue.fix.length >= 8 && !NO_FIX.test(issue.fix), `${what}: an issue without a fix: ${JSON.stringify(issue)}`);
  }
  assertNoStack(error.message, what);
}

/** Runs `work`: what it returns, or the typed error it threw (asserted to be one). */
export function attempt<T>(work: () => T, what: string): { readonly value: T } | { readonly error: InvalidOptionError } {
  try {
    return { value: work() };
  } catch (error) {
    assertOptionError(error, what);
    return { error };
  }
}

/** Runs `work`; undefined when it returns, else the typed error it threw (asserted). */
export function optionError(work: () => unknown, what: string): InvalidOptionError | undefined {
  const outcome = attempt(work, what);
  return 'error' in outcome ? outcome.error : undefined;
}

/** True when one dotted path is the other or lies inside it (`a.b` and `a.b.c`). */
export function related(a: string, b: string): boolean {
  const inside = (outer: string, inner: string) => inner === outer || inner.startsWith(`${outer}.`);
  return inside(a, b) || inside(b, a);
}

/** Asserts some issue names `path`, its parent, or a field inside it. */
export function assertNames(issues: readonly OptionIssue[], path: string, what: string): void {
  assert.ok(
    issues.some((i) => related(i.path, path)),
    `${what}: no issue names ${path}; got:\n  ${issues.map((i) => `${i.path}: ${i.fix}`).join('\n  ')}`,
  );
}

/** Strings that tend to break parsers: unicode, control characters, quotes, huge numbers. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('', ' ', '\t', '\n', '\u0000', '-1', '-5m', '1e309', 'NaN', 'Infinity', '0x10', '1_000', '${UNSET_VAR}', '$', '"', "'", '\\', '../..', '/', '%00', '☃', '🙂', '\u202e', 'true', 'null', '~'),
  fc.stringMatching(/^-?\d{1,400}(\.\d{1,5})?\s?(ms|s|m|h|d|w|kb|MiB|x)?$/),
);

/** Numbers at and beyond the edges: negative, fractional, huge, non-finite. */
export const nastyNumber: fc.Arbitrary<number> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(-1, -0, 0, 0.5, 2 ** 31, 2 ** 53, Number.MAX_SAFE_INTEGER + 2, Number.MAX_VALUE, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e-300),
);

/** Any JSON-like value, nested a little: what a hand-edited or generated file can hold. */
export const garbage: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    nastyString,
    nastyNumber,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.oneof(nastyString, fc.constantFrom('every', 'cron', 'path', 'builtin', 'command', 'sqlite')), tie('value'), { maxKeys: 3 }),
  ),
})).value;
