import type { z } from 'zod';
import { describeValue, type OptionIssue } from './errors.ts';
import { unknownKeyFix } from './suggest.ts';

type Key = PropertyKey;

function valueAt(root: unknown, path: readonly Key[]): unknown {
  let value = root;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<Key, unknown>)[key];
  }
  return value;
}

/** Internal zod v4 definition fields we read to find an object's known keys. */
interface Def {
  readonly type: string;
  readonly shape?: Record<string, { _zod: { def: Def } }>;
  readonly innerType?: { _zod: { def: Def } };
  readonly in?: { _zod: { def: Def } };
  readonly options?: readonly { _zod: { def: Def } }[];
}

/** The definition of the schema at `path`, looking through optional/default/pipe wrappers to objects. */
function defAt(schema: z.ZodType, path: readonly Key[]): Def | undefined {
  let def: Def | undefined = (schema as unknown as { _zod: { def: Def } })._zod.def;
  const unwrap = () => {
    while (def !== undefined && def.type !== 'object') {
      const next: { _zod: { def: Def } } | undefined = def.innerType ?? def.in;
      if (next === undefined) return;
      def = next._zod.def;
    }
  };
  unwrap();
  for (const key of path) {
    def = def?.shape?.[String(key)]?._zod.def;
    unwrap();
  }
  return def;
}

/** The known keys of the object schema at `path`. */
function knownKeysAt(schema: z.ZodType, path: readonly Key[]): string[] {
  const shape = defAt(schema, path)?.shape;
  return shape === undefined ? [] : Object.keys(shape);
}

/** Dotted path; an empty key is shown as `""` so the message still names where it is. */
const join = (path: readonly Key[]): string => path.map((key) => (key === '' ? '""' : String(key))).join('.');

/** zod's own messages; anything else was written by us in the schema and is already a fix. */
const ZOD_DEFAULT = /^(Invalid|Too (small|big)|Unrecognized)/;

/**
 * Turns zod issues into {@link OptionIssue}s: the dotted path, the value received (read from
 * the input, not from zod's message) and a fix written for people.
 */
/**
 * A received value as an error shows it; anything on a path that may hold a token (`token`,
 * `tokens`, and misspellings such as `tokne` or `tokn`, at any depth) only by its kind and size:
 * errors reach logs, terminals and CI output, and a token that is too short, misspelt or in the
 * wrong field is still most of a token.
 */
export function describeReceived(path: readonly Key[], value: unknown): string {
  if (!path.some((k) => typeof k === 'string' && /tok/i.test(k))) return describeValue(value);
  if (typeof value === 'string') return `a secret of ${value.length} characters (not shown)`;
  if (Array.isArray(value)) return `a list of ${value.length} (not shown: it may hold secrets)`;
  return value !== null && typeof value === 'object' ? 'an object (not shown: it may hold secrets)' : describeValue(value);
}

export function toOptionIssues(error: z.ZodError, input: unknown, schema: z.ZodType, prefix: readonly Key[] = []): OptionIssue[] {
  const out: OptionIssue[] = [];
  for (const issue of error.issues) {
    const path = [...prefix, ...issue.path];
    const value = valueAt(input, issue.path);
    if (issue.code !== 'unrecognized_keys' && !ZOD_DEFAULT.test(issue.message)) {
      out.push({ path: join(path), received: describeReceived(path, value), fix: issue.message });
      continue;
    }
    switch (issue.code) {
      case 'unrecognized_keys': {
        // Required keys missing here come first: on a tie ("post" is one edit from "port" and
        // "host") the "did you mean" names the key the object lacks.
        const here = join(issue.path);
        const missing = error.issues.filter((i) => i.code === 'invalid_type' && i.path.length > 0 && join(i.path.slice(0, -1)) === here && valueAt(input, i.path) === undefined).map((i) => String(i.path.at(-1)));
        const known = [...new Set([...missing, ...knownKeysAt(schema, issue.path)])];
        for (const key of issue.keys) {
          out.push({ path: join([...path, key]), received: describeReceived([...path, key], valueAt(value, [key])), fix: unknownKeyFix(key, known) });
        }
        break;
      }
      case 'invalid_type':
        // A required field typed `unknown` is read by a check of its own (a task's schedule),
        // which reports a missing value with its fix: zod's bare "required" would say it twice.
        if (value === undefined && defAt(schema, issue.path)?.type === 'unknown') break;
        out.push({
          path: join(path),
          received: describeReceived(path, value),
          fix: value === undefined ? `is required (${issue.expected})` : `expected ${issue.expected}`,
        });
        break;
      case 'invalid_value':
        out.push({ path: join(path), received: describeReceived(path, value), fix: `use one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}` });
        break;
      case 'too_small':
        out.push({ path: join(path), received: describeReceived(path, value), fix: `must be ${issue.inclusive === false ? 'more than' : 'at least'} ${String(issue.minimum)}` });
        break;
      case 'too_big':
        out.push({ path: join(path), received: describeReceived(path, value), fix: `must be ${issue.inclusive === false ? 'less than' : 'at most'} ${String(issue.maximum)}` });
        break;
      case 'invalid_union':
        out.push({ path: join(path), received: describeReceived(path, value), fix: unionFix(issue.errors) });
        break;
      default:
        out.push({ path: join(path), received: describeReceived(path, value), fix: issue.message });
    }
  }
  return withoutEchoes(out);
}

/**
 * The fix for a value no alternative of a union accepts, from what each alternative expected
 * (zod's own message is only "Invalid input"): `use "low", "normal", "high" or a number`.
 */
function unionFix(branches: readonly (readonly z.core.$ZodIssue[])[]): string {
  const options = branches.flatMap((issues) => {
    const first = issues[0];
    if (first?.code === 'invalid_value') return [first.values.map((v) => JSON.stringify(v)).join(', ')];
    if (first?.code === 'invalid_type') return [`a ${first.expected}`];
    return first !== undefined && !ZOD_DEFAULT.test(first.message) ? [first.message] : [];
  });
  return options.length === 0 ? 'matches none of the accepted forms' : `use ${options.join(' or ')}`;
}

/**
 * One typo is one problem: when an unknown key's "did you mean" names a required key that is
 * missing, the "is required" line for that key only repeats it.
 */
function withoutEchoes(issues: OptionIssue[]): OptionIssue[] {
  const suggested = new Set<string>();
  for (const issue of issues) {
    const guess = /did you mean "([^"]+)"/.exec(issue.fix)?.[1];
    if (guess !== undefined) suggested.add(`${issue.path.split('.').slice(0, -1).concat(guess).join('.')}`);
  }
  return issues.filter((issue) => !(issue.received === 'nothing' && issue.fix.startsWith('is required') && suggested.has(issue.path)));
}
