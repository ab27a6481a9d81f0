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

const http = z.strictObject({
  host: z.string().min(1).optional(),
  port: z.number().int().min(0).max(65_535).optional(),
  token: z.string().min(16, { message: 'use at least 16 characters (e.g. openssl rand -hex 24)' }).optional(),
  enabled: z.boolean().optional(),
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
