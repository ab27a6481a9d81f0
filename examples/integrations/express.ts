/**
 * Caretaker inside an Express app: mounted at /caretaker/, stopped when the server closes.
 * Run: node --conditions=caretaker-source examples/integrations/express.ts
 */
import type { Server } from 'node:http';
import express from 'express';
import { createScheduler, memoryStore, type Store } from 'caretaker';
import { caretakerExpress } from 'caretaker/express';

export async function createApp(options: { readonly store?: Store; readonly port?: number } = {}) {
  const scheduler = createScheduler({ store: options.store ?? memoryStore() });
  scheduler.add({ name: 'cache-cleanup', schedule: { every: '1h' }, handler: () => ({ removed: 0 }) });
  const app = express();
  app.get('/', (_req, res) => void res.json({ hello: 'world' }));
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(options.port ?? 0, '127.0.0.1', () => resolve(s));
  });
  await caretakerExpress(app, { scheduler, prefix: '/caretaker', server });
  return { app, server, scheduler };
}

if (import.meta.main) {
  const { server } = await createApp({ port: 3000 });
  console.log('app at http://127.0.0.1:3000/, dashboard at http://127.0.0.1:3000/caretaker/');
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => server.close());
}
