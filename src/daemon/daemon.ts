import { isDeepStrictEqual } from 'node:util';
import { taskDefinitions } from '../config/handlers.ts';
import { type DaemonConfig, loadConfig, type TaskSpec } from '../config/load.ts';
import { describeStore, openStore } from '../config/open-store.ts';
import { createScheduler } from '../create-scheduler.ts';
import type { StopReport } from '../engine/events.ts';
import type { Scheduler } from '../engine/scheduler.ts';
import type { TaskDefinition } from '../engine/task.ts';
import { type AdminApi, createAdminApi } from '../http/admin-api.ts';
import { type AdminServer, startAdminServer } from '../http/server.ts';
import { formatDuration } from '../util/duration.ts';
import { InvalidOptionError } from '../util/errors.ts';
import type { Logger } from '../util/logger.ts';

/** What a reload changed. */
export interface ReloadReport {
  readonly added: readonly string[];
  readonly updated: readonly string[];
  readonly removed: readonly string[];
  /** Settings that only a restart applies (store, scheduler, http). */
  readonly needsRestart: readonly string[];
}

/** Task options with the config's `defaults` under them: a reload can then change defaults too. */
function withDefaults(config: DaemonConfig, spec: TaskSpec): TaskSpec {
  return { ...spec, options: { ...config.defaults, ...spec.options } };
}

function schedulerOptions(config: DaemonConfig) {
  const s = config.scheduler;
  return {
    ...(s.instance !== undefined ? { instance: s.instance } : {}),
    ...(s.lease !== undefined ? { lease: s.lease } : {}),
    ...(s.concurrency !== undefined ? { concurrency: s.concurrency } : {}),
    ...(s.pollInterval !== undefined ? { pollInterval: s.pollInterval } : {}),
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

/** Logs what happens to runs: one line per start and end, at a level that matches the outcome. */
function logRuns(scheduler: Scheduler, logger: Logger): void {
  scheduler.on('run:started', (run) => logger.info({ task: run.task, runId: run.id, trigger: run.trigger, attempt: run.attempt, latenessMs: run.latenessMs }, `${run.task} started`));
  scheduler.on('run:finished', (run) => {
    const fields = { task: run.task, runId: run.id, status: run.status, durationMs: run.durationMs, attempt: run.attempt, output: run.output, error: run.error?.message, retryAt: run.retryAt };
    const text = `${run.task} ${run.status}${run.durationMs !== null ? ` in ${formatDuration(run.durationMs)}` : ''}${run.error !== null ? `: ${run.error.message}` : ''}`;
    if (run.status === 'succeeded') logger.info(fields, text);
    else if (run.status === 'cancelled') logger.warn(fields, text);
    else logger.error(fields, text);
  });
  scheduler.on('tick:skipped', (run) => logger.info({ task: run.task, reason: run.skipReason, ticks: run.skippedTicks }, `${run.task} tick skipped (${run.skipReason ?? 'unknown'})`));
  scheduler.on('run:lost', (event) => logger.warn({ ...event }, 'lost a run to another instance (lease)'));
  scheduler.on('error', (event) => logger.error({ err: event.error, context: event.context }, `scheduler error (${event.context})`));
}

/** Default address of the admin API and dashboard: this machine only. */
export const DEFAULT_HTTP = { host: '127.0.0.1', port: 7070 } as const;

async function startHttp(config: DaemonConfig, scheduler: Scheduler, logger: Logger): Promise<Daemon['http']> {
  const { host = DEFAULT_HTTP.host, port = DEFAULT_HTTP.port, token, allowedHosts, allowedOrigins } = config.http;
  const api = createAdminApi({
    scheduler,
    logger,
    ...(token !== undefined ? { token } : {}),
    ...(allowedHosts !== undefined ? { allowedHosts } : {}),
    ...(allowedOrigins !== undefined ? { allowedOrigins } : {}),
  });
  try {
    return { api, server: await startAdminServer({ fetch: api.fetch, host, port, token }) };
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
  #config: DaemonConfig;
  #specs: Map<string, TaskSpec>;

  private constructor(config: DaemonConfig, scheduler: Scheduler, specs: Map<string, TaskSpec>, logger: Logger, http: Daemon['http']) {
    this.#config = config;
    this.scheduler = scheduler;
    this.#specs = specs;
    this.#logger = logger;
    this.http = http;
  }

  get config(): DaemonConfig {
    return this.#config;
  }

  /** Loads the config, opens and migrates the store, and starts the scheduler. Config problems throw {@link InvalidOptionError}. */
  static async start(options: { readonly file: string; readonly env?: NodeJS.ProcessEnv; readonly logger: Logger }): Promise<Daemon> {
    const config = loadConfig({ file: options.file, ...(options.env !== undefined ? { env: options.env } : {}) });
    const specs = config.tasks.map((spec) => withDefaults(config, spec));
    const definitions = await taskDefinitions(specs);
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
    let config: DaemonConfig;
    let definitions: TaskDefinition[];
    const specs: TaskSpec[] = [];
    try {
      config = loadConfig({ file: this.#config.file, ...(env !== undefined ? { env } : {}) });
      specs.push(...config.tasks.map((spec) => withDefaults(config, spec)));
      definitions = await taskDefinitions(specs, { fresh: true });
    } catch (error) {
      if (!(error instanceof InvalidOptionError)) throw error;
      this.#logger.error({ issues: error.issues }, `config not reloaded, nothing changed: ${error.message}`);
      return null;
    }
    const needsRestart = (['store', 'scheduler', 'http', 'history', 'log'] as const).filter((key) => !isDeepStrictEqual(config[key], this.#config[key]));
    const added: string[] = [];
    const updated: string[] = [];
    const removed: string[] = [];
    const next = new Map(specs.map((s) => [s.name, s]));
    for (const name of this.#specs.keys()) {
      if (!next.has(name) && this.scheduler.remove(name)) removed.push(name);
    }
    definitions.forEach((definition, i) => {
      const spec = specs[i] as TaskSpec;
      const before = this.#specs.get(spec.name);
      if (before === undefined) {
        this.scheduler.add(definition);
        added.push(spec.name);
      } else if (!isDeepStrictEqual(before, spec) || spec.run.kind === 'module') {
        // Options the new config no longer sets go back to their defaults.
        const cleared = Object.fromEntries(Object.keys(before.options).filter((k) => !(k in spec.options)).map((k) => [k, undefined]));
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
