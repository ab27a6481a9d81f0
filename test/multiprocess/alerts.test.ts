/**
 * Alerts from four replica processes on real databases, through a real webhook: each event is
 * delivered once, whichever replica saw it, and a webhook that fails for a while still gets it.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Store } from '../../src/index.ts';
import { backends, type StoreConfig, useBackend } from './backends.ts';
import { stopReplicas, waitFor } from './cluster.ts';

for (const backend of backends) {
  describe(`alerts from four replicas on ${backend.name}`, { skip: backend.skip, concurrency: false }, () => {
    const { backend: store, replicas } = useBackend(backend.name);
    const withStore = <T>(c: StoreConfig, work: (s: Store) => Promise<T>) => store().withStore(c, work);

    it('each failure is delivered to the webhook once, retried through its outage; none twice', async () => {
      const received: { id: string; kind: string; task: string }[] = [];
      let refuse = 0;
      const server: Server = createServer((req, res) => {
        let body = '';
        req.on('data', (chunk: Buffer) => (body += chunk.toString()));
        req.on('end', () => {
          // The webhook is down for its first requests: 503, retried with backoff.
          if (refuse-- > 0) {
            res.writeHead(503).end('down');
            return;
          }
          received.push(JSON.parse(body) as { id: string; kind: string; task: string });
          res.writeHead(204).end();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        refuse = 3;
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
        const c = store().config('alerts');
        const notify = { channels: { hook: { webhook: { url } } }, defaults: { on: ['failed'], channels: ['hook'] }, retry: { attempts: 8, backoff: '200ms', maxBackoff: '1s' } };
        const tasks = [{ name: 'broken', schedule: { every: '1s' }, workMs: 10, fail: true }];
        const cluster = await replicas(c, tasks, { pollInterval: '300ms', notify });
        await sleep(8_000);
        await stopReplicas(cluster);
        const failed = (await withStore(c, (s) => s.listRuns({ task: 'broken', status: 'failed', limit: 1000 }))).runs;
        assert.ok(failed.length >= 6, `${failed.length} failures`);
        // Let the last ones through: a replica started again delivers what was still due.
        const [late] = await replicas(c, tasks.map((t) => ({ ...t, schedule: { every: '1h', initialDelay: '1h' } })), { pollInterval: '300ms', notify }, 1);
        await waitFor(async () => (await withStore(c, (s) => s.listNotifications({ status: 'pending', limit: 1000 }))).notifications.length === 0, 20_000, 'every alert to be delivered');
        await stopReplicas(late === undefined ? [] : [late]);
        const ids = received.map((e) => e.id);
        assert.equal(new Set(ids).size, ids.length, `an alert was delivered twice: ${ids.length - new Set(ids).size} duplicates`);
        assert.deepEqual([...ids].sort(), failed.map((r) => `failed:${r.id}`).sort(), 'every failure, once');
        const records = (await withStore(c, (s) => s.listNotifications({ limit: 1000 }))).notifications;
        assert.ok(records.every((n) => n.status === 'delivered'));
        assert.ok(records.some((n) => n.attempts > 1), 'the outage was retried through');
        assert.ok(new Set(records.map((n) => n.claimedBy)).size >= 2, 'delivered by several replicas');
      } finally {
        server.close();
      }
    });
  });
}
