import { parseArgs } from 'node:util';
import { findConfigFile } from '../../config/load.ts';
import { Daemon, describeError, prepareDaemon } from '../../daemon/daemon.ts';
import { createLogger } from '../../daemon/logger.ts';
import { formatDuration, parseDuration } from '../../util/duration.ts';
import type { CliIo } from '../context.ts';
import { UsageError } from '../usage-error.ts';

export const RUN_HELP = `Usage: caretaker run [--config FILE] [--stop-timeout DURATION] [--log-level LEVEL] [--log-format pretty|json|auto] [--json]

Starts the daemon: loads the config, migrates the store, runs the tasks.
SIGTERM or Ctrl-C stops gracefully (running runs get --stop-timeout, default
scheduler.stopTimeout or 30s, then are recorded interrupted); a second signal exits at once.
SIGHUP reloads the config.

Options:
  --log-level LEVEL   trace, debug, info, warn, error, fatal or silent (default log.level,
                      else info: one line per run; debug adds starts, skips and fields)
  --log-format F      pretty, json or auto (default log.format, else auto: pretty on a terminal)
  --json              JSON log lines, and errors as JSON`;

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const FORMATS = ['pretty', 'json', 'auto'] as const;

/** `caretaker run`: resolves with the exit code once the daemon has stopped. */
export async function runCommand(argv: readonly string[], io: CliIo, signals: NodeJS.EventEmitter = process): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      config: { type: 'string', short: 'c' },
      'stop-timeout': { type: 'string' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) {
    io.out(RUN_HELP);
    return 0;
  }
  const flagFormat = values['log-format'] ?? (values.json === true ? 'json' : undefined);
  if (flagFormat !== undefined && !(FORMATS as readonly string[]).includes(flagFormat)) throw new UsageError(`--log-format: received ${JSON.stringify(flagFormat)}; use pretty, json or auto`);
  const file = findConfigFile(values.config, io.cwd);
  const flagLevel = values['log-level'];
  if (flagLevel !== undefined && !LEVELS.includes(flagLevel)) throw new UsageError(`--log-level: received ${JSON.stringify(flagLevel)}; use trace, debug, info, warn, error, fatal or silent`);
  // Checked before the daemon starts: a bad flag must not leave it running behind the error.
  const flagTimeout = values['stop-timeout'];
  if (flagTimeout !== undefined && parseDuration(flagTimeout) === undefined) throw new UsageError(`--stop-timeout: received ${JSON.stringify(flagTimeout)}; use a duration like "30s"`);
  const prepared = await prepareDaemon({ file, env: io.env });
  const level = flagLevel ?? prepared.config.log.level;
  const format = (flagFormat ?? prepared.config.log.format) as (typeof FORMATS)[number] | undefined;
  const logger = createLogger({ stream: io.stdout, ...(level !== undefined ? { level } : {}), ...(format !== undefined ? { format } : {}) });
  const daemon = await Daemon.start({ prepared, logger });
  // Read when stopping, so a reload can change scheduler.stopTimeout; the config's value is
  // already milliseconds: formatted, the log says "5s", not "5000".
  const stopTimeoutMs = () => parseDuration(flagTimeout ?? daemon.config.scheduler.stopTimeout ?? '30s') ?? 30_000;

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (why: string, code: number, fields: object) => {
      stopping = true;
      const timeoutMs = stopTimeoutMs();
      logger.info({ ...fields, timeout: formatDuration(timeoutMs) }, `${why}: stopping; waiting up to ${formatDuration(timeoutMs)} for running runs (again to force)`);
      void daemon.stop(timeoutMs).then((report) => {
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
    const onRejection = (reason: unknown) =>
      logger.error({ err: reason }, `a promise was rejected and nobody handled it (a task module that does not await its work?); the daemon keeps running: ${describeError(reason)}`);
    // After an uncaught exception nothing is known to be sound: record what runs, then exit 1 so a supervisor restarts the daemon.
    const onException = (error: unknown) => {
      logger.error({ err: error }, `uncaught exception; stopping: ${describeError(error)}`);
      if (!stopping) stop('uncaught exception', 1, { reason: 'uncaughtException' });
    };
    signals.on('SIGINT', onInt).on('SIGTERM', onTerm).on('SIGHUP', onHup);
    // Started by a launcher that asked for it (npm start): when the launcher dies, even by SIGKILL,
    // its IPC channel closes, and the daemon stops as if it had been sent SIGTERM.
    if (io.env.CARETAKER_STOP_WITH_PARENT === '1' && process.channel !== undefined) {
      process.channel.unref();
      process.once('disconnect', () => {
        if (!stopping) stop('launcher gone', 0, { reason: 'parent exited' });
      });
    }
    process.on('unhandledRejection', onRejection).on('uncaughtException', onException);
  });
}
