import type { IncomingMessage, ServerResponse } from 'node:http';
import { type IntegrationOptions, mountCaretaker } from './mount.ts';

/** The part of a Fastify instance the plugin uses (no dependency on Fastify's types). */
interface FastifyLike {
  all(path: string, handler: (request: { raw: IncomingMessage }, reply: { raw: ServerResponse; hijack(): void }) => void): unknown;
  addHook(name: 'onReady' | 'preClose' | 'onClose', hook: () => Promise<void>): unknown;
}

/**
 * A Fastify plugin: the scheduler starts when the app is ready and stops gracefully when it
 * closes (open event streams end as closing begins); the admin API and dashboard answer under `prefix`.
 *
 * @example
 * import Fastify from 'fastify';
 * import { caretakerFastify } from 'caretaker/fastify';
 * const app = Fastify();
 * await app.register(caretakerFastify, { scheduler, prefix: '/caretaker', token: process.env.CARETAKER_TOKEN });
 * await app.listen({ port: 3000 });
 */
export async function caretakerFastify(fastify: FastifyLike, options: IntegrationOptions): Promise<void> {
  const mounted = mountCaretaker(options);
  const handle = (request: { raw: IncomingMessage }, reply: { raw: ServerResponse; hijack(): void }) => {
    // The admin API writes the raw response itself (event streams included).
    reply.hijack();
    mounted.listener(request.raw, reply.raw);
  };
  fastify.all(mounted.prefix, handle);
  fastify.all(`${mounted.prefix}/*`, handle);
  fastify.addHook('onReady', () => mounted.start());
  // onClose runs only once the server has closed, and it waits for open event streams.
  fastify.addHook('preClose', async () => mounted.api.endStreams());
  fastify.addHook('onClose', () => mounted.stop());
}
// Registered routes keep their full paths: the plugin mounts at `prefix`, not at Fastify's own.
(caretakerFastify as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
