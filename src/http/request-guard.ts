import { isIP } from 'node:net';
import type { Context, MiddlewareHandler } from 'hono';
import { ORIGIN } from '../config/schema.ts';
import { describeValue } from '../util/errors.ts';
import { HttpError, HttpErrorCode } from './errors.ts';

/** Names and origins {@link requestGuard} accepts besides its defaults. */
export interface RequestGuardOptions {
  readonly allowedHosts?: readonly string[] | undefined;
  readonly allowedOrigins?: readonly string[] | undefined;
}

/** A Host header: a name (1) or a bracketed IPv6 address (2), and an optional port. Browsers punycode international names. */
const HOST_HEADER = /^(?:([a-z0-9_.-]+)|\[([0-9a-f:.]+)\])(?::\d{0,5})?$/i;
const DEFAULT_PORTS: Readonly<Record<string, string>> = { http: '80', https: '443' };
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const withoutDot = (name: string) => name.toLowerCase().replace(/\.$/, '');

/** The name a Host header carries, lower case, without port or trailing dot; null when malformed. */
function hostName(host: string): string | null {
  const match = HOST_HEADER.exec(host);
  if (match === null) return null;
  if (match[2] !== undefined) return isIP(match[2]) === 6 ? match[2].toLowerCase() : null;
  return withoutDot(match[1] as string);
}

/** `scheme://host[:port]` in lower case without the scheme's default port, so equal origins compare equal; null when malformed. */
function normalOrigin(text: string): string | null {
  const match = ORIGIN.exec(text);
  if (match === null) return null;
  const scheme = (match[1] as string).toLowerCase();
  const port = match[3] === undefined || DEFAULT_PORTS[scheme] === String(Number(match[3])) ? '' : `:${Number(match[3])}`;
  return `${scheme}://${(match[2] as string).toLowerCase()}${port}`;
}

/**
 * The Host header, or where the request URL points when there is none (HTTP/2's `:authority`,
 * a Request built in code); undefined for an HTTP/1.1 request that came without one.
 */
function authorityOf(c: Context): string | undefined {
  const header = c.req.header('host');
  if (header !== undefined) return header;
  // @hono/node-server makes up a URL host when Host is missing; the raw request tells.
  const incoming = (c.env as { incoming?: { httpVersion?: string } } | undefined)?.incoming;
  if (incoming?.httpVersion === '1.1') return undefined;
  return new URL(c.req.url).host;
}

/**
 * Refuses (403) what a web page the user visits could send: any request whose Host is not a
 * loopback name, an IP literal or an allowed host (a DNS-rebinding page always carries its own
 * domain name, and an IP literal cannot be rebound), and any mutation from a foreign origin
 * (`Origin` neither this server's nor allowed, or `Sec-Fetch-Site: cross-site` without one).
 * Requests without `Origin` (curl, the CLI, other servers) are not cross-site requests.
 */
export function requestGuard(options: RequestGuardOptions): MiddlewareHandler {
  const hosts = (options.allowedHosts ?? []).map(withoutDot);
  const origins = new Set((options.allowedOrigins ?? []).map(normalOrigin).filter((o) => o !== null));
  const hostAllowed = (name: string) =>
    name === 'localhost' || name.endsWith('.localhost') || isIP(name) !== 0 || hosts.some((h) => (h.startsWith('.') ? name === h.slice(1) || name.endsWith(h) : name === h));

  return async (c, next) => {
    const authority = authorityOf(c);
    if (authority === undefined) {
      throw new HttpError(403, HttpErrorCode.HostNotAllowed, 'the request has no Host header; HTTP/1.1 requires one (send Host: <the address you connect to>)');
    }
    const name = hostName(authority);
    if (name === null) throw new HttpError(403, HttpErrorCode.HostNotAllowed, `Host ${describeValue(authority)} is not a host name; send Host: <name or IP address>[:port]`);
    if (!hostAllowed(name)) {
      throw new HttpError(
        403,
        HttpErrorCode.HostNotAllowed,
        `Host ${describeValue(authority)} is not allowed (protection against DNS rebinding): if this server is reached by that name, add ${describeValue(name)} to http.allowedHosts (allowedHosts of createAdminApi); loopback names and IP addresses are always allowed`,
      );
    }
    if (!SAFE_METHODS.has(c.req.method)) {
      const origin = c.req.header('origin');
      if (origin === undefined) {
        if (c.req.header('sec-fetch-site')?.toLowerCase() === 'cross-site') {
          throw new HttpError(403, HttpErrorCode.OriginNotAllowed, 'a cross-site request (Sec-Fetch-Site: cross-site) may not change anything here: send it from the dashboard\'s own origin, or from an origin listed in http.allowedOrigins');
        }
      } else {
        const normal = normalOrigin(origin);
        const own = normal !== null && (normal === normalOrigin(`http://${authority}`) || normal === normalOrigin(`https://${authority}`));
        if (normal === null || (!own && !origins.has(normal))) {
          const fix =
            normal === null
              ? 'send it from the dashboard\'s own origin, from one listed in http.allowedOrigins, or without Origin (as curl and the CLI do)'
              : `if that site should operate this API, add ${describeValue(normal)} to http.allowedOrigins (allowedOrigins of createAdminApi)`;
          throw new HttpError(403, HttpErrorCode.OriginNotAllowed, `Origin ${describeValue(origin)} may not change anything here (protection against cross-site requests): ${fix}`);
        }
      }
    }
    await next();
  };
}
