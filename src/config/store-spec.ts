import { resolve } from 'node:path';
import type { z } from 'zod';
import { describeValue, type OptionIssue } from '../util/errors.ts';
import { closestMatch } from '../util/suggest.ts';
import { toOptionIssues } from '../util/zod-issues.ts';
import { postgresSection, sqliteSection } from './schema.ts';

/** Which store the daemon opens; relative SQLite paths are already resolved. */
export type StoreSpec =
  | { readonly kind: 'memory' }
  | { readonly kind: 'sqlite'; readonly options: z.output<typeof sqliteSection> }
  | { readonly kind: 'postgres'; readonly options: z.output<typeof postgresSection> };

const KINDS = ['sqlite', 'postgres', 'memory'] as const;
const FIX = 'give exactly one of { sqlite: { path } }, { postgres: { url } } or memory';

/** Checks the `store` section; a missing one means SQLite in `caretaker.db` beside the config. */
export function checkStore(raw: unknown, dir: string, issues: OptionIssue[]): StoreSpec | null {
  if (raw === undefined) return { kind: 'sqlite', options: { path: resolve(dir, 'caretaker.db') } };
  if (raw === 'memory') return { kind: 'memory' };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    issues.push({ path: 'store', received: describeValue(raw), fix: FIX });
    return null;
  }
  const keys = Object.keys(raw);
  const kind = keys[0];
  if (keys.length !== 1 || !KINDS.includes(kind as (typeof KINDS)[number])) {
    // A misspelt kind ("sqlit") gets a "did you mean", like every other unknown key.
    const guess = keys.length === 1 ? closestMatch(kind as string, KINDS) : undefined;
    issues.push({
      path: keys.length === 1 ? `store.${kind}` : 'store',
      received: keys.length === 1 ? describeValue((raw as Record<string, unknown>)[kind as string]) : describeValue(raw),
      fix: guess === undefined ? FIX : `unknown store kind; did you mean "${guess}"? (${FIX})`,
    });
    return null;
  }
  const body = (raw as Record<string, unknown>)[kind as string] ?? {};
  if (kind === 'memory') return { kind: 'memory' };
  const schema = kind === 'sqlite' ? sqliteSection : postgresSection;
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    issues.push(...toOptionIssues(parsed.error, body, schema, ['store', kind as string]));
    return null;
  }
  if (kind === 'sqlite') {
    const options = parsed.data as z.output<typeof sqliteSection>;
    return { kind, options: { ...options, path: options.path === ':memory:' ? options.path : resolve(dir, options.path) } };
  }
  return { kind: 'postgres', options: parsed.data as z.output<typeof postgresSection> };
}
