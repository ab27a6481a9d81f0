import { z } from 'zod';
import type { TaskHandler } from '../engine/task.ts';
import { type CheckOptions, type CheckResult, checkRunner, checkShape, type ProbeOutcome } from './health.ts';
import { parseOptions } from './options.ts';

/** Options of {@link httpCheck}. */
export interface HttpCheckOptions extends CheckOptions {
  /** An `http://` or `https://` URL. */
  readonly url: string;
  /** @defaultValue 'GET' */
  readonly method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * The status (or any of the statuses) that counts as healthy. Redirects are followed unless
   * a 3xx status is expected. @defaultValue any 2xx
   */
  readonly expectStatus?: number | readonly number[];
  /**
   * Text the body must contain, or a pattern it must match: a `RegExp`, or `{ pattern, flags }`
   * for config files. @defaultValue the body is not read
   */
  readonly expectBody?: string | RegExp | { readonly pattern: string; readonly flags?: string };
}

/** An HTTP check's output: `status` is null when no response arrived. */
export interface HttpCheckResult extends CheckResult {
  readonly url: string;
  readonly status: number | null;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

const isHttpUrl = (value: string): boolean => {
  const url = URL.parse(value);
  return url !== null && (url.protocol === 'http:' || url.protocol === 'https:');
};

const statusField = z.number().int().min(100).max(599);

const BODY_FIX = 'expected text to find, a RegExp, or { pattern, flags } (a RegExp source and flags such as "i")';

/** Checked by hand rather than as a union, so a bad pattern is reported as such. */
const expectBodyField = z.unknown().transform((value, ctx): string | RegExp => {
  if ((typeof value === 'string' && value !== '') || value instanceof RegExp) return value;
  const spec = value as { pattern?: unknown; flags?: unknown } | null;
  const keys = typeof value === 'object' && value !== null ? Object.keys(value) : [];
  if (typeof spec?.pattern === 'string' && (spec.flags === undefined || typeof spec.flags === 'string') && keys.every((k) => k === 'pattern' || k === 'flags')) {
    try {
      return new RegExp(spec.pattern, spec.flags);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `is not a valid regular expression: ${(error as Error).message}`, path: ['pattern'] });
      return z.NEVER;
    }
  }
  ctx.addIssue({ code: 'custom', message: BODY_FIX });
  return z.NEVER;
});

const schema = z.strictObject({
  url: z.string().refine(isHttpUrl, { message: 'must be an http:// or https:// URL' }),
  method: z.enum(METHODS).optional(),
  headers: z.record(z.string(), z.string()).optional(),
  expectStatus: z.union([statusField, z.array(statusField).min(1)], { message: 'expected an HTTP status (100-599) or a non-empty list of them' }).optional(),
  expectBody: expectBodyField.optional(),
  ...checkShape,
});

/**
 * A handler that requests a URL and checks its status and body. A miss is recorded in the run's
 * output; the run fails once `failAfter` misses come in a row, and recovers with the next hit.
 *
 * @example
 * import { httpCheck } from 'caretaker/tasks';
 * scheduler.add({
 *   name: 'api-health',
 *   schedule: { every: '1m' },
 *   handler: httpCheck({ url: 'https://api.example.com/healthz', expectBody: '"ok"', timeout: '5s', failAfter: 3 }),
 * });
 */
export function httpCheck(options: HttpCheckOptions): TaskHandler {
  const o = parseOptions('httpCheck', schema, options);
  const expected = o.expectStatus === undefined ? null : new Set([o.expectStatus].flat());
  const method = o.method ?? 'GET';
  // A global or sticky RegExp remembers where it last matched; a copy without those flags does not.
  const bodyPattern = o.expectBody instanceof RegExp ? new RegExp(o.expectBody.source, o.expectBody.flags.replace(/[gy]/g, '')) : o.expectBody;
  const redirect = [...(expected ?? [])].some((s) => s >= 300 && s < 400) ? 'manual' : 'follow';
  const run = checkRunner(o);
  const probe = async (signal: AbortSignal): Promise<{ outcome: ProbeOutcome; details: number | null }> => {
    const response = await fetch(o.url, {
      method,
      signal,
      ...(o.headers === undefined ? {} : { headers: o.headers }),
      redirect,
    });
    const statusOk = expected === null ? response.ok : expected.has(response.status);
    if (!statusOk || bodyPattern === undefined) {
      // An unread body would hold the connection until it is garbage-collected.
      await response.body?.cancel();
      const outcome: ProbeOutcome = statusOk ? { ok: true } : { ok: false, error: `status ${response.status}, expected ${expected === null ? '2xx' : [...expected].join(' or ')}` };
      return { outcome, details: response.status };
    }
    const body = await response.text();
    const found = typeof bodyPattern === 'string' ? body.includes(bodyPattern) : bodyPattern.test(body);
    const outcome: ProbeOutcome = found ? { ok: true } : { ok: false, error: `body does not ${typeof bodyPattern === 'string' ? `contain ${JSON.stringify(bodyPattern)}` : `match ${String(bodyPattern)}`}` };
    return { outcome, details: response.status };
  };
  return (ctx) =>
    run(ctx, `${method} ${o.url}`, (signal) =>
      probe(signal).catch((error: unknown) => {
        // An abort (the run's, or the check's timeout) is the runner's to word.
        if (signal.aborted) throw error;
        return { outcome: { ok: false, error: fetchFailure(error, o.url) }, details: null };
      }),
    (check, status): HttpCheckResult => ({ url: o.url, status, ...check }),
    );
}

/** Causes by code, in words; the code follows in parentheses for searching. */
const CAUSES: Readonly<Record<string, (url: URL) => string>> = {
  ECONNREFUSED: (u) => `connection refused: nothing listens on ${u.host}`,
  ECONNRESET: (u) => `${u.host} closed the connection before answering`,
  UND_ERR_SOCKET: (u) => `${u.host} closed the connection before answering`,
  ENOTFOUND: (u) => `host not found: DNS has no address for ${u.hostname}`,
  EAI_AGAIN: (u) => `DNS lookup of ${u.hostname} failed for now (resolver unreachable or slow)`,
  EHOSTUNREACH: (u) => `${u.hostname} is unreachable`,
  ENETUNREACH: (u) => `no network route to ${u.hostname}`,
  ETIMEDOUT: (u) => `connecting to ${u.host} timed out`,
  UND_ERR_CONNECT_TIMEOUT: (u) => `connecting to ${u.host} timed out`,
  DEPTH_ZERO_SELF_SIGNED_CERT: () => 'TLS certificate is self-signed and not trusted (trust it with NODE_EXTRA_CA_CERTS)',
  SELF_SIGNED_CERT_IN_CHAIN: () => 'TLS certificate chain ends in a self-signed certificate that is not trusted (trust it with NODE_EXTRA_CA_CERTS)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: () => 'TLS certificate is signed by an authority that is not trusted, or its chain is incomplete',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: () => 'TLS certificate is signed by an authority that is not trusted (trust it with NODE_EXTRA_CA_CERTS)',
  CERT_HAS_EXPIRED: () => 'TLS certificate has expired',
  CERT_NOT_YET_VALID: () => 'TLS certificate is not valid yet (check the clocks)',
  ERR_TLS_CERT_ALTNAME_INVALID: (u) => `TLS certificate is not for ${u.hostname}`,
  ERR_SSL_WRONG_VERSION_NUMBER: (u) => `TLS handshake failed: ${u.host} does not speak TLS (is it an http:// URL?)`,
};

/**
 * Why a request got no response. fetch says only "fetch failed"; the reason is its `cause`
 * (a code such as ECONNREFUSED, or undici's "bad port"), which the run's output must name.
 */
function fetchFailure(error: unknown, url: string): string {
  const cause = (error as { cause?: unknown } | null)?.cause;
  const { code, message, name } = (typeof cause === 'object' && cause !== null ? cause : {}) as { code?: unknown; message?: unknown; name?: unknown };
  const target = new URL(url);
  if (message === 'bad port') {
    return `port ${target.port} is one that fetch refuses ("bad port" in the Fetch standard, reserved for other protocols); serve the check on another port, or use tcp-check`;
  }
  if (typeof code === 'string') {
    const words = CAUSES[code]?.(target);
    if (words !== undefined) return `${words} (${code})`;
    return typeof message === 'string' && message !== '' ? `${code}: ${message.split('\n')[0]}` : code;
  }
  if (name === 'HTTPParserError') return `the answer from ${target.host} is not HTTP (${String(message)})`;
  if (typeof message === 'string' && message !== '') return message;
  return error instanceof Error ? error.message : String(error);
}
