import { formatDuration } from '../util/duration.ts';

/** What an alert can be about, in the order the config lists them. */
export const NOTIFY_KINDS = ['failed', 'recovered', 'stale', 'missed'] as const;
export type NotifyKind = (typeof NOTIFY_KINDS)[number];

/** The run an event is about, as far as a receiver needs it. */
export interface NotifyRun {
  readonly id: string;
  readonly status: string;
  readonly scheduledFor: string;
  readonly attempt: number;
  readonly durationMs: number | null;
  readonly error: string | null;
}

/**
 * One alert, as every channel receives it.
 *
 * @example
 * const event: NotifyEvent = {
 *   id: 'failed:01J…', kind: 'failed', task: 'db-backup', at: '2026-01-01T02:00:31.000Z',
 *   message: 'db-backup failed after 3 attempts: connection refused',
 *   run: { id: '01J…', status: 'failed', scheduledFor: '2026-01-01T02:00:00.000Z', attempt: 3, durationMs: 1250, error: 'connection refused' },
 * };
 */
export interface NotifyEvent {
  /** Stable key, e.g. `failed:<runId>`: the same on every replica, so a delivery is claimed once. */
  readonly id: string;
  readonly kind: NotifyKind;
  readonly task: string;
  /** ISO-8601: when the event happened. */
  readonly at: string;
  /** One human line, e.g. `db-backup failed after 3 attempts: connection refused`. */
  readonly message: string;
  /** The run it is about; null for events without one (`stale`, `missed`). */
  readonly run: NotifyRun | null;
  readonly dashboardUrl?: string | null;
}

/** The `json` webhook body and a command's stdin. */
export interface GenericBody {
  /** Raised when a field changes meaning or goes away; new fields may appear without it. */
  readonly version: 1;
  readonly id: string;
  readonly kind: NotifyKind;
  readonly task: string;
  readonly at: string;
  readonly message: string;
  readonly run: NotifyRun | null;
  readonly dashboardUrl: string | null;
}

/**
 * Longest message and run error a generic body carries: a run's error is already clipped to this
 * when it is recorded, and a receiver should not get an unbounded body from a bigger one.
 */
const GENERIC_TEXT_MAX = 4_096;

/**
 * The event as the `json` format and command channels send it: every field, plus `version: 1`.
 *
 * @example
 * JSON.stringify(genericBody(event)); // {"version":1,"id":"failed:01J…","kind":"failed",…}
 */
export function genericBody(event: NotifyEvent): GenericBody {
  const run = event.run;
  return {
    version: 1,
    id: event.id,
    kind: event.kind,
    task: event.task,
    at: event.at,
    message: clip(event.message, GENERIC_TEXT_MAX),
    run: run === null ? null : { id: run.id, status: run.status, scheduledFor: run.scheduledFor, attempt: run.attempt, durationMs: run.durationMs, error: run.error === null ? null : clip(run.error, GENERIC_TEXT_MAX) },
    dashboardUrl: event.dashboardUrl ?? null,
  };
}

/** A Slack text object in `mrkdwn`. */
export interface SlackText {
  readonly type: 'mrkdwn';
  readonly text: string;
}

/** The blocks `slackBody` produces. */
export type SlackBlock = { readonly type: 'section'; readonly text: SlackText } | { readonly type: 'context'; readonly elements: readonly SlackText[] };

/** A Slack incoming-webhook payload. */
export interface SlackBody {
  /** The fallback: notifications and clients that show no blocks. */
  readonly text: string;
  readonly blocks: readonly SlackBlock[];
}

/** Slack refuses a text object over 3000 characters; `text` is kept to the same so the fallback is whole too. */
export const SLACK_TEXT_MAX = 3_000;
/** Task names are short by rule; one that is not still leaves the message room. */
const SLACK_TASK_MAX = 200;
const SLACK_ERROR_MAX = 1_500;

const EMOJI: Readonly<Record<NotifyKind, string>> = { failed: ':red_circle:', recovered: ':large_green_circle:', stale: ':hourglass:', missed: ':warning:' };
const TITLE: Readonly<Record<NotifyKind, string>> = { failed: 'failed', recovered: 'recovered', stale: 'is stale', missed: 'missed a run' };

/**
 * The event as a Slack incoming webhook takes it: a fallback `text`, a section with the task and
 * the message (and the run's error when the message does not already say it), and a context line
 * with the run, its attempt, duration and time, and a dashboard link when there is one. Every
 * text is escaped as Slack requires (`&`, `<`, `>`) and at most 3000 characters: a long error is
 * cut with `…`.
 *
 * @example
 * await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(slackBody(event)) });
 */
export function slackBody(event: NotifyEvent): SlackBody {
  const emoji = EMOJI[event.kind] ?? ':bell:';
  const title = `${emoji} *${slackText(event.task, SLACK_TASK_MAX)}* ${TITLE[event.kind] ?? slackText(String(event.kind), 40)}`;
  const error = event.run?.error ?? null;
  // Quoted on a line of its own, unless the message already says it.
  const showError = error !== null && error !== '' && !event.message.includes(error);
  const errorText = showError ? `\n>${slackText(error.replaceAll('\n', ' '), SLACK_ERROR_MAX)}` : '';
  // The message gets what is left: it is cut before the error, which says what went wrong.
  const room = SLACK_TEXT_MAX - title.length - 1 - errorText.length;
  const section = `${title}\n${slackText(event.message, room)}${errorText}`;
  const blocks: SlackBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text: section } }];
  const context = contextLine(event);
  if (context !== '') blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: context }] });
  // The fallback is what notifications show: the message, which names the task as a rule.
  const fallback = event.message.includes(event.task) ? event.message : `${event.task}: ${event.message}`;
  return { text: slackText(fallback, SLACK_TEXT_MAX), blocks };
}

/** `run 01J… · attempt 3 · 1.2s · 2026-01-01T02:00:31.000Z · <url|dashboard>`, each part only when known. */
function contextLine(event: NotifyEvent): string {
  const parts: string[] = [];
  const run = event.run;
  if (run !== null) {
    parts.push(`run ${slackText(run.id, 100)}`);
    if (run.attempt > 1) parts.push(`attempt ${run.attempt}`);
    if (run.durationMs !== null && Number.isFinite(run.durationMs)) parts.push(formatDuration(run.durationMs));
  }
  parts.push(slackText(event.at, 100));
  const link = slackLink(event.dashboardUrl ?? null);
  if (link !== null) parts.push(link);
  return clipEscaped(parts.join(' · '), SLACK_TEXT_MAX);
}

/** A mrkdwn link, or null for anything but an http(s) URL without spaces, short enough to keep whole (a cut link is a broken one). */
function slackLink(url: string | null): string | null {
  if (url === null || !/^https?:\/\/\S+$/i.test(url) || url.length > 1_000) return null;
  // `|` ends the URL part of a link and `<`/`>` the link itself: percent-encoded, the URL is the same.
  const safe = url.replaceAll('|', '%7C').replaceAll('<', '%3C').replaceAll('>', '%3E').replaceAll('&', '&amp;');
  return `<${safe}|open in dashboard>`;
}

/** Escapes what Slack requires in any text: `&`, `<` and `>` (these three only). */
export function escapeSlack(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** `text` escaped for Slack in at most `max` characters, cut with `…` when longer. */
function slackText(text: string, max: number): string {
  return clipEscaped(escapeSlack(text), max);
}

/**
 * Cuts escaped text to `max` characters with a `…`, never inside an entity (`&am`) nor between
 * the halves of a surrogate pair (Slack would show garbage for either).
 */
function clipEscaped(escaped: string, max: number): string {
  if (escaped.length <= max) return escaped;
  if (max <= 0) return '';
  let cut = escaped.slice(0, max - 1);
  cut = cut.replace(/&[a-z]{0,3}$/, '');
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** Cuts plain text to `max` characters with a `…`, not between the halves of a surrogate pair. */
function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, max - 1);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}
