import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { singleTokenClashes } from '../config/schema.ts';
import { InvalidOptionError } from '../util/errors.ts';
import { HttpError, HttpErrorCode } from './errors.ts';

/**
 * What a token may do: `read` sees (what anyone may without a token: reads are open), `operate`
 * also triggers, pauses, resumes, cancels and retries, `admin` also edits (routes that change a
 * task's definition).
 */
export type ApiRole = 'read' | 'operate' | 'admin';

/** A named API token (`http.tokens` in the config). */
export interface ApiToken {
  /** Who holds it, as mutations report it (e.g. `ci`, `oncall`). */
  readonly name: string;
  readonly token: string;
  readonly role: ApiRole;
}

/** The roles in order of what they allow. */
export const API_ROLES: readonly ApiRole[] = ['read', 'operate', 'admin'];

/** The single `token` option: an admin token named `admin`. */
export const SINGLE_TOKEN_NAME = 'admin';

/** The actor of a mutation when no token is configured (loopback only, unless allowed hosts say otherwise). */
export const ANONYMOUS: Actor = { name: 'anonymous', role: 'admin' };

/** Who sent a request, once its token matched. */
export interface Actor {
  readonly name: string;
  readonly role: ApiRole;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

const allows = (role: ApiRole, needed: ApiRole): boolean => API_ROLES.indexOf(role) >= API_ROLES.indexOf(needed);

/**
 * Requires `Authorization: Bearer <token>` of a token whose role allows the route (`needed`
 * says which; a mutation route it does not know needs `admin`). Every token is compared, each
 * hashed first, so the answer takes the same time whatever the guess and whichever token it
 * nearly matches. A wrong or missing token is 401; a right token with too small a role is 403,
 * naming the token and the role the action needs.
 */
export function bearerAuth(tokens: readonly ApiToken[], needed: (method: string, path: string) => ApiRole): MiddlewareHandler<{ Variables: { actor: Actor } }> {
  const known = tokens.map((t) => ({ actor: { name: t.name, role: t.role } satisfies Actor, hash: digest(t.token) }));
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    let actor: Actor | null = null;
    if (match !== null) {
      const guess = digest(match[1] as string);
      for (const k of known) if (timingSafeEqual(guess, k.hash) && actor === null) actor = k.actor;
    }
    if (actor === null) {
      c.header('WWW-Authenticate', 'Bearer realm="caretaker"');
      throw new HttpError(401, HttpErrorCode.Unauthorized, match === null ? 'this action needs Authorization: Bearer <token> (http.token or http.tokens in the config)' : 'the bearer token is not one of the configured tokens');
    }
    c.set('actor', actor);
    const role = needed(c.req.method, c.req.path);
    if (!allows(actor.role, role)) {
      throw new HttpError(403, HttpErrorCode.Forbidden, `token "${actor.name}" has role ${actor.role}; this action needs ${role === 'admin' ? 'admin' : 'operate or admin'}`);
    }
    await next();
  };
}

/**
 * The tokens an API accepts: the named ones, and the single `token` as an admin token. Names and
 * tokens must be unique (a shared token would make the actor ambiguous).
 */
export function apiTokens(options: { readonly token?: string | undefined; readonly tokens?: readonly ApiToken[] | undefined }): ApiToken[] {
  const clashes = singleTokenClashes(options.token, options.tokens);
  if (clashes.length > 0) {
    throw new InvalidOptionError(
      'createAdminApi',
      clashes.map((c) => ({ path: c.path.join('.'), received: 'a secret (not shown)', fix: c.message })),
    );
  }
  const out: ApiToken[] = [...(options.tokens ?? [])];
  if (options.token !== undefined) out.push({ name: SINGLE_TOKEN_NAME, token: options.token, role: 'admin' });
  return out;
}
