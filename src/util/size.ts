import { z } from 'zod';
import { unitsRequiredNow } from './duration.ts';

/**
 * An amount of bytes: a number, or a string with a unit such as `"500MB"`, `"10GB"` or
 * `"1.5GiB"`. Decimal units (`KB`, `MB`, `GB`, `TB`) are powers of 1000 and binary units
 * (`KiB`, `MiB`, `GiB`, `TiB`) powers of 1024, as the disk tools users compare against print them.
 */
export type Size = number | string;

const UNIT_BYTES: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?$/i;

/** The fix to show when a size does not parse. */
export const SIZE_HINT = 'use bytes as a number or a string like "500MB", "10GB" or "1.5GiB"';

/**
 * Parses a {@link Size} into whole bytes, or returns `undefined` when it is not one.
 *
 * @example
 * parseSize('10GB'); // 10_000_000_000
 * parseSize('1KiB'); // 1024
 * parseSize('ten'); // undefined
 */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === 'number' && unitsRequiredNow() && value !== 0) return undefined;
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.max(0, Math.round(value)) : undefined;
  if (typeof value !== 'string') return undefined;
  const match = SIZE.exec(value.trim());
  if (match === null || (match[2] === undefined && unitsRequiredNow() && Number(match[1]) !== 0)) return undefined;
  const bytes = Number(match[1]) * (UNIT_BYTES[(match[2] ?? 'b').toLowerCase()] ?? Number.NaN);
  return Number.isFinite(bytes) ? Math.round(bytes) : undefined;
}

/** A size field: reads a number or a unit string (`"10GB"`) into bytes. */
export const sizeField = z.unknown().transform((value, ctx) => {
  const bytes = parseSize(value);
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: `is not a size; ${SIZE_HINT}` });
    return z.NEVER;
  }
  return bytes;
});

/** A size where 0 means none: a size that rounds to 0 bytes but is not 0 is refused, not read as none. */
export const byteCountField = z.unknown().transform((value, ctx) => {
  const bytes = parseSize(value);
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: `is not a size; ${SIZE_HINT}` });
    return z.NEVER;
  }
  if (bytes === 0 && value !== 0 && value !== '0') {
    ctx.addIssue({ code: 'custom', message: 'is less than one byte; use 0 (or false) for none' });
    return z.NEVER;
  }
  return bytes;
});
