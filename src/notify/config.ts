import { z } from 'zod';
import { retryDelay } from '../engine/retry.ts';
import { durationField, TASK_NAME } from '../engine/task-options.ts';
import type { Duration } from '../util/duration.ts';
import { describeValue, InvalidOptionError, type OptionIssue } from '../util/errors.ts';
import { closestMatch } from '../util/suggest.ts';
import { toOptionIssues } from '../util/zod-issues.ts';
import { NOTIFY_KINDS, type NotifyEvent, type NotifyKind } from './event.ts';

/** A custom channel's delivery: resolve when delivered, throw to have it retried; honour `signal`. */
export type NotifySend = (event: NotifyEvent, signal: AbortSignal) => Promise<void>;

/** A channel as written in the `notify` section or given to `createScheduler`. */
export type NotifyChannelOptions =
  | {
      readonly webhook: {
        /** http:// or https://; no user:password (give it in `headers`). */
        readonly url: string;
        /** `json` (default): the event with `version: 1`; `slack`: a Slack incoming-webhook message. */
        readonly format?: 'json' | 'slack';
        readonly headers?: Readonly<Record<string, string>>;
        /** Per attempt; default 10s. */
        readonly timeout?: Duration;
      };
    }
  | {
      /** Program and arguments, run without a shell; the event arrives as JSON on stdin. */
      readonly command: readonly string[];
      /** Per attempt; default 30s. */
      readonly timeout?: Duration;
    }
  | {
      readonly send: NotifySend;
      /** Per attempt (the signal `send` gets is aborted then); default 10s. */
      readonly timeout?: Duration;
    };

/** Which events go to which channels. */
export interface NotifyRuleOptions {
  readonly on: readonly NotifyKind[];
  readonly channels: readonly string[];
}

/**
 * The `notify` section of a config file and the `notify` option of `createScheduler`.
 *
 * @example
 * const notify: NotifyOptions = {
 *   channels: { 'ops-slack': { webhook: { url: process.env.SLACK_URL!, format: 'slack' } } },
 *   defaults: { on: ['failed', 'recovered'], channels: ['ops-slack'] },
 *   tasks: { 'noisy-task': false },
 * };
 */
export interface NotifyOptions {
  readonly channels: Readonly<Record<string, NotifyChannelOptions>>;
  /** The rule of every task not in `tasks`; without it, those tasks send nothing. */
  readonly defaults?: NotifyRuleOptions;
  /** A task's own rule replaces `defaults` whole; `false` sends nothing for it. */
  readonly tasks?: Readonly<Record<string, NotifyRuleOptions | false>>;
  readonly retry?: { readonly attempts?: number; readonly backoff?: Duration; readonly maxBackoff?: Duration; readonly factor?: number };
}

export interface WebhookChannelConfig {
  readonly kind: 'webhook';
  readonly url: string;
  readonly format: 'json' | 'slack';
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

export interface CommandChannelConfig {
  readonly kind: 'command';
  readonly argv: readonly [string, ...string[]];
  readonly timeoutMs: number;
}

export interface CustomChannelConfig {
  readonly kind: 'custom';
  readonly send: NotifySend;
  readonly timeoutMs: number;
}

/** A validated channel. */
export type ChannelConfig = WebhookChannelConfig | CommandChannelConfig | CustomChannelConfig;

/** A validated rule: kinds and channels, each once, every channel known. */
export interface NotifyRule {
  readonly on: readonly NotifyKind[];
  readonly channels: readonly string[];
}

/** How a failed delivery is tried again: exponential backoff with full jitter, as task retries. */
export interface NotifyRetryPolicy {
  /** Total attempts including the first. */
  readonly attempts: number;
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  readonly factor: number;
}

/** The `notify` section, validated. */
export interface ResolvedNotify {
  readonly channels: ReadonlyMap<string, ChannelConfig>;
  readonly defaults: NotifyRule | null;
  readonly tasks: ReadonlyMap<string, NotifyRule | false>;
  readonly retry: NotifyRetryPolicy;
}

export const DEFAULT_NOTIFY_RETRY: NotifyRetryPolicy = Object.freeze({ attempts: 5, backoffMs: 10_000, maxBackoffMs: 600_000, factor: 2 });
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;
/** A paging script may look a rota up first: commands get longer than a single HTTP request. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
export const DEFAULT_CUSTOM_TIMEOUT_MS = 10_000;

/** Names show in logs, errors and the dashboard, and are written unquoted in YAML lists. */
const CHANNEL_NAME = /^[A-Za-z0-9][\w.@-]{0,63}$/;
const CHANNEL_NAME_FIX = 'use 1 to 64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit, e.g. "ops-slack"';
/** RFC 9110 token: what a header name may be. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Set by fetch itself from the body and URL; a configured one would contradict it. */
const RESERVED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'expect', 'te', 'trailer', 'proxy-connection']);
const HEADER_NAME_FIX = 'not a valid header name; use letters, digits and "-", e.g. "X-Token"';
const HEADER_RESERVED_FIX = 'a header Caretaker sets itself; remove it';
const CHANNEL_FIX = 'give one of { webhook: { url: "https://…" } }, { command: ["/path/to/program", "arg"] } or (in code) { send: async (event, signal) => {} }';
const KINDS_TEXT = NOTIFY_KINDS.join(', ');

/** A per-attempt timeout: long enough to mean something, short enough that a stuck channel is retried. */
const timeoutField = durationField.pipe(z.number().min(1, { message: 'must be more than 0' }).max(600_000, { message: 'must be at most 10m' }));

const webhookSchema = z.strictObject({
  webhook: z.strictObject({
    url: z.string({ message: 'give the URL to POST to, e.g. "https://hooks.slack.com/services/…"' }).superRefine((url, ctx) => {
      const problem = urlProblem(url);
      if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
    }),
    format: z.enum(['json', 'slack']).optional(),
    headers: z
      .record(z.string(), z.string({ message: 'must be a string (quote it)' }), { message: 'give header names and values, e.g. { Authorization: "Bearer ${TOKEN}" }' })
      .superRefine(
        (headers, ctx) => {
          // Runs even when a value has the wrong type (every problem at once): values may be anything here.
          for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
            if (!HEADER_NAME.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: HEADER_NAME_FIX });
            else if (RESERVED_HEADERS.has(name.toLowerCase())) ctx.addIssue({ code: 'custom', path: [name], message: HEADER_RESERVED_FIX });
            else if (typeof value === 'string' && /[\r\n\0]/.test(value)) ctx.addIssue({ code: 'custom', path: [name], message: 'a header value may not hold line breaks or NUL' });
            // HTTP carries header values as Latin-1: anything beyond would fail every send.
            else if (typeof value === 'string' && /[^\t\x20-\x7e\x80-\xff]/.test(value)) ctx.addIssue({ code: 'custom', path: [name], message: 'a header value may hold only printable ASCII (or Latin-1) characters; encode anything else' });
          }
        },
        { when: (payload) => isRecord(payload.value) },
      )
      .optional(),
    timeout: timeoutField.optional(),
  }),
});

const ARGV_FIX = 'give the program and its arguments as a list of strings, e.g. ["/usr/local/bin/page", "--team", "ops"] (run without a shell)';
const commandSchema = z.strictObject({
  command: z.array(z.string({ message: ARGV_FIX }), { message: ARGV_FIX }).min(1, { message: ARGV_FIX }).refine((argv) => argv[0] !== '', { message: 'the program (first entry) may not be empty' }),
  timeout: timeoutField.optional(),
});

const customSchema = z.strictObject({
  send: z.custom<NotifySend>((v) => typeof v === 'function', { message: 'expected a function (event, signal) => Promise<void>' }),
  timeout: timeoutField.optional(),
});

const RULE_ON_FIX = `list at least one of ${KINDS_TEXT}, or write false for no alerts`;
const ruleSchema = z.strictObject({
  on: z.array(z.enum(NOTIFY_KINDS), { message: RULE_ON_FIX }).min(1, { message: RULE_ON_FIX }),
  channels: z.array(z.string(), { message: 'list channel names, e.g. [ops-slack]' }).min(1, { message: 'list at least one channel, or write false for no alerts' }),
});

const retrySchema = z.strictObject({
  attempts: z.number().int().min(1).max(100).optional(),
  backoff: durationField.optional(),
  maxBackoff: durationField.optional(),
  factor: z.number().min(1).max(10).optional(),
});

/** The section's outline; channels and rules are checked one by one (see {@link checkNotify}). */
const sectionSchema = z.strictObject({
  channels: z.record(z.string(), z.unknown(), { message: 'give channels by name, e.g. { ops-slack: { webhook: { url: "https://…" } } }' }),
  defaults: z.unknown().optional(),
  tasks: z.record(z.string(), z.unknown(), { message: 'give rules by task name, e.g. { db-backup: { on: [failed], channels: [pager] } }' }).optional(),
  retry: retrySchema.optional(),
});

/** What is wrong with a webhook URL, or null. */
function urlProblem(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'not a URL; give an absolute http:// or https:// URL';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return `use an http:// or https:// URL (not ${parsed.protocol})`;
  if (parsed.username !== '' || parsed.password !== '') return 'put credentials in headers (e.g. Authorization), not in the URL';
  return null;
}

/**
 * A webhook URL as errors and logs show it: its origin, and `/…` for the rest, since the path of
 * a Slack or Teams webhook URL is its secret and errors reach logs and CI output. Null when it is
 * not a URL.
 *
 * @example
 * shownUrl('https://hooks.slack.com/services/T0/B0/XXXX'); // 'https://hooks.slack.com/…'
 */
export function shownUrl(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.host === '') return `${url.protocol}…`;
  return `${url.protocol}//${url.host}${url.pathname === '/' && url.search === '' && url.hash === '' ? '' : '/…'}`;
}

/** A received value that may be a webhook URL, as an error shows it (see {@link shownUrl}). */
function describeUrl(value: unknown): string {
  if (typeof value !== 'string') return describeValue(value);
  const shown = shownUrl(value);
  return shown !== null ? JSON.stringify(shown) : `a string of ${value.length} characters (not shown: it may hold secrets)`;
}

/** Header values are tokens more often than not: an error shows their kind and size only. */
function describeHeader(value: unknown): string {
  if (typeof value === 'string') return `a value of ${value.length} character${value.length === 1 ? '' : 's'} (not shown)`;
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? 'an object (not shown: it may hold secrets)' : describeValue(value);
}

/** The zod problems of `value` against `schema`, at `path`, with webhook secrets kept out of them. */
function issuesOf(error: z.ZodError, value: unknown, schema: z.ZodType, path: readonly string[]): OptionIssue[] {
  const webhook = (value as { webhook?: unknown }).webhook;
  return toOptionIssues(error, value, schema, path).map((issue) => {
    const rest = issue.path.slice(path.join('.').length);
    if (!rest.startsWith('.webhook.') || !isRecord(webhook)) return issue;
    const [key = '', header] = rest.slice('.webhook.'.length).split(/\.(.*)/s);
    if (key === 'format' || key === 'timeout') return issue;
    // A problem with a header's name shows the name; one with its value, only the value's size.
    if (key === 'headers' && header !== undefined && (issue.fix === HEADER_NAME_FIX || issue.fix === HEADER_RESERVED_FIX)) return { ...issue, received: describeValue(header) };
    if (key === 'headers') return { ...issue, received: describeHeader(header === undefined ? webhook.headers : isRecord(webhook.headers) ? webhook.headers[header] : undefined) };
    // The URL, and whatever a misspelt key holds (`uri: https://hooks.slack.com/services/…`).
    return { ...issue, received: describeUrl(webhook[key]) };
  });
}

function checkChannel(value: unknown, path: readonly string[], issues: OptionIssue[]): ChannelConfig | null {
  const where = path.join('.');
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    issues.push({ path: where, received: describeValue(value), fix: CHANNEL_FIX });
    return null;
  }
  const kinds = ['webhook', 'command', 'send'].filter((k) => k in value);
  if (kinds.length !== 1) {
    issues.push({ path: where, received: describeValue(value), fix: kinds.length === 0 ? CHANNEL_FIX : `give only one of ${kinds.join(', ')}: a channel delivers one way` });
    return null;
  }
  if (kinds[0] === 'webhook') {
    const parsed = webhookSchema.safeParse(value);
    if (!parsed.success) {
      issues.push(...issuesOf(parsed.error, value, webhookSchema, path));
      return null;
    }
    const { url, format, headers, timeout } = parsed.data.webhook;
    return { kind: 'webhook', url, format: format ?? 'json', headers: Object.freeze({ ...headers }), timeoutMs: timeout ?? DEFAULT_WEBHOOK_TIMEOUT_MS };
  }
  if (kinds[0] === 'command') {
    const parsed = commandSchema.safeParse(value);
    if (!parsed.success) {
      issues.push(...issuesOf(parsed.error, value, commandSchema, path));
      return null;
    }
    return { kind: 'command', argv: Object.freeze([...parsed.data.command] as [string, ...string[]]), timeoutMs: parsed.data.timeout ?? DEFAULT_COMMAND_TIMEOUT_MS };
  }
  const parsed = customSchema.safeParse(value);
  if (!parsed.success) {
    issues.push(...issuesOf(parsed.error, value, customSchema, path));
    return null;
  }
  return { kind: 'custom', send: parsed.data.send, timeoutMs: parsed.data.timeout ?? DEFAULT_CUSTOM_TIMEOUT_MS };
}

/** A rule checked against its schema and the known channel names; each kind and channel once. */
function checkRule(value: unknown, path: readonly string[], known: readonly string[], issues: OptionIssue[]): NotifyRule | null {
  const parsed = ruleSchema.safeParse(value);
  // Channel names are checked even when `on` is wrong: every problem of the rule at once.
  const channels = parsed.success ? parsed.data.channels : Array.isArray((value as { channels?: unknown } | null)?.channels) ? ((value as { channels: unknown[] }).channels) : [];
  let ok = parsed.success;
  if (!parsed.success) issues.push(...toOptionIssues(parsed.error, value, ruleSchema, path));
  channels.forEach((name, i) => {
    if (typeof name !== 'string' || known.includes(name)) return;
    ok = false;
    const guess = closestMatch(name, known);
    const list = known.length > 0 ? `channels: ${known.join(', ')}` : 'no channels are defined under notify.channels';
    issues.push({ path: [...path, 'channels', String(i)].join('.'), received: describeValue(name), fix: `no channel named ${JSON.stringify(name)}; ${guess !== undefined ? `did you mean "${guess}"? (${list})` : `use one of the channels defined (${list})`}` });
  });
  if (!ok || !parsed.success) return null;
  return Object.freeze({ on: Object.freeze([...new Set(parsed.data.on)]), channels: Object.freeze([...new Set(parsed.data.channels)]) });
}

/**
 * Checks a `notify` section (`input`: the section's value), adding one issue per problem to
 * `issues`, each at its path under `prefix` (`notify.channels.pager.command`), and returns the
 * resolved section when there was none. For a config loader that reports every problem of a file
 * at once; {@link resolveNotify} throws instead. Durations follow the caller's `requiringUnits` scope.
 */
export function checkNotify(input: unknown, issues: OptionIssue[], prefix = 'notify'): ResolvedNotify | null {
  const root = prefix === '' ? [] : prefix.split('.');
  const before = issues.length;
  const parsed = sectionSchema.safeParse(input);
  if (!parsed.success) issues.push(...toOptionIssues(parsed.error, input, sectionSchema, root));
  const section = (parsed.success ? parsed.data : typeof input === 'object' && input !== null ? input : {}) as { channels?: unknown; defaults?: unknown; tasks?: unknown };
  const rawChannels = isRecord(section.channels) ? section.channels : {};

  const channels = new Map<string, ChannelConfig>();
  for (const [name, value] of Object.entries(rawChannels)) {
    if (!CHANNEL_NAME.test(name)) {
      issues.push({ path: [...root, 'channels', name === '' ? '""' : name].join('.'), received: describeValue(name), fix: CHANNEL_NAME_FIX });
      continue;
    }
    const channel = checkChannel(value, [...root, 'channels', name], issues);
    if (channel !== null) channels.set(name, channel);
  }
  // Rules may name a channel that has problems of its own: that is one problem, not two.
  const known = Object.keys(rawChannels);

  const defaults = section.defaults === undefined ? null : checkRule(section.defaults, [...root, 'defaults'], known, issues);
  const tasks = new Map<string, NotifyRule | false>();
  for (const [task, value] of Object.entries(isRecord(section.tasks) ? section.tasks : {})) {
    const path = [...root, 'tasks', task === '' ? '""' : task];
    if (!TASK_NAME.test(task)) issues.push({ path: path.join('.'), received: describeValue(task), fix: 'not a task name; task names use lowercase letters, digits, ".", "_" and "-"' });
    if (value === false) tasks.set(task, false);
    else {
      const rule = checkRule(value, path, known, issues);
      if (rule !== null) tasks.set(task, rule);
    }
  }
  if (issues.length > before || !parsed.success) return null;
  const retry = parsed.data.retry ?? {};
  return {
    channels,
    defaults,
    tasks,
    retry: Object.freeze({
      attempts: retry.attempts ?? DEFAULT_NOTIFY_RETRY.attempts,
      backoffMs: retry.backoff ?? DEFAULT_NOTIFY_RETRY.backoffMs,
      maxBackoffMs: retry.maxBackoff ?? DEFAULT_NOTIFY_RETRY.maxBackoffMs,
      factor: retry.factor ?? DEFAULT_NOTIFY_RETRY.factor,
    }),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Validates a `notify` section or option. Throws {@link InvalidOptionError} (code
 * `ERR_INVALID_OPTION`) with one issue per problem, each naming its path and the fix.
 *
 * @example
 * const notify = resolveNotify({
 *   channels: { pager: { command: ['/usr/local/bin/page', '--team', 'ops'], timeout: '30s' } },
 *   tasks: { 'db-backup': { on: ['failed', 'stale'], channels: ['pager'] } },
 * });
 * channelsFor(notify, 'db-backup', 'failed'); // ['pager']
 */
export function resolveNotify(input: unknown, prefix = 'notify'): ResolvedNotify {
  const issues: OptionIssue[] = [];
  const resolved = checkNotify(input, issues, prefix);
  if (resolved === null) throw new InvalidOptionError(`option "${prefix}"`, issues);
  return resolved;
}

/**
 * The channels an event of `kind` for `task` goes to: the task's own rule when `tasks` has one
 * (it replaces `defaults` whole; `false` means none), else `defaults`, else none.
 *
 * @example
 * channelsFor(notify, 'noisy-task', 'failed'); // [] (tasks: { noisy-task: false })
 */
export function channelsFor(resolved: ResolvedNotify, task: string, kind: NotifyKind): string[] {
  const rule = resolved.tasks.has(task) ? resolved.tasks.get(task) : resolved.defaults;
  if (rule === undefined || rule === null || rule === false || !rule.on.includes(kind)) return [];
  return [...rule.channels];
}

/**
 * The wait before delivery attempt `attempt + 1`, after attempt `attempt` (1-based) failed, or
 * null when `attempt` was the last. Exponential backoff with full jitter, exactly as task retries
 * ({@link retryDelay}): alerts that failed together (a Slack outage) do not return in lockstep.
 *
 * @example
 * notifyRetryDelay(DEFAULT_NOTIFY_RETRY, 1, Math.random); // in [0, 10s)
 * notifyRetryDelay(DEFAULT_NOTIFY_RETRY, 5, Math.random); // null: 5 attempts made
 */
export function notifyRetryDelay(policy: NotifyRetryPolicy, attempt: number, random: () => number): number | null {
  if (attempt >= policy.attempts) return null;
  return retryDelay({ ...policy, retryOn: null }, attempt, random);
}
