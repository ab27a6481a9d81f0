import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { resolveSchedulerOptions } from '../engine/scheduler-options.ts';
import { parseTaskDefaults, resolveTask } from '../engine/task-options.ts';
import { DURATION_HINT, parseDuration, requiringUnits } from '../util/duration.ts';
import { checkDependencies } from '../engine/dependencies.ts';
import type { Dependency } from '../engine/smart-options.ts';
import { describeValue, InvalidOptionError, type OptionIssue } from '../util/errors.ts';
import { toOptionIssues } from '../util/zod-issues.ts';
import { closestMatch } from '../util/suggest.ts';
import { checkNotify, type NotifyOptions } from '../notify/config.ts';
import { applyEnvOverrides } from './env-overrides.ts';
import { interpolateEnv } from './interpolate.ts';
import { openStore } from './open-store.ts';
import { checkRun, type RunSpec } from './run-spec.ts';
import { type ConfigSections, configSchema } from './schema.ts';
import { checkStore, type StoreSpec } from './store-spec.ts';
import { inConfigTerms } from './units.ts';

/** The file names looked for, in order, when no `--config` is given. */
/** The `after` of each config task checked so far (a config is checked in one synchronous pass). */
const dependencies = new Map<string, Dependency | null>();

export const DEFAULT_CONFIG_FILES = ['caretaker.config.yaml', 'caretaker.config.yml', 'caretaker.config.json'] as const;

/** One task as the config describes it: its options for the scheduler and what it runs. */
export interface TaskSpec {
  readonly name: string;
  /** Task options (schedule, timeout, retry, …) as written; validated by the engine's rules. */
  readonly options: Readonly<Record<string, unknown>>;
  readonly run: RunSpec;
  /** `when`: a module or command checked before each run (exit 0 = run), with its timeout; null for none. */
  readonly when: { readonly run: RunSpec; readonly timeoutMs: number | null } | null;
}

/** A config file, read, interpolated, overridden from the environment and validated. */
export interface DaemonConfig {
  /** The file it came from (absolute). */
  readonly file: string;
  /** Relative paths in the config resolve against this directory. */
  readonly dir: string;
  readonly store: StoreSpec;
  readonly http: NonNullable<ConfigSections['http']>;
  readonly history: NonNullable<ConfigSections['history']>;
  readonly scheduler: NonNullable<ConfigSections['scheduler']>;
  readonly log: NonNullable<ConfigSections['log']>;
  /** The `notify` section as written (checked), for `createScheduler`; null without one. */
  readonly notify: NotifyOptions | null;
  readonly defaults: Readonly<Record<string, unknown>>;
  readonly tasks: readonly TaskSpec[];
}

/** Finds the config file: the one given, or the first default name in `cwd`. */
export function findConfigFile(given: string | undefined, cwd: string): string {
  if (given !== undefined) {
    const file = resolve(cwd, given);
    if (!existsSync(file)) throw new InvalidOptionError('--config', [{ path: '--config', received: describeValue(given), fix: 'no such file; give the path of a caretaker.config.yaml or .json' }]);
    return file;
  }
  for (const name of DEFAULT_CONFIG_FILES) {
    const file = resolve(cwd, name);
    if (existsSync(file)) return file;
  }
  throw new InvalidOptionError('--config', [
    { path: '--config', received: 'nothing', fix: `no ${DEFAULT_CONFIG_FILES.join(', ')} in ${cwd}; create one or pass --config FILE` },
  ]);
}

function parseFile(file: string, text: string): unknown {
  if (file.endsWith('.json')) {
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new InvalidOptionError(file, [{ path: '(file)', received: 'invalid JSON', fix: (error as Error).message }]);
    }
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    throw new InvalidOptionError(
      file,
      doc.errors.map((e) => ({ path: `line ${e.linePos?.[0].line ?? '?'}, column ${e.linePos?.[0].col ?? '?'}`, received: 'invalid YAML', fix: e.message.split('\n')[0] ?? e.message })),
    );
  }
  try {
    return doc.toJS() as unknown;
  } catch (error) {
    // Aliases are resolved only here: one used before its anchor, or so many that they look
    // like a resource-exhaustion attack ("billion laughs"), throw from the YAML library.
    throw new InvalidOptionError(file, [{ path: '(file)', received: 'invalid YAML', fix: `${(error as Error).message}; define each &anchor before its *alias, and use aliases sparingly` }]);
  }
}

/**
 * Reads and validates a config file. Every problem is collected and thrown at once as one
 * {@link InvalidOptionError} (one issue per problem, each naming its field path and the fix).
 *
 * @example
 * const config = loadConfig({ file: 'caretaker.config.yaml', env: process.env });
 */
export function loadConfig(options: { readonly file: string; readonly env?: NodeJS.ProcessEnv; readonly text?: string }): DaemonConfig {
  const file = resolve(options.file);
  const dir = dirname(file);
  const env = options.env ?? process.env;
  let text: string;
  try {
    text = options.text ?? readFileSync(file, 'utf8');
  } catch (error) {
    throw new InvalidOptionError(file, [{ path: '(file)', received: file, fix: `cannot read it: ${(error as Error).message}` }]);
  }
  const parsed = parseFile(file, text) ?? {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InvalidOptionError(file, [{ path: '(file)', received: describeValue(parsed), fix: 'the file must hold a mapping with sections such as store, tasks' }]);
  }
  const issues: OptionIssue[] = [];
  const raw = applyEnvOverrides(interpolateEnv(parsed, env, issues) as Record<string, unknown>, env, issues);
  // A field whose variable is unset is reported for that; what its placeholder then fails is noise.
  const interpolated = issues.length;
  const unset = new Set(issues.map((i) => i.path));
  const checked = requiringUnits(() => checkSections(raw, dir, issues));
  const reported = issues.filter((issue, index) => index < interpolated || !unset.has(issue.path));
  if (reported.length > 0) throw new InvalidOptionError(file, inConfigTerms(reported));
  return { file, dir, ...checked };
}

/** Every check of a parsed config that needs no I/O, each problem added to `issues`. */
function checkSections(raw: Record<string, unknown>, dir: string, issues: OptionIssue[]): Omit<DaemonConfig, 'file' | 'dir'> {
  const sections = configSchema.safeParse(raw);
  if (!sections.success) issues.push(...toOptionIssues(sections.error, raw, configSchema));
  const data: ConfigSections = sections.success ? sections.data : {};
  const store = checkStore(raw.store, dir, issues);
  // The store's own rules (a PostgreSQL schema name, …): constructing it opens nothing.
  if (store !== null) collect(() => openStore(store), issues, (path) => `store.${store.kind}.${path}`);
  checkScheduler(raw, issues);
  const defaults = collect(() => parseTaskDefaults(raw.defaults), issues) ?? {};
  const tasks: TaskSpec[] = [];
  dependencies.clear();
  const rawTasks = typeof raw.tasks === 'object' && raw.tasks !== null && !Array.isArray(raw.tasks) ? (raw.tasks as Record<string, unknown>) : {};
  for (const [name, body] of Object.entries(rawTasks)) {
    const spec = checkTask(name, body, defaults, dir, issues);
    if (spec !== null) tasks.push(spec);
  }
  if (raw.notify !== undefined) checkNotifySection(raw.notify, rawTasks, raw.defaults, issues);
  // `after` across the file: an upstream task that is not in it, or a cycle, is named.
  collect(() => checkDependencies((task) => dependencies.get(task), dependencies.keys(), () => 'config', true, (task) => `tasks.${task}.after`), issues);
  return {
    store: store as StoreSpec,
    http: data.http ?? {},
    history: data.history ?? {},
    scheduler: data.scheduler ?? {},
    log: data.log ?? {},
    notify: raw.notify === undefined ? null : relativeToConfig(raw.notify as NotifyOptions, dir),
    defaults: (raw.defaults ?? {}) as Record<string, unknown>,
    tasks,
  };
}

/** Runs a check of the library's: its result, or undefined with its problems added to `issues` at their config paths. */
function collect<T>(work: () => T, issues: OptionIssue[], configPath: (path: string) => string = (path) => path): T | undefined {
  try {
    return work();
  } catch (error) {
    if (!(error instanceof InvalidOptionError)) throw error;
    issues.push(...error.issues.map((i) => ({ ...i, path: configPath(i.path) })));
    return undefined;
  }
}

/** A command channel's program given as a relative path (`./page.sh`) is relative to the config file, as a task's is. */
function relativeToConfig(notify: NotifyOptions, dir: string): NotifyOptions {
  const channels = Object.fromEntries(
    Object.entries(notify.channels ?? {}).map(([name, channel]) => {
      if (!('command' in channel) || !Array.isArray(channel.command)) return [name, channel];
      const [program, ...args] = channel.command;
      const relative = typeof program === 'string' && (program.startsWith('./') || program.startsWith('../'));
      return [name, relative ? { ...channel, command: [resolve(dir, program), ...args] } : channel];
    }),
  );
  return { ...notify, channels };
}

/** The `notify` section by the notify module's rules, and its task rules against the tasks configured. */
function checkNotifySection(section: unknown, rawTasks: Record<string, unknown>, defaults: unknown, issues: OptionIssue[]): void {
  checkNotify(section, issues);
  const tasks = Object.keys(rawTasks);
  // Checked whatever else is wrong with the section: a rule for a task that does not exist never fires.
  const rules = isSection(section) && isSection(section.tasks) ? section.tasks : {};
  for (const [task, rule] of Object.entries(rules)) {
    if (!tasks.includes(task)) {
      const guess = closestMatch(task, tasks);
      issues.push({ path: `notify.tasks.${task}`, received: describeValue(task), fix: `no such task in tasks${guess !== undefined ? `; did you mean "${guess}"?` : ''}` });
      continue;
    }
    // Nor does a stale rule for a task that never goes stale.
    const staleAfter = (isSection(rawTasks[task]) ? (rawTasks[task] as Record<string, unknown>).staleAfter : undefined) ?? (isSection(defaults) ? defaults.staleAfter : undefined);
    if (isSection(rule) && Array.isArray(rule.on) && rule.on.includes('stale') && staleAfter === undefined) {
      issues.push({ path: `notify.tasks.${task}.on`, received: describeValue(rule.on), fix: `"stale" needs the task's staleAfter (e.g. tasks.${task}.staleAfter: 26h); without it the task is never stale` });
    }
  }
}

const isSection = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The scheduler's own rules for the `scheduler` and `history` sections (a lease of at least 1s,
 * …), checked on the values as written so the message quotes them; a field the config schema
 * already refused is not reported twice.
 */
function checkScheduler(raw: Record<string, unknown>, issues: OptionIssue[]): void {
  const { stopTimeout: _daemonOnly, ...scheduler } = isSection(raw.scheduler) ? raw.scheduler : {};
  const options = { ...scheduler, ...(isSection(raw.history) ? { history: raw.history } : {}) };
  const own: OptionIssue[] = [];
  collect(() => resolveSchedulerOptions(options), own, (path) => (path.startsWith('history.') ? path : `scheduler.${path}`));
  const reported = new Set(issues.map((i) => i.path));
  issues.push(...own.filter((i) => !reported.has(i.path)));
}

function checkTask(name: string, body: unknown, defaults: ReturnType<typeof parseTaskDefaults>, dir: string, issues: OptionIssue[]): TaskSpec | null {
  const at = `tasks.${name}`;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    issues.push({ path: at, received: describeValue(body), fix: 'expected a mapping with schedule and run' });
    return null;
  }
  const { run, when, ...options } = body as Record<string, unknown>;
  const before = issues.length;
  // The engine's own rules, so a config task and a library task fail the same way.
  const resolved = collect(() => resolveTask({ ...options, ...(when !== undefined ? { when: () => true } : {}), name, handler: () => undefined }, defaults, new Map()), issues, (path) => (path === 'name' ? at : `${at}.${path}`));
  const spec = checkRun(run, `${at}.run`, dir, issues);
  const condition = when === undefined ? null : checkWhen(when, `${at}.when`, dir, issues);
  // A task with other problems is still known to its downstream tasks.
  dependencies.set(name, resolved?.dependency ?? null);
  return spec === null || issues.length > before ? null : { name, options, run: spec, when: condition };
}

/** A config `when`: `{ command: [...] }` or `{ module: ./check.js }`, with an optional `timeout`. */
function checkWhen(when: unknown, path: string, dir: string, issues: OptionIssue[]): TaskSpec['when'] {
  if (typeof when !== 'object' || when === null || Array.isArray(when) || 'builtin' in when) {
    issues.push({ path, received: describeValue(when), fix: 'give { command: ["test", "-f", "/run/flag"] } (exit 0 = run) or { module: ./check.js } (its function answers), with an optional timeout' });
    return null;
  }
  const { timeout, ...run } = when as Record<string, unknown>;
  const timeoutMs = timeout === undefined ? null : parseDuration(timeout);
  if (timeoutMs === undefined || (timeoutMs !== null && timeoutMs <= 0)) issues.push({ path: `${path}.timeout`, received: describeValue(timeout), fix: `is not a duration longer than 0; ${DURATION_HINT}` });
  const spec = checkRun(run, path, dir, issues);
  return spec === null || timeoutMs === undefined ? null : { run: spec, timeoutMs };
}
