/**
 * Why a delivery failed: `network` (no answer: refused, reset, DNS), `timeout` (the channel's own
 * timeout), `status` (the webhook answered non-2xx), `exit` (the command exited non-zero or was
 * killed), `spawn` (the command could not be started), `threw` (a custom channel's `send` threw).
 */
export type DeliveryFailure = 'network' | 'timeout' | 'status' | 'exit' | 'spawn' | 'threw';

/** What a {@link NotifyDeliveryError} is made from. */
export interface DeliveryErrorInit {
  readonly channel: string;
  readonly reason: DeliveryFailure;
  readonly retryable: boolean;
  readonly message: string;
  readonly status?: number | null;
  readonly body?: string | null;
  readonly exitCode?: number | null;
  readonly signal?: string | null;
  readonly stderr?: string | null;
  /** How long the receiver asked to be left alone (`Retry-After` on 429 or 503). */
  readonly retryAfterMs?: number | null;
  readonly cause?: unknown;
}

/**
 * One failed delivery of an alert to a channel. `retryable` says whether trying again may help
 * (network errors, timeouts, HTTP 408, 425, 429 and 5xx, a failed command) or not (any other
 * answer: a wrong URL or a refused token stays wrong). The message names the channel and never
 * a header value or a webhook URL's path, which hold secrets.
 *
 * @example
 * try { await channel.send(event, signal); }
 * catch (error) { if (error instanceof NotifyDeliveryError && !error.retryable) giveUp(error); }
 */
export class NotifyDeliveryError extends Error {
  readonly channel: string;
  readonly reason: DeliveryFailure;
  readonly retryable: boolean;
  /** The webhook's HTTP status; null for other failures. */
  readonly status: number | null;
  /** The first 500 bytes of the webhook's answer (configured header values blanked out); null for other failures. */
  readonly body: string | null;
  /** The command's exit code, or null when it was killed or never ran. */
  readonly exitCode: number | null;
  /** The signal that ended the command, e.g. `SIGKILL`. */
  readonly signal: string | null;
  /** The last 2 KB the command wrote on stderr. */
  readonly stderr: string | null;
  /** How long the receiver asked to be left alone (`Retry-After` on 429 or 503); null when it did not say. */
  readonly retryAfterMs: number | null;

  constructor(init: DeliveryErrorInit) {
    super(init.message, init.cause !== undefined ? { cause: init.cause } : undefined);
    this.name = 'NotifyDeliveryError';
    this.channel = init.channel;
    this.reason = init.reason;
    this.retryable = init.retryable;
    this.status = init.status ?? null;
    this.body = init.body ?? null;
    this.exitCode = init.exitCode ?? null;
    this.signal = init.signal ?? null;
    this.stderr = init.stderr ?? null;
    this.retryAfterMs = init.retryAfterMs ?? null;
  }
}

/**
 * Whether a failed delivery is worth another attempt: a {@link NotifyDeliveryError} says so
 * itself; anything else thrown (a bug, an abort) is given the benefit of the doubt.
 */
export function isRetryable(error: unknown): boolean {
  return error instanceof NotifyDeliveryError ? error.retryable : true;
}
