import { z } from 'zod';

/**
 * A plain SQL identifier: nothing that could end a quoted name or start another statement, and
 * at most 63 characters. PostgreSQL silently truncates longer names to 63 bytes, so a longer
 * name would not be taken as written: it could name another table that shares its first 63.
 */
export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const QUALIFIED = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;

const IDENTIFIER_FIX = 'use letters, digits and "_", starting with a letter or "_", at most 63 characters (quoted as written, so case matters)';

/** A column name option. */
export const columnField = z.string().regex(IDENTIFIER, { message: `is not a column name; ${IDENTIFIER_FIX}` });

/** A table name option, optionally schema-qualified (`audit.events`). */
export const tableField = z.string().regex(QUALIFIED, { message: `is not a table name; ${IDENTIFIER_FIX}, optionally as schema.table` });

/**
 * Quotes a validated (optionally schema-qualified) name for SQLite and PostgreSQL alike. It
 * checks again rather than trusting its caller, because this is the only place a name enters
 * SQL text.
 *
 * @example
 * quoteName('audit.events'); // '"audit"."events"'
 */
export function quoteName(name: string): string {
  if (!QUALIFIED.test(name)) throw new TypeError(`refusing to quote ${JSON.stringify(name)}: not a validated identifier`);
  return name
    .split('.')
    .map((part) => `"${part}"`)
    .join('.');
}
