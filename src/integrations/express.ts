import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { type IntegrationOptions, type MountedCaretaker, mountCaretaker } from './mount.ts';

/** The part of an Express app the helper uses (no dependency on Express's types). */
interface ExpressLike {
  use(handler: (req: IncomingMessage & { originalUrl?: string }, res: ServerResponse, next: () => void) => void): unknown;
}

/**
 * Mounts the admin API and dashboard on an Express app under `prefix` and starts the scheduler.
 * Pass the HTTP server (`app.listen()` returns it) to stop the scheduler gracefully when it closes;
 * otherwise call `stop()` yourself.
 *
 * @example
 * import express from 'express';
 * import { caretakerExpress } from 'caretaker/express';
 * const app = express();
 * const server = app.listen(3000);
 * await caretakerExpress(app, { scheduler, prefix: '/caretaker', server });
 */
export async function caretakerExpress(app: ExpressLike, options: IntegrationOptions & { readonly server?: Server }): Promise<MountedCaretaker> {
  const { server, ...rest } = options;
  const mounted = mountCaretaker(rest);
  app.use((req, res, next) => {
    // Express rewrites req.url under app.use(path); the API wants the URL as sent.
    const url = req.originalUrl ?? req.url ?? '';
    if (url !== mounted.prefix && !url.startsWith(`${mounted.prefix}/`) && !url.startsWith(`${mounted.prefix}?`)) {
      next();
      return;
    }
    req.url = url;
    mounted.listener(req, res);
  });
  server?.once('close', () => void mounted.stop());
  await mounted.start();
  return mounted;
}
