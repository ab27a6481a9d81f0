import { parseArgs } from 'node:util';
import { findConfigFile } from '../../config/load.ts';
import { Daemon } from '../../daemon/daemon.ts';
import { createLogger } from '../../daemon/logger.ts';
import { formatDuration, parseDuration } from '../../util/duration.ts';
import type { CliIo } from '../context.ts';
import { UsageError } from '../usage-error.ts';

export const RUN_HELP = `Usage: caretaker run [--config FILE] [--stop-timeout DURATION] [--log-level LEVEL] [--log-format pretty|json|auto]

Starts the daemon: loads the config, migrates the store, runs the tasks.
SIGTERM or Ctrl-C stops gracefully (running runs get --stop-timeout, default 30s, then are
recorded interrupted); a second signal exits at once. SIGHUP reloads the config.`;

/** `caretaker run`: resolves with the exit code once the daemon has stopped. */
export async function runCommand(argv: readonly string[], io: CliIo, signals: NodeJS.EventEmitter = process): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      config: { type: 'string', short: 'c' },
      'stop-timeout': { type: 'string' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) {
    io.out(RUN_HELP);
    return 0;
  }
  const format = values['log-format'];
  if (format !== undefined && !['pretty', 'json', 'auto'].includes(format)) throw new UsageError(`--log-format: received ${JSON.stringify(format)}; use pretty, json or auto`);
  const file = findConfigFile(values.config, io.cwd);
  const level = values['log-level'];
  if (level !== undefined && !['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(level)) {
    throw new UsageError(`--log-level: received ${JSON.stringify(level)}; use trace, debug, info, warn, error, fatal or silent`);
  }
  // Checked before the daemon starts: a bad flag must not leave it running behind the error.
  const flagTimeout = values['stop-timeout'];
  if (flagTimeout !== undefined && parseDuration(flagTimeout) === undefined) throw new UsageError(`--stop-timeout: received ${JSON.stringify(flagTimeout)}; use a duration like "30s"`);
  const logger = createLogger({ stream: io.stdout, ...(level !== undefined ? { level } : {}), ...(format !== undefined ? { format: format as 'pretty' | 'json' | 'auto' } : {}) });
  const daemon = await Daemon.start({ file, env: io.env, logger });
  // The config's value is already parsed to milliseconds: format it so the log says "5s", not "5000".
  const stopTimeoutMs = parseDuration(flagTimeout ?? daemon.config.scheduler.stopTimeout ?? '30s') ?? 30_000;
  const stopTimeout = formatDuration(stopTimeoutMs);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (why: string, code: number, fields: object) => {
      stopping = true;
      logger.info({ ...fields, timeout: stopTimeout }, `${why}: stopping; waiting up to ${String(stopTimeout)} for running runs (again to force)`);
      void daemon.stop(stopTimeoutMs).then((report) => {
        const interrupted = report.interrupted.map((r) => `${r.task} (${r.id})`);
        const finished = report.finished.map((r) => r.task);
        const text = interrupted.length === 0 ? 'stopped cleanly: no run was interrupted' : `stopped: interrupted ${interrupted.join(', ')}`;
        logger.info({ interrupted: report.interrupted.length, finished: report.finished.length }, finished.length === 0 ? text : `${text}; finished while stopping: ${finished.join(', ')}`);
        signals.off('SIGINT', onInt).off('SIGTERM', onTerm).off('SIGHUP', onHup);
        process.off('unhandledRejection', onRejection).off('uncaughtException', onException);
        resolve(code);
      });
    };
    const onStop = (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        resolve(130);
        return;
      }
      stop(signal, 0, { signal });
    };
    const onInt = () => onStop('SIGINT');
    const onTerm = () => onStop('SIGTERM');
    const onHup = () => {
      if (!stopping) void daemon.reload(io.env);
    };
    // A task module's stray promise (one it never awaited) must not take every other task down
    // with it: it is logged, and the daemon runs on.
    const onRejection = (reason: unknown) => logger.error({ err: reason }, 'a promise was rejected and nobody handled it (a task module that does not await its work?); the daemon keeps running');
    // After an uncaught exception nothing is known to be sound: record what runs, then exit 1 so a supervisor restarts the daemon.
    const onException = (error: unknown) => {
      logger.error({ err: error }, 'uncaught exception; stopping');
      if (!stopping) stop('uncaught exception', 1, { reason: 'uncaughtException' });
    };
    signals.on('SIGINT', onInt).on('SIGTERM', onTerm).on('SIGHUP', onHup);
    process.on('unhandledRejection', onRejection).on('uncaughtException', onException);
  });
}
