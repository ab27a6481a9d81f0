import { pino } from 'pino';
import pretty from 'pino-pretty';
import type { Logger } from '../util/logger.ts';

export interface LoggerOptions {
  readonly level?: string;
  /** `auto` (default): pretty on a TTY (one line per entry), JSON lines otherwise. */
  readonly format?: 'pretty' | 'json' | 'auto';
  readonly stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** The daemon's pino logger: readable on a terminal, JSON lines for log collectors. */
export function createLogger(options: LoggerOptions = {}): Logger & { flush?: () => void } {
  const stream = options.stream ?? process.stdout;
  const format = options.format ?? 'auto';
  const isPretty = format === 'pretty' || (format === 'auto' && stream.isTTY === true);
  const level = options.level ?? 'info';
  if (!isPretty) return pino({ level, base: { pid: process.pid } }, stream);
  const colorize = stream.isTTY === true && (process.env.NO_COLOR ?? '') === '';
  // One line per entry on a terminal: the messages say what happened; the fields (a run's
  // output, ids) are shown, on the same line, only when asking for detail with debug or trace;
  // errors too, not as pino-pretty's multi-line stack block.
  const detailed = level === 'debug' || level === 'trace';
  return pino({ level }, pretty({ destination: stream, colorize, sync: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss.l', hideObject: !detailed, singleLine: detailed, errorLikeObjectKeys: [] }));
}
