import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { CaretakerError, ErrorCode } from '../util/errors.ts';

/** Codes only the HTTP layer produces. */
export const HttpErrorCode = {
  /** A mutation without the configured bearer token. */
  Unauthorized: 'ERR_UNAUTHORIZED',
  /** A mutation with a valid token whose role does not allow it. */
  Forbidden: 'ERR_FORBIDDEN',
  /** The Host header names neither this machine, an IP address nor an allowed host (DNS rebinding). */
  HostNotAllowed: 'ERR_HOST_NOT_ALLOWED',
  /** A mutation from a foreign web origin (a cross-site request). */
  OriginNotAllowed: 'ERR_ORIGIN_NOT_ALLOWED',
  /** No route matches. */
  NotFound: 'ERR_NOT_FOUND',
  /** The run exists but is not running. */
  RunNotRunning: 'ERR_RUN_NOT_RUNNING',
  /** Something unexpected; the server log has the details. */
  Internal: 'ERR_INTERNAL',
} as const;

/** An error the API answers with a status and a stable code. */
export class HttpError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: string;
  constructor(status: ContentfulStatusCode, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const STATUS_BY_CODE: Partial<Record<string, ContentfulStatusCode>> = {
  [ErrorCode.InvalidOption]: 400,
  [ErrorCode.TaskNotFound]: 404,
  [ErrorCode.RunNotFound]: 404,
  [ErrorCode.BackfillNotFound]: 404,
  [ErrorCode.BackfillNotRunning]: 409,
  [ErrorCode.NotSupported]: 501,
  [ErrorCode.RunNotFinished]: 409,
  [ErrorCode.SchedulerState]: 503,
  [ErrorCode.Store]: 503,
};

/** `{ error: { code, message } }` with the status that fits the error. */
export function errorResponse(c: Context, error: unknown, log: (error: unknown) => void): Response {
  if (error instanceof HttpError) return c.json({ error: { code: error.code, message: error.message } }, error.status);
  if (error instanceof CaretakerError) {
    const status = STATUS_BY_CODE[error.code];
    if (status !== undefined) return c.json({ error: { code: error.code, message: error.message } }, status);
  }
  log(error);
  return c.json({ error: { code: HttpErrorCode.Internal, message: 'internal error; see the server log' } }, 500);
}
