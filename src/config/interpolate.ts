import { describeValue, type OptionIssue } from '../util/errors.ts';

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string of a parsed config. A variable that
 * is unset and has no default is a problem reported at its field, not an empty string: an
 * empty token or URL would fail later, far from its cause.
 */
export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, issues: OptionIssue[], path: readonly string[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(REFERENCE, (whole, name: string, fallback: string | undefined) => {
      const set = env[name];
      if (set !== undefined && set !== '') return set;
      if (fallback !== undefined) return fallback;
      issues.push({ path: path.join('.'), received: describeValue(value), fix: `the environment variable ${name} is not set; set it, or give a default as \${${name}:-value}` });
      return whole;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolateEnv(item, env, issues, [...path, String(i)]));
  // A YAML 1.1 timestamp (`%YAML 1.1`, then `at: 2026-12-01T02:00:00Z`) is a Date: keep it, do not take it apart.
  if (value instanceof Date) return value;
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolateEnv(item, env, issues, [...path, key])]));
  }
  return value;
}
