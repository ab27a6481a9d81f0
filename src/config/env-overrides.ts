import { describeValue, type OptionIssue } from '../util/errors.ts';

/** The scalar fields an environment variable may set: `CARETAKER_HTTP_PORT` sets `http.port`. */
const OVERRIDABLE: readonly (readonly string[])[] = [
  ['store', 'sqlite', 'path'],
  ['store', 'postgres', 'url'],
  ['store', 'postgres', 'schema'],
  ['store', 'postgres', 'poolSize'],
  ['http', 'host'],
  ['http', 'port'],
  ['http', 'token'],
  ['history', 'maxAge'],
  ['history', 'maxPerTask'],
  ['scheduler', 'instance'],
  ['scheduler', 'lease'],
  ['scheduler', 'concurrency'],
  ['scheduler', 'pollInterval'],
  ['log', 'level'],
  ['log', 'format'],
];

const envName = (path: readonly string[]) => `CARETAKER_${path.map((p) => p.replace(/[A-Z]/g, (c) => `_${c}`)).join('_').toUpperCase()}`;
/** Also accept the field names without word breaks: CARETAKER_HISTORY_MAXAGE. */
const squashed = (path: readonly string[]) => `CARETAKER_${path.join('_').toUpperCase()}`;

/** The environment variable for each overridable field, for help texts and the README. */
export const OVERRIDE_VARIABLES: readonly string[] = OVERRIDABLE.map(envName);

function scalar(text: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  return text;
}

/**
 * Applies `CARETAKER_<SECTION>_<FIELD>` variables to a parsed config, for per-deployment
 * settings without editing the file. Setting a field of another store kind switches the store
 * (`CARETAKER_STORE_POSTGRES_URL` on a SQLite config makes it PostgreSQL).
 */
export function applyEnvOverrides(config: Record<string, unknown>, env: NodeJS.ProcessEnv, issues: OptionIssue[]): Record<string, unknown> {
  const out = structuredClone(config);
  for (const path of OVERRIDABLE) {
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
        node[key] = scalar(text);
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
