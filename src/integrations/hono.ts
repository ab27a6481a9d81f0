import type { Hono } from 'hono';
import { type IntegrationOptions, type MountedCaretaker, mountCaretaker } from './mount.ts';

/**
 * Mounts the admin API and dashboard on a Hono app under `prefix` and starts the scheduler.
 * Hono apps have no close hook: call `stop()` before closing your server (it also ends open
 * event streams, which the server would wait for), or use `scheduler.stopOnSignals()`.
 *
 * @example
 * import { Hono } from 'hono';
 * import { caretakerHono } from 'caretaker/hono';
 * const app = new Hono();
 * const caretaker = await caretakerHono(app, { scheduler, prefix: '/caretaker' });
 */
export async function caretakerHono(app: Hono, options: IntegrationOptions): Promise<MountedCaretaker> {
  const mounted = mountCaretaker(options);
  app.all(mounted.prefix, (c) => mounted.api.fetch(c.req.raw, c.env));
  app.all(`${mounted.prefix}/*`, (c) => mounted.api.fetch(c.req.raw, c.env));
  await mounted.start();
  return mounted;
}
