import { isDeepStrictEqual } from 'node:util';
import { upstreamsFirst } from '../engine/dependencies.ts';
import { taskDefinitions } from '../config/handlers.ts';
import { type DaemonConfig, loadConfig, type TaskSpec } from '../config/load.ts';
import { describeStore, openStore } from '../config/open-store.ts';
import { createScheduler } from '../create-scheduler.ts';
import type { StopReport } from '../engine/events.ts';
import type { Scheduler } from '../engine/scheduler.ts';
import type { TaskDefinition } from '../engine/task.ts';
import { type AdminApi, createAdminApi } from '../http/admin-api.ts';
import { type AdminServer, isLoopback, startAdminServer } from '../http/server.ts';
import { formatDuration } from '../util/duration.ts';
import { InvalidOptionError, type OptionIssue } from '../util/errors.ts';
import type { Logger } from '../util/logger.ts';

/** Config sections read once at start: a change to them applies after a restart. */
const RESTART_SECTIONS = ['store', 'scheduler', 'http', 'history', 'log', 'notify'] as const;

/** A restart section as the daemon uses it: `scheduler.stopTimeout` is read when stopping, so it needs no restart. */
function restartPart(config: DaemonConfig, key: (typeof RESTART_SECTIONS)[number]): unknown {
  if (key !== 'scheduler') return config[key];
  const { stopTimeout: _readAtStop, ...rest } = config.scheduler;
  return rest;
}

/** What a reload changed. */
export interface ReloadReport {
  readonly added: readonly string[];
  readonly updated: readonly string[];
  readonly removed: readonly string[];
  /** Sections that differ from those the daemon started with: only a restart applies them (store, scheduler, http, history, log). */
  readonly needsRestart: readonly string[];
}

/**
 * Task options with the config's `defaults` under them: a reload can then change defaults too.
 * `retry` merges field by field, as the scheduler's own defaults do: a task that sets only
 * `retry.backoff` keeps the default `retry.attempts`.
 */
function withDefaults(config: DaemonConfig, spec: TaskSpec): TaskSpec {
  const retry = [config.defaults.retry, spec.options.retry].filter((r) => typeof r === 'object' && r !== null);
  return { ...spec, options: { ...config.defaults, ...spec.options, ...(retry.length > 1 ? { retry: Object.assign({}, ...retry) } : {}) } };
}

function schedulerOptions(config: DaemonConfig) {
  const s = config.scheduler;
  return {
    ...(s.instance !== undefined ? { instance: s.instance } : {}),
    ...(s.lease !== undefined ? { lease: s.lease } : {}),
    ...(s.concurrency !== undefined ? { concurrency: s.concurrency } : {}),
    ...(s.pollInterval !== undefined ? { pollInterval: s.pollInterval } : {}),
    ...(s.backfillLimit !== undefined ? { backfillLimit: s.backfillLimit } : {}),
    ...(config.notify !== null ? { notify: config.notify } : {}),
    ...(s.runLogs !== undefined
      ? {
          runLogs: {
            ...(s.runLogs.maxBytes !== undefined ? { maxBytes: s.runLogs.maxBytes } : {}),
            ...(s.runLogs.flushInterval !== undefined ? { flushInterval: s.runLogs.flushInterval } : {}),
          },
        }
      : {}),
    ...(config.history.maxAge !== undefined || config.history.maxPerTask !== undefined
      ? {
          history: {
            ...(config.history.maxAge !== undefined ? { maxAge: config.history.maxAge } : {}),
            ...(config.history.maxPerTask !== undefined ? { maxPerTask: config.history.maxPerTask } : {}),
          },
        }
      : {}),
  };
}

/**
 * Logs what happens to runs, at most one line per run at `info`: its end, with status and
 * duration. Starts, and ticks skipped because the task is paused, are `debug`; a tick skipped
 * for overlap is `info` the first time for a task (its runs outlast its interval, worth knowing
 * once), then `debug`; missed ticks are one record per outage and stay `info`.
 */
function logRuns(scheduler: Scheduler, logger: Logger): void {
  const overlapReported = new Set<string>();
  scheduler.on('run:started', (run) => logger.debug({ task: run.task, runId: run.id, trigger: run.trigger, attempt: run.attempt, latenessMs: run.latenessMs }, `${run.task} started`));
  scheduler.on('run:finished', (run) => {
    const fields = { task: run.task, runId: run.id, status: run.status, durationMs: run.durationMs, attempt: run.attempt, trigger: run.trigger, output: run.output, error: run.error?.message, retryAt: run.retryAt };
    const how = [run.trigger !== 'schedule' ? run.trigger : '', run.attempt > 1 ? `attempt ${run.attempt}` : ''].filter((t) => t !== '').join(', ');
    const text = `${run.task} ${run.status}${run.durationMs !== null ? ` in ${formatDuration(run.durationMs)}` : ''}${how !== '' ? ` (${how})` : ''}${run.error !== null ? `: ${run.error.message}` : ''}${run.retryAt !== null ? `; retry at ${run.retryAt.toISOString()}` : ''}`;
    if (run.status === 'succeeded') logger.info(fields, text);
    else if (run.status === 'cancelled') logger.warn(fields, text);
    else logger.error(fields, text);
  });
  scheduler.on('tick:skipped', (run) => {
    const fields = { task: run.task, reason: run.skipReason, ticks: run.skippedTicks };
    const text = `${run.task} ${run.skippedTicks > 1 ? `${run.skippedTicks} ticks` : 'tick'} skipped (${run.skipReason ?? 'unknown'})`;
    if (run.skipReason === 'missed') logger.info(fields, text);
    else if (run.skipReason === 'overlap' && !overlapReported.has(run.task)) {
      overlapReported.add(run.task);
      logger.info(fields, `${text}: a run was still in progress; further overlap skips of ${run.task} are logged at debug`);
    } else logger.debug(fields, text);
  });
  scheduler.on('run:lost', (event) => logger.warn({ ...event }, 'lost a run to another instance (lease)'));
  scheduler.on('error', (event) => logger.error({ err: event.error, context: event.context }, `scheduler error (${event.context}): ${describeError(event.error)}`));
}

/** An error's message for a log line that must read on its own (pretty logs hide the fields at info). */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Default address of the admin API and dashboard: this machine only. */
export const DEFAULT_HTTP = { host: '127.0.0.1', port: 7070 } as const;

/** A config `run` accepts, its handlers built; nothing opened, nothing listening. */
export interface PreparedDaemon {
  readonly config: DaemonConfig;
  /** The tasks with the config's defaults merged in. */
  readonly specs: readonly TaskSpec[];
  readonly definitions: readonly TaskDefinition[];
}

/**
 * Every check `caretaker run` makes before it opens the store or a port: the file itself
 * ({@link loadConfig}: fields, units, store, scheduler and task rules), the HTTP binding rule,
 * and each task's handler (modules imported, their export a function). `validate` and a SIGHUP
 * reload call it too, so none of them can accept a config that `run` refuses. Throws one
 * {@link InvalidOptionError} with every problem.
 */
export async function prepareDaemon(options: {
  readonly file: string;
  readonly env?: NodeJS.ProcessEnv | undefined;
  readonly fresh?: boolean;
  /** Build only these tasks' handlers (`trigger --local`): a broken module of another task does not matter then. */
  readonly only?: readonly string[];
}): Promise<PreparedDaemon> {
  const config = loadConfig({ file: options.file, ...(options.env !== undefined ? { env: options.env } : {}) });
  const issues: OptionIssue[] = [];
  const { host = DEFAULT_HTTP.host, token, tokens, enabled } = config.http;
  // startAdminServer refuses this too, but only once modules are imported and the store is open.
  if (enabled !== false && token === undefined && (tokens ?? []).length === 0 && !isLoopback(host)) {
    issues.push({ path: 'http.token', received: 'nothing', fix: `set a token (at least 16 characters) to listen on ${host}, or use host 127.0.0.1` });
  }
  const specs = config.tasks.filter((spec) => options.only === undefined || options.only.includes(spec.name)).map((spec) => withDefaults(config, spec));
  let definitions: TaskDefinition[] = [];
  try {
    definitions = await taskDefinitions(specs, { fresh: options.fresh === true });
  } catch (error) {
    if (!(error instanceof InvalidOptionError)) throw error;
    issues.push(...error.issues);
  }
  if (issues.length > 0) throw new InvalidOptionError(config.file, issues);
  return { config, specs, definitions };
}

async function startHttp(config: DaemonConfig, scheduler: Scheduler, logger: Logger): Promise<Daemon['http']> {
  const { host = DEFAULT_HTTP.host, port = DEFAULT_HTTP.port, token, tokens, allowedHosts, allowedOrigins } = config.http;
  const api = createAdminApi({
    scheduler,
    logger,
    ...(token !== undefined ? { token } : {}),
    ...(tokens !== undefined ? { tokens } : {}),
    ...(allowedHosts !== undefined ? { allowedHosts } : {}),
    ...(allowedOrigins !== undefined ? { allowedOrigins } : {}),
  });
  try {
    return { api, server: await startAdminServer({ fetch: api.fetch, host, port, token, tokens }) };
  } catch (error) {
    api.close();
    if (error instanceof InvalidOptionError) throw new InvalidOptionError(config.file, error.issues);
    const code = (error as { code?: string }).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new InvalidOptionError(config.file, [
        {
          path: code === 'EADDRNOTAVAIL' ? 'http.host' : 'http.port',
          received: code === 'EADDRNOTAVAIL' ? JSON.stringify(host) : String(port),
          fix: `${code === 'EADDRINUSE' ? `port ${port} is in use` : code === 'EACCES' ? `port ${port} needs privileges` : `${host} is not an address of this machine`}; set http.port (CARETAKER_HTTP_PORT), or http.enabled: false`,
        },
      ]);
    }
    throw error;
  }
}

/**
 * The daemon behind `caretaker run`: a scheduler built from a config file, with a reload that
 * applies task changes in place (running runs and schedule state are kept).
 *
 * @example
 * const daemon = await Daemon.start({ file: 'caretaker.config.yaml', logger });
 * process.on('SIGHUP', () => void daemon.reload());
 */
export class Daemon {
  readonly scheduler: Scheduler;
  /** The admin API and dashboard, unless `http.enabled: false`. */
  readonly http: { readonly api: AdminApi; readonly server: AdminServer } | null;
  readonly #logger: Logger;
  /** The config the daemon started with: what store, HTTP and scheduler settings still run on. */
  readonly #running: DaemonConfig;
  #config: DaemonConfig;
  #specs: Map<string, TaskSpec>;

  private constructor(config: DaemonConfig, scheduler: Scheduler, specs: Map<string, TaskSpec>, logger: Logger, http: Daemon['http']) {
    this.#config = config;
    this.#running = config;
    this.scheduler = scheduler;
    this.#specs = specs;
    this.#logger = logger;
    this.http = http;
  }

  get config(): DaemonConfig {
    return this.#config;
  }

  /**
   * Prepares the config ({@link prepareDaemon}; or takes one prepared), opens and migrates the
   * store, and starts the scheduler. Config problems throw {@link InvalidOptionError}.
   */
  static async start(options: ({ readonly file: string; readonly env?: NodeJS.ProcessEnv } | { readonly prepared: PreparedDaemon }) & { readonly logger: Logger }): Promise<Daemon> {
    const { config, specs, definitions } = 'prepared' in options ? options.prepared : await prepareDaemon(options);
    const scheduler = createScheduler({ store: openStore(config.store), logger: options.logger, ...schedulerOptions(config) });
    for (const definition of definitions) scheduler.add(definition);
    logRuns(scheduler, options.logger);
    // Listen before starting: a port in use then stops start-up before any task has run.
    const http = config.http.enabled === false ? null : await startHttp(config, scheduler, options.logger);
    try {
      await scheduler.start();
    } catch (error) {
      await http?.server.close();
      throw error;
    }
    options.logger.info(
      { config: config.file, store: describeStore(config.store), tasks: definitions.length, instance: scheduler.instance, dashboard: http?.server.url },
      `caretaker running ${definitions.length} task${definitions.length === 1 ? '' : 's'} on ${describeStore(config.store)}${http !== null ? `; dashboard at ${http.server.url}` : ''}`,
    );
    return new Daemon(config, scheduler, new Map(specs.map((s) => [s.name, s])), options.logger, http);
  }

  /**
   * Reads the config again and applies task changes: new tasks are added, removed ones removed
   * (their running runs finish), changed ones updated (a changed schedule re-anchors). An
   * invalid config changes nothing and is logged. Store, scheduler and HTTP settings need a restart.
   */
  async reload(env?: NodeJS.ProcessEnv): Promise<ReloadReport | null> {
    let prepared: PreparedDaemon;
    try {
      prepared = await prepareDaemon({ file: this.#config.file, env, fresh: true });
    } catch (error) {
      if (!(error instanceof InvalidOptionError)) throw error;
      this.#logger.error({ issues: error.issues }, `config not reloaded, nothing changed: ${error.message}`);
      return null;
    }
    const { config, specs, definitions } = prepared;
    const needsRestart = RESTART_SECTIONS.filter((key) => !isDeepStrictEqual(restartPart(config, key), restartPart(this.#running, key)));
    const added: string[] = [];
    const updated: string[] = [];
    const removed: string[] = [];
    const next = new Map(specs.map((s) => [s.name, s]));
    for (const name of this.#specs.keys()) {
      if (!next.has(name) && this.scheduler.remove(name)) removed.push(name);
    }
    const specOf = new Map(specs.map((s) => [s.name, s]));
    // Upstream tasks first: a task is added or changed once the tasks it runs after are as the new config has them.
    upstreamsFirst(definitions).forEach((definition) => {
      const spec = specOf.get(definition.name) as TaskSpec;
      const before = this.#specs.get(spec.name);
      if (before === undefined) {
        this.scheduler.add(definition);
        added.push(spec.name);
      } else if (!isDeepStrictEqual(before, spec) || spec.run.kind === 'module') {
        // Options the new config no longer sets go back to their defaults.
        const cleared = Object.fromEntries([...Object.keys(before.options).filter((k) => !(k in spec.options)), ...(before.when !== null && spec.when === null ? ['when'] : [])].map((k) => [k, undefined]));
        const { name: _name, ...changes } = definition;
        this.scheduler.update(spec.name, { ...cleared, ...changes });
        if (!isDeepStrictEqual(before, spec)) updated.push(spec.name);
      }
    });
    this.#config = config;
    this.#specs = next;
    const report = { added, updated, removed, needsRestart };
    this.#logger.info(report, `config reloaded: ${added.length} added, ${updated.length} updated, ${removed.length} removed`);
    if (needsRestart.length > 0) this.#logger.warn({ sections: needsRestart }, `changes to ${needsRestart.join(', ')} apply after a restart`);
    return report;
  }

  /** Stops gracefully: waits up to `timeout` for running runs, then records them interrupted; the API answers until then. */
  async stop(timeout: number | string): Promise<StopReport> {
    try {
      return await this.scheduler.stop({ timeout });
    } finally {
      this.http?.api.close();
      await this.http?.server.close();
    }
  }
}
