import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { HttpError, HttpErrorCode } from './errors.ts';

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * Requires `Authorization: Bearer <token>`. Both sides are hashed first so the comparison takes
 * the same time whatever the length or content of the guess.
 */
export function bearerAuth(token: string): MiddlewareHandler {
  const expected = digest(token);
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (match === null || !timingSafeEqual(digest(match[1] as string), expected)) {
      c.header('WWW-Authenticate', 'Bearer realm="caretaker"');
      throw new HttpError(401, HttpErrorCode.Unauthorized, match === null ? 'this action needs Authorization: Bearer <token> (http.token in the config)' : 'the bearer token is not the configured one');
    }
    await next();
  };
}
