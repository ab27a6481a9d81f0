import { z } from 'zod';
import { durationField } from '../engine/task-options.ts';

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

const http = z.strictObject({
  host: z.string().min(1).optional(),
  port: z.number().int().min(0).max(65_535).optional(),
  token: z.string().min(16, { message: 'use at least 16 characters (e.g. openssl rand -hex 24)' }).optional(),
  enabled: z.boolean().optional(),
  allowedHosts: z.array(allowedHost, { message: 'use a list of host names, e.g. [caretaker.example.com, .internal.example.com]' }).optional(),
  allowedOrigins: z.array(allowedOrigin, { message: 'use a list of origins, e.g. ["https://ops.example.com"]' }).optional(),
});

const history = z.strictObject({ maxAge: durationField.optional(), maxPerTask: z.number().int().min(1).optional() });

const scheduler = z.strictObject({
  instance: z.string().min(1).max(200).optional(),
  lease: durationField.optional(),
  concurrency: z.number().int().min(1).optional(),
  pollInterval: durationField.optional(),
  stopTimeout: durationField.optional(),
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
  defaults: z.unknown().optional(),
  tasks: z.record(z.string(), z.unknown()).optional(),
});

export type ConfigSections = z.output<typeof configSchema>;
