import { z } from 'zod';
import { durationField } from '../engine/task-options.ts';
import { byteCountField } from '../util/size.ts';

/** `store.sqlite`. */
export const sqliteSection = z.strictObject({
  path: z.string().min(1, { message: 'give the database file, e.g. ./caretaker.db' }),
  busyTimeout: durationField.optional(),
  synchronous: z.enum(['normal', 'full']).optional(),
});
/** `store.postgres`. */
export const postgresSection = z.strictObject({
  url: z.string().regex(/^postgres(ql)?:\/\//, { message: 'use a connection string like postgres://user@host:5432/db' }),
  schema: z.string().optional(),
  poolSize: z.number().int().min(1).optional(),
});

/** An origin as browsers send it: scheme (1), host (2), optional port (3); no path. */
export const ORIGIN = /^([a-z][a-z0-9+.-]*):\/\/(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::(\d{1,5}))?$/i;

/**
 * One `http.allowedHosts` entry: a name the API may be reached by (any port), or `.example.com`
 * for that domain and its subdomains. No scheme, port or path: it is matched against the name in Host.
 */
export const allowedHost = z.string().regex(/^\.?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/i, {
  message: 'use a host name without scheme, port or path, e.g. "caretaker.example.com", or ".example.com" for that domain and its subdomains',
});

/** One `http.allowedOrigins` entry: `scheme://host[:port]`, as a browser sends it in `Origin`. */
export const allowedOrigin = z.string().regex(ORIGIN, {
  message: 'use scheme://host[:port] as a browser sends it in Origin, e.g. "https://ops.example.com" (no path, no trailing slash)',
});

/** Characters a token name may hold: it shows in errors, logs and the audit, never as markup. */
const TOKEN_NAME = /^[\w.@-]{1,64}$/;

/** One `http.tokens` entry (and `createAdminApi({ tokens })`). Names and tokens are unique. */
export const apiTokenList = z
  .array(
    z.strictObject({
      name: z.string().regex(TOKEN_NAME, { message: 'use 1 to 64 letters, digits, ".", "_", "@" or "-", e.g. "ci" or "oncall"' }),
      token: z.string().min(16, { message: 'use at least 16 characters (e.g. openssl rand -hex 24)' }),
      role: z.enum(['read', 'operate', 'admin'], { message: 'use read, operate or admin' }),
    }),
    { message: 'use a list of { name, token, role }' },
  )
  .superRefine(
    (list, ctx) => {
      const names = new Set<string>();
      const tokens = new Set<string>();
      // Runs even when an entry has other problems (every mistake at once): entries may be anything here.
      (list as unknown[]).forEach((entry, i) => {
        const { name, token } = (typeof entry === 'object' && entry !== null ? entry : {}) as { name?: unknown; token?: unknown };
        if (typeof name === 'string' && names.has(name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `use a name no other token has ("${name}" is taken)` });
        if (typeof token === 'string' && tokens.has(token)) ctx.addIssue({ code: 'custom', path: [i, 'token'], message: 'use a token no other entry has: the actor would be ambiguous' });
        if (typeof name === 'string') names.add(name);
        if (typeof token === 'string') tokens.add(token);
      });
    },
    { when: (payload) => Array.isArray(payload.value) },
  );

/**
 * The single `token` is an admin token named `admin`: it may not repeat a named token (the first
 * match would decide its role) nor share its name with one (the audit would name two tokens alike).
 */
export function singleTokenClashes(token: unknown, tokens: unknown): { readonly path: (string | number)[]; readonly message: string }[] {
  if (typeof token !== 'string' || !Array.isArray(tokens)) return [];
  const out: { path: (string | number)[]; message: string }[] = [];
  tokens.forEach((entry: unknown, i) => {
    const { name, token: other } = (typeof entry === 'object' && entry !== null ? entry : {}) as { name?: unknown; token?: unknown };
    if (name === 'admin') out.push({ path: ['tokens', i, 'name'], message: 'use another name: "admin" is the single token\'s (http.token)' });
    if (other === token) out.push({ path: ['tokens', i, 'token'], message: 'use a token other than http.token: the actor and role would be ambiguous' });
  });
  return out;
}

const http = z
  .strictObject({
    host: z.string().min(1).optional(),
    port: z.number().int().min(0).max(65_535).optional(),
    token: z.string().min(16, { message: 'use at least 16 characters (e.g. openssl rand -hex 24)' }).optional(),
    tokens: apiTokenList.optional(),
    enabled: z.boolean().optional(),
    allowedHosts: z.array(allowedHost, { message: 'use a list of host names, e.g. [caretaker.example.com, .internal.example.com]' }).optional(),
    allowedOrigins: z.array(allowedOrigin, { message: 'use a list of origins, e.g. ["https://ops.example.com"]' }).optional(),
  })
  .superRefine(
    (value, ctx) => {
      const v = value as { token?: unknown; tokens?: unknown };
      for (const clash of singleTokenClashes(v.token, v.tokens)) ctx.addIssue({ code: 'custom', path: clash.path, message: clash.message });
    },
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
  );

const history = z.strictObject({ maxAge: durationField.optional(), maxPerTask: z.number().int().min(1).optional() });

/** `scheduler.runLogs`: what is kept of each run's log, or false for none. */
const runLogs = z.preprocess(
  (v) => (v === false ? { maxBytes: 0 } : v),
  z.strictObject({
    maxBytes: byteCountField.pipe(z.number().int({ message: 'must be whole bytes' }).max(2 ** 20, { message: 'must be at most 1MiB' })).optional(),
    flushInterval: durationField.pipe(z.number().min(100, { message: 'must be at least 100ms' })).optional(),
  }),
);

const scheduler = z.strictObject({
  instance: z.string().min(1).max(200).optional(),
  lease: durationField.optional(),
  concurrency: z.number().int().min(1).optional(),
  pollInterval: durationField.optional(),
  stopTimeout: durationField.optional(),
  runLogs: runLogs.optional(),
  backfillLimit: z.number().int().min(1).max(10_000).optional(),
});

const log = z.strictObject({
  level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).optional(),
  format: z.enum(['pretty', 'json', 'auto']).optional(),
});

/** The sections of a config file; `defaults` and `tasks` are checked by the engine's own rules. */
export const configSchema = z.strictObject({
  store: z.unknown().optional(),
  http: http.optional(),
  history: history.optional(),
  scheduler: scheduler.optional(),
  log: log.optional(),
  /** Checked by the notify module's own rules (channels, rules, retry). */
  notify: z.unknown().optional(),
  defaults: z.unknown().optional(),
  tasks: z.record(z.string(), z.unknown()).optional(),
});

export type ConfigSections = z.output<typeof configSchema>;
