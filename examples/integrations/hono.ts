/**
 * Caretaker inside a Hono app on Node: mounted at /caretaker/; stop() with the server.
 * Run: node --conditions=caretaker-source examples/integrations/hono.ts
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createScheduler, memoryStore, type Store } from 'caretaker';
import { caretakerHono } from 'caretaker/hono';

export async function createApp(options: { readonly store?: Store } = {}) {
  const scheduler = createScheduler({ store: options.store ?? memoryStore() });
  scheduler.add({ name: 'cache-cleanup', schedule: { every: '1h' }, handler: () => ({ removed: 0 }) });
  const app = new Hono();
  app.get('/', (c) => c.json({ hello: 'world' }));
  const caretaker = await caretakerHono(app, { scheduler, prefix: '/caretaker' });
  return { app, scheduler, caretaker };
}

if (import.meta.main) {
  const { app, caretaker } = await createApp();
  const server = serve({ fetch: app.fetch, port: 3000, hostname: '127.0.0.1' });
  console.log('app at http://127.0.0.1:3000/, dashboard at http://127.0.0.1:3000/caretaker/');
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void caretaker.stop().then(() => server.close()));
}
