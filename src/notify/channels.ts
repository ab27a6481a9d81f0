import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProcessGroup } from '../config/process-group.ts';
import { formatDuration } from '../util/duration.ts';
import { textOf } from '../util/json.ts';
import { packageVersion } from '../util/package-version.ts';
import { type ChannelConfig, type CommandChannelConfig, type CustomChannelConfig, type ResolvedNotify, shownUrl, type WebhookChannelConfig } from './config.ts';
import { type DeliveryErrorInit, NotifyDeliveryError } from './delivery-error.ts';
import { genericBody, type NotifyEvent, slackBody } from './event.ts';

/**
 * Where alerts go. `send` resolves once the event is delivered and rejects with a
 * {@link NotifyDeliveryError} when it was not; when `signal` aborts it rejects with the signal's
 * reason. Each call is one attempt: retries are the caller's (see `notifyRetryDelay`).
 */
export interface NotifyChannel {
  readonly name: string;
  send(event: NotifyEvent, signal: AbortSignal): Promise<void>;
}

/** How much of a webhook's answer an error keeps: enough for Slack's `invalid_payload` or a JSON problem. */
const BODY_BYTES = 500;
/** How much of a command's stderr an error keeps: the end, where the reason is. */
const STDERR_BYTES = 2_048;
/** A notification command gets SIGTERM at its timeout, SIGKILL 1.5 s later (`killDelayMs`). */
const COMMAND_GRACE_MS = 2_000;
/** How long after a command exits its stderr may still arrive (see command-handler.ts). */
const DRAIN_MS = 200;

/** A per-attempt timeout joined to the caller's signal. */
function deadline(signal: AbortSignal, timeoutMs: number): { readonly timeout: AbortSignal; readonly combined: AbortSignal } {
  const timeout = AbortSignal.timeout(timeoutMs);
  return { timeout, combined: AbortSignal.any([signal, timeout]) };
}

/** 2xx is delivered; these are worth another attempt; any other answer will not change by itself. */
function retryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/**
 * A channel that POSTs each event as JSON (`format: json`, the event with `version: 1`, or
 * `slack`, an incoming-webhook message) with the configured headers. Redirects are not followed:
 * a webhook that moved answers 3xx, which fails without retry (the headers would otherwise go to
 * wherever the redirect points). Errors name the channel and the URL's origin only.
 *
 * @example
 * const slack = webhookChannel('ops-slack', { kind: 'webhook', url, format: 'slack', headers: {}, timeoutMs: 10_000 });
 * await slack.send(event, AbortSignal.timeout(60_000));
 */
export function webhookChannel(name: string, config: WebhookChannelConfig): NotifyChannel {
  const target = shownUrl(config.url) ?? 'the webhook URL';
  // A server that echoes the request (a debugging endpoint, a proxy's error page) must not put a token in our logs.
  // So must the URL's path and query, the secret of a Slack or Teams webhook URL.
  const secrets = secretsOf(config);
  const redact = (text: string) => secrets.reduce((out, secret) => out.replaceAll(secret, '[redacted]'), text);
  const longestSecret = Math.max(0, ...secrets.map((secret) => Buffer.byteLength(secret)));
  const fail = (reason: 'network' | 'timeout' | 'status', retryable: boolean, message: string, extra: { status?: number; body?: string | null; cause?: unknown; retryAfterMs?: number | null } = {}) =>
    new NotifyDeliveryError({ channel: name, reason, retryable, message: `webhook "${name}": ${message}`, ...extra });

  return {
    name,
    async send(event, signal) {
      signal.throwIfAborted();
      const { timeout, combined } = deadline(signal, config.timeoutMs);
      const headers = new Headers({ 'content-type': 'application/json', 'user-agent': `caretaker/${packageVersion()}` });
      // Set, not appended: a configured Content-Type replaces ours instead of joining it.
      for (const [key, value] of Object.entries(config.headers)) headers.set(key, value);
      const body = JSON.stringify(config.format === 'slack' ? slackBody(event) : genericBody(event));
      // What a failed request or body read throws: the caller's own abort reason, or why it failed.
      const transportError = (error: unknown): unknown => {
        if (signal.aborted) return signal.reason;
        if (timeout.aborted) return fail('timeout', true, `no answer from ${target} within ${formatDuration(config.timeoutMs)}`, { cause: error });
        return fail('network', true, `cannot reach ${target}: ${networkReason(error)}`, { cause: error });
      };
      let response: Response;
      try {
        response = await fetch(config.url, { method: 'POST', headers, body, redirect: 'manual', signal: combined });
      } catch (error) {
        throw transportError(error);
      }
      if (response.status >= 200 && response.status < 300) {
        // Not read: released, so the connection goes back to the pool.
        await response.body?.cancel().catch(() => {});
        return;
      }
      let answer: string | null;
      try {
        // Read past the limit by the longest secret: one that starts before the cut is blanked out whole.
        answer = cutBytes(redact(await firstBytes(response, BODY_BYTES + longestSecret)), BODY_BYTES);
      } catch (error) {
        if (signal.aborted || timeout.aborted) throw transportError(error);
        answer = null;
      }
      // The reason phrase is the server's text too: it may echo a token.
      const status = `${response.status}${response.statusText !== '' ? ` ${redact(response.statusText).slice(0, 100)}` : ''}`;
      if (response.status >= 300 && response.status < 400) {
        throw fail('status', false, `${target} answered ${status}, a redirect, which is not followed; configure the URL it redirects to`, { status: response.status, body: answer });
      }
      const snippet = answer === null ? '' : answer.replace(/\s+/g, ' ').trim().slice(0, 200);
      throw fail('status', retryableStatus(response.status), `${target} answered ${status}${snippet !== '' ? `: ${snippet}` : ''}`, {
        status: response.status,
        body: answer,
        retryAfterMs: response.status === 429 || response.status === 503 ? retryAfterMs(response.headers.get('retry-after'), Date.now()) : null,
      });
    },
  };
}

/**
 * What an answer may echo that must not reach a log: every header value, the URL's path and query
 * whole, and each of their pieces long enough to be a secret (a path segment, a query value, the
 * token after `Bearer `), longest first so a whole is blanked out before its parts.
 */
function secretsOf(config: WebhookChannelConfig): string[] {
  const { pathname, search, searchParams } = new URL(config.url);
  const pieces = [
    ...Object.values(config.headers),
    ...Object.values(config.headers).flatMap((value) => value.split(/\s+/)),
    ...(pathname.length > 1 ? [pathname, ...pathname.split('/')] : []),
    ...(search.length > 1 ? [search, ...[...searchParams.values()]] : []),
  ];
  // JSON-escaped forms too: an echo inside a JSON answer escapes quotes and slashes.
  const forms = pieces.flatMap((piece) => [piece, JSON.stringify(piece).slice(1, -1), piece.replaceAll('/', '\\/')]);
  return [...new Set(forms.filter((piece) => piece.length >= 6))].sort((a, b) => b.length - a.length);
}

/** A `Retry-After` answer (seconds, or an HTTP date) as a wait in ms, within an hour; null when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number): number | null {
  if (header === null || header.trim() === '') return null;
  const text = header.trim();
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text) - now;
  return Number.isFinite(ms) ? Math.min(3_600_000, Math.max(0, ms)) : null;
}

/** What fetch's "fetch failed" means: the cause's code (ECONNREFUSED, ENOTFOUND) or message. */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: unknown } | null)?.cause;
  const code = (cause as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return `${code}${textOf(cause).includes(code) ? ` (${textOf(cause)})` : ''}`;
  return cause !== undefined ? textOf(cause) : textOf(error);
}

/** The first `limit` bytes of a response body as text; the rest is not read. */
async function firstBytes(response: Response, limit: number): Promise<string> {
  const reader = response.body?.getReader();
  if (reader === undefined) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

/** The first `limit` bytes of `text` in UTF-8; a character cut at the limit (U+FFFD once decoded) is dropped. */
function cutBytes(text: string, limit: number): string {
  const bytes = Buffer.from(text, 'utf8');
  return bytes.length <= limit ? text : bytes.subarray(0, limit).toString('utf8').replace(/\uFFFD$/, '');
}

/** Keeps the last `limit` bytes written to it. */
function tail(limit: number): { push(chunk: Buffer): void; text(): string } {
  let kept = Buffer.alloc(0);
  let cut = false;
  return {
    push(chunk) {
      kept = Buffer.concat([kept, chunk]);
      if (kept.length > limit) {
        kept = kept.subarray(kept.length - limit);
        cut = true;
      }
    },
    text() {
      // A cut inside a UTF-8 character would decode to U+FFFD: start at the next whole one.
      let start = 0;
      if (cut) while (start < 3 && ((kept[start] ?? 0) & 0xc0) === 0x80) start++;
      return kept.subarray(start).toString('utf8');
    },
  };
}

/**
 * A channel that runs a program (argv, no shell) with the event as JSON on stdin (the `json`
 * webhook body), then closed. Exit 0 is delivered; a non-zero exit or a signal fails, retryable,
 * with the end of its stderr. The program leads a process group of its own: at the timeout or an
 * abort it and everything it started get SIGTERM, then SIGKILL, and nothing of it outlives the
 * attempt (as for command tasks, see `ProcessGroup`). Errors name the program, not its
 * arguments, which may hold secrets.
 *
 * @example
 * const pager = commandChannel('pager', { kind: 'command', argv: ['/usr/local/bin/page', '--team', 'ops'], timeoutMs: 30_000 });
 */
export function commandChannel(name: string, config: CommandChannelConfig): NotifyChannel {
  const [program, ...args] = config.argv;
  return {
    name,
    send(event, signal) {
      return new Promise<void>((resolve, reject) => {
        // An 'abort' listener added now would never fire: do not start a program nothing can stop.
        if (signal.aborted) {
          reject(signal.reason);
          return;
        }
        const { timeout, combined } = deadline(signal, config.timeoutMs);
        // `detached` makes it a group (and session) leader, so its whole tree can be ended; it is not unref'd.
        const child = spawn(program, args, { stdio: ['pipe', 'ignore', 'pipe'], detached: true });
        const group = child.pid !== undefined ? new ProcessGroup(child.pid, COMMAND_GRACE_MS) : null;
        const stderr = tail(STDERR_BYTES);
        child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
        // A program that does not read its stdin (or exits first) closes the pipe: EPIPE is no failure of ours.
        child.stdin.on('error', () => {});
        child.stdin.end(JSON.stringify(genericBody(event)));
        const closed = new Promise<void>((done) => child.once('close', () => done()));
        const onAbort = () => group?.terminate();
        combined.addEventListener('abort', onAbort, { once: true });
        const fail = (init: Omit<DeliveryErrorInit, 'channel'>) => reject(new NotifyDeliveryError({ channel: name, ...init }));
        child.once('error', (error: NodeJS.ErrnoException) => {
          combined.removeEventListener('abort', onAbort);
          void group?.end();
          // A program that is not there or not executable stays so until someone fixes the config.
          const permanent = error.code === 'ENOENT' || error.code === 'EACCES';
          fail({ reason: 'spawn', retryable: !permanent, message: `command "${name}": cannot run ${program}: ${error.message}`, cause: error });
        });
        // Not 'close': a background process holding stderr would delay it for as long as it runs.
        child.once('exit', (exitCode, exitSignal) => {
          // The outcome is the program's as it exited: a timeout while its leftovers are reaped changes nothing.
          const callerAborted = signal.aborted;
          const timedOut = timeout.aborted;
          void (async () => {
            await group?.end();
            await Promise.race([closed, sleep(DRAIN_MS, undefined, { ref: false })]);
            child.stderr.destroy();
            combined.removeEventListener('abort', onAbort);
            const err = stderr.text();
            if (callerAborted) reject(signal.reason);
            else if (timedOut) fail({ reason: 'timeout', retryable: true, message: `command "${name}": ${program} did not finish within ${formatDuration(config.timeoutMs)}`, exitCode, signal: exitSignal, stderr: err });
            else if (exitCode === 0) resolve();
            else {
              // The last line says why, as a rule; the whole tail is on the error.
              const last = (err.trim().split('\n').at(-1) ?? '').slice(0, 300);
              const how = exitSignal !== null ? `was killed by ${exitSignal}` : `exited with ${exitCode}`;
              fail({ reason: 'exit', retryable: true, message: `command "${name}": ${program} ${how}${last !== '' ? `: ${last}` : ''}`, exitCode, signal: exitSignal, stderr: err });
            }
          })();
        });
      });
    },
  };
}

/**
 * A channel around a library user's own `send`. It gets the event and a signal that aborts at the
 * caller's abort or the channel's timeout; a `send` that ignores the signal is not waited for
 * past it. A throw (or rejection) is a retryable failure, unless it is a {@link NotifyDeliveryError}
 * that says otherwise.
 *
 * @example
 * const log = customChannel('log', { kind: 'custom', send: async (event) => console.log(event.message), timeoutMs: 10_000 });
 */
export function customChannel(name: string, config: CustomChannelConfig): NotifyChannel {
  return {
    name,
    async send(event, signal) {
      signal.throwIfAborted();
      const { timeout, combined } = deadline(signal, config.timeoutMs);
      try {
        await untilAborted(async () => config.send(event, combined), combined);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (timeout.aborted) throw new NotifyDeliveryError({ channel: name, reason: 'timeout', retryable: true, message: `channel "${name}": send did not settle within ${formatDuration(config.timeoutMs)}`, cause: error });
        // A send may say itself that trying again is pointless (its own NotifyDeliveryError).
        const own = error instanceof NotifyDeliveryError ? error : null;
        const retryable = own === null || own.retryable;
        throw new NotifyDeliveryError({ channel: name, reason: 'threw', retryable, retryAfterMs: own?.retryAfterMs ?? null, message: `channel "${name}": ${textOf(error)}`, cause: error });
      }
    },
  };
}

/** Runs `work`, settling at once when `signal` aborts (rejecting with its reason) whether or not `work` has. */
function untilAborted(work: () => Promise<unknown>, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work().then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** The channel of a validated config. */
export function buildChannel(name: string, config: ChannelConfig): NotifyChannel {
  switch (config.kind) {
    case 'webhook':
      return webhookChannel(name, config);
    case 'command':
      return commandChannel(name, config);
    case 'custom':
      return customChannel(name, config);
  }
}

/**
 * Every channel of a resolved `notify` section, by name.
 *
 * @example
 * const channels = buildChannels(resolveNotify(config.notify));
 * for (const name of channelsFor(notify, event.task, event.kind)) await channels.get(name)?.send(event, signal);
 */
export function buildChannels(resolved: ResolvedNotify): Map<string, NotifyChannel> {
  return new Map([...resolved.channels].map(([name, config]) => [name, buildChannel(name, config)]));
}
