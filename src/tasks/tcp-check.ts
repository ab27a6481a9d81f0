import net from 'node:net';
import { z } from 'zod';
import type { TaskHandler } from '../engine/task.ts';
import { type CheckOptions, type CheckResult, checkRunner, checkShape } from './health.ts';
import { parseOptions } from './options.ts';

/** Options of {@link tcpCheck}. */
export interface TcpCheckOptions extends CheckOptions {
  readonly host: string;
  readonly port: number;
}

/** A TCP check's output. */
export interface TcpCheckResult extends CheckResult {
  readonly host: string;
  readonly port: number;
}

const schema = z.strictObject({
  host: z.string().min(1, { message: 'must be a host name or IP address' }),
  port: z.number().int().min(1).max(65_535),
  ...checkShape,
});

/**
 * A handler that opens a TCP connection and closes it at once: the cheapest proof that a
 * database, cache or broker is accepting connections. Misses count like {@link httpCheck}'s.
 *
 * @example
 * import { tcpCheck } from 'caretaker/tasks';
 * scheduler.add({ name: 'redis-up', schedule: { every: '30s' }, handler: tcpCheck({ host: 'redis', port: 6379, failAfter: 2 }) });
 */
export function tcpCheck(options: TcpCheckOptions): TaskHandler {
  const o = parseOptions('tcpCheck', schema, options);
  const run = checkRunner(o);
  return (ctx) =>
    run(ctx, `tcp://${o.host}:${o.port}`, async (signal) => {
      await connect(o.host, o.port, signal);
      return { outcome: { ok: true } as const, details: null };
    }, (check): TcpCheckResult => ({ host: o.host, port: o.port, ...check }));
}

function connect(host: string, port: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const settle = (error?: unknown) => {
      signal.removeEventListener('abort', abort);
      socket.destroy();
      if (error === undefined) resolve();
      else reject(error);
    };
    const abort = () => settle(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    socket.once('connect', () => settle());
    socket.once('error', settle);
  });
}
