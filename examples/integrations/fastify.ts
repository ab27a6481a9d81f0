/**
 * Caretaker inside a Fastify app: the scheduler starts with the app and stops when it closes;
 * the dashboard and API are at /caretaker/. Run: node --conditions=caretaker-source examples/integrations/fastify.ts
 */
import Fastify from 'fastify';
import { createScheduler, memoryStore, type Store } from 'caretaker';
import { caretakerFastify } from 'caretaker/fastify';

export async function createApp(options: { readonly store?: Store } = {}) {
  const scheduler = createScheduler({ store: options.store ?? memoryStore() });
  scheduler.add({ name: 'cache-cleanup', schedule: { every: '1h' }, handler: () => ({ removed: 0 }) });
  const app = Fastify();
  app.get('/', async () => ({ hello: 'world' }));
  await app.register(caretakerFastify, { scheduler, prefix: '/caretaker' });
  return { app, scheduler };
}

if (import.meta.main) {
  const { app } = await createApp();
  const url = await app.listen({ port: 3000, host: '127.0.0.1' });
  console.log(`app at ${url}/, dashboard at ${url}/caretaker/`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void app.close());
}
