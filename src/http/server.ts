import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import { serve } from '@hono/node-server';
import { InvalidOptionError } from '../util/errors.ts';

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '[::1]') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** A listening admin server. */
export interface AdminServer {
  /** e.g. `http://127.0.0.1:7070/` */
  readonly url: string;
  readonly port: number;
  /** Stops listening and ends open connections (event streams included). */
  close(): Promise<void>;
}

/**
 * Serves a fetch handler on `host:port` (port 0 picks a free one). Refuses a non-loopback host
 * without a token: the API can run and cancel tasks.
 */
export async function startAdminServer(options: {
  readonly fetch: (request: Request) => Response | Promise<Response>;
  readonly host: string;
  readonly port: number;
  readonly token?: string | undefined;
  readonly tokens?: readonly unknown[] | undefined;
}): Promise<AdminServer> {
  if (!isLoopback(options.host) && options.token === undefined && (options.tokens ?? []).length === 0) {
    throw new InvalidOptionError('http', [
      { path: 'http.token', received: 'nothing', fix: `set a token (at least 16 characters) to listen on ${options.host}, or use host 127.0.0.1` },
    ]);
  }
  const server = serve({ fetch: options.fetch, hostname: options.host, port: options.port });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') && !options.host.startsWith('[') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ('closeAllConnections' in server) server.closeAllConnections();
      }),
  };
}
