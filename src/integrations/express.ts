import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { type IntegrationOptions, type MountedCaretaker, mountCaretaker } from './mount.ts';

/** The part of an Express app the helper uses (no dependency on Express's types). */
interface ExpressLike {
  use(handler: (req: IncomingMessage & { originalUrl?: string }, res: ServerResponse, next: () => void) => void): unknown;
}

/**
 * Mounts the admin API and dashboard on an Express app under `prefix` and starts the scheduler.
 * Pass the HTTP server (`app.listen()` returns it) to stop the scheduler gracefully when it closes
 * (`server.close()` first ends open event streams, so it does not wait for dashboard tabs);
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
  if (server !== undefined) {
    // The server's close waits for open connections, and an event stream stays open as long as a
    // dashboard tab does: end the streams as closing begins (no event marks that moment).
    const close = server.close;
    server.close = function (this: Server, ...args: Parameters<Server['close']>) {
      mounted.api.endStreams();
      return close.apply(this, args);
    };
    server.once('close', () => void mounted.stop());
  }
  await mounted.start();
  return mounted;
}
