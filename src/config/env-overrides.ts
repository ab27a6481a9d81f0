import { describeValue, type OptionIssue } from '../util/errors.ts';
import { closestMatch } from '../util/suggest.ts';

/**
 * How a variable's text becomes the field's value. Text stays text for strings (a token or a
 * path of digits is still a string) and durations and sizes (which carry their unit in the
 * text); only numeric and boolean fields are converted.
 */
type FieldKind = 'text' | 'number' | 'boolean';

/** The scalar fields an environment variable may set: `CARETAKER_HTTP_PORT` sets `http.port`. */
const OVERRIDABLE: readonly { readonly path: readonly string[]; readonly kind: FieldKind }[] = [
  { path: ['store', 'sqlite', 'path'], kind: 'text' },
  { path: ['store', 'sqlite', 'busyTimeout'], kind: 'text' },
  { path: ['store', 'postgres', 'url'], kind: 'text' },
  { path: ['store', 'postgres', 'schema'], kind: 'text' },
  { path: ['store', 'postgres', 'poolSize'], kind: 'number' },
  { path: ['http', 'host'], kind: 'text' },
  { path: ['http', 'port'], kind: 'number' },
  { path: ['http', 'token'], kind: 'text' },
  { path: ['http', 'enabled'], kind: 'boolean' },
  { path: ['history', 'maxAge'], kind: 'text' },
  { path: ['history', 'maxPerTask'], kind: 'number' },
  { path: ['scheduler', 'instance'], kind: 'text' },
  { path: ['scheduler', 'lease'], kind: 'text' },
  { path: ['scheduler', 'concurrency'], kind: 'number' },
  { path: ['scheduler', 'pollInterval'], kind: 'text' },
  { path: ['scheduler', 'stopTimeout'], kind: 'text' },
  { path: ['log', 'level'], kind: 'text' },
  { path: ['log', 'format'], kind: 'text' },
];

/** Variables that name a config section: a typo in the field after them is a mistake, not someone else's variable. */
const SECTIONS = ['STORE', 'HTTP', 'HISTORY', 'SCHEDULER', 'LOG', 'DEFAULTS', 'TASKS'];

const envName = (path: readonly string[]) => `CARETAKER_${path.map((p) => p.replace(/[A-Z]/g, (c) => `_${c}`)).join('_').toUpperCase()}`;
/** Also accept the field names without word breaks: CARETAKER_HISTORY_MAXAGE. */
const squashed = (path: readonly string[]) => `CARETAKER_${path.join('_').toUpperCase()}`;

/** The environment variable for each overridable field, for help texts and the README. */
export const OVERRIDE_VARIABLES: readonly string[] = OVERRIDABLE.map((f) => envName(f.path));

/** The field's value from the variable's text; the field's own validation judges it. */
function scalar(text: string, kind: FieldKind): unknown {
  if (kind === 'number' && /^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (kind === 'boolean' && (text === 'true' || text === 'false')) return text === 'true';
  return text;
}

/** `CARETAKER_<SECTION>_…` variables that set nothing: refused, with the one meant if it is close. */
function unknownVariables(env: NodeJS.ProcessEnv, issues: OptionIssue[]): void {
  const known = new Set(OVERRIDABLE.flatMap((f) => [envName(f.path), squashed(f.path)]));
  for (const name of Object.keys(env)) {
    const section = /^CARETAKER_([A-Z]+)_/.exec(name)?.[1];
    if (section === undefined || !SECTIONS.includes(section) || known.has(name)) continue;
    const guess = closestMatch(name, [...known]);
    const fix =
      section === 'DEFAULTS' || section === 'TASKS'
        ? `${section.toLowerCase()} cannot be set from the environment; set it in the config file (or use \${VAR} there)`
        : `no such field can be set from the environment; ${guess !== undefined ? `did you mean ${guess}?` : `the variables are ${OVERRIDE_VARIABLES.join(', ')}`}`;
    // A misspelt token variable holds a token: never shown.
    issues.push({ path: name, received: /TOK/.test(name) ? `a secret of ${(env[name] ?? '').length} characters (not shown)` : describeValue(env[name]), fix });
  }
}

/**
 * Applies `CARETAKER_<SECTION>_<FIELD>` variables to a parsed config, for per-deployment
 * settings without editing the file. Setting a field of another store kind switches the store
 * (`CARETAKER_STORE_POSTGRES_URL` on a SQLite config makes it PostgreSQL).
 */
export function applyEnvOverrides(config: Record<string, unknown>, env: NodeJS.ProcessEnv, issues: OptionIssue[]): Record<string, unknown> {
  const out = structuredClone(config);
  unknownVariables(env, issues);
  for (const { path, kind } of OVERRIDABLE) {
    const name = [envName(path), squashed(path)].find((n) => env[n] !== undefined);
    if (name === undefined) continue;
    const text = env[name] as string;
    if (text === '') {
      issues.push({ path: path.join('.'), received: `${name}=${describeValue(text)}`, fix: `unset ${name} or give it a value` });
      continue;
    }
    let node = out;
    path.forEach((key, i) => {
      if (i === path.length - 1) {
        node[key] = scalar(text, kind);
        return;
      }
      // A store override of another kind replaces the store section.
      if (key === 'store' && typeof node.store === 'object' && node.store !== null && !((path[1] as string) in node.store)) node.store = {};
      const next = node[key];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
      node = node[key] as Record<string, unknown>;
    });
  }
  return out;
}
