// Type-checked (never run) by pack-install.ts in a scratch project that installed the packed
// tarball: every public entry point, used as a strict consumer would, with real Fastify,
// Express and Hono types but without @types/pg.
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { CaretakerError, createScheduler, memoryStore, postgresStore, type RunRecord, type Store, sqliteStore } from 'caretaker';
import { caretakerExpress } from 'caretaker/express';
import { caretakerFastify } from 'caretaker/fastify';
import { caretakerHono } from 'caretaker/hono';
import { createAdminApi } from 'caretaker/http';
import { dbMaintenance, directoryCleanup, httpCheck, logRotation, metricsSnapshot, orphanCleanup, sqlRetention, tcpCheck } from 'caretaker/tasks';
import { createTestClock } from 'caretaker/testing';

const stores: Store[] = [
  memoryStore(),
  sqliteStore({ path: './caretaker.db', busyTimeoutMs: 5000 }),
  postgresStore({ url: 'postgres://localhost/app', schema: 'caretaker' }),
  // The user's own pool: whatever has pg's query and connect fits.
  postgresStore({
    pool: {
      query: async () => ({ rows: [] }),
      connect: async () => {
        throw new Error('no database in a type check');
      },
    },
  }),
];

const clock = createTestClock({ start: '2026-03-29T00:00:00Z' });
const scheduler = createScheduler({ store: memoryStore(), clock, lease: '15s', concurrency: 4 });
const sqlite = { sqlite: './app.db' } as const;
scheduler.add({ name: 'cache-cleanup', schedule: { every: '6h', initialDelay: '5m' }, handler: directoryCleanup({ root: './cache', maxAge: '30d', maxTotalSize: '10GB' }) });
scheduler.add({ name: 'logs', schedule: { cron: '0 2 * * *', timezone: 'Europe/Berlin' }, handler: logRotation({ files: './logs/*.log', keep: 5, compress: true }) });
scheduler.add({ name: 'sessions', schedule: { every: '1h' }, handler: sqlRetention({ database: sqlite, table: 'sessions', column: 'created_at', olderThan: '30d' }) });
scheduler.add({ name: 'vacuum', schedule: { every: '1d' }, handler: dbMaintenance({ database: { postgres: 'postgres://localhost/app' }, operations: ['analyze'] }) });
scheduler.add({ name: 'uploads', schedule: { every: '1d' }, handler: orphanCleanup({ database: sqlite, table: 'uploads', pathColumn: 'path', root: './uploads', dryRun: true }) });
scheduler.add({ name: 'api-up', schedule: { every: '1m' }, handler: httpCheck({ url: 'http://127.0.0.1:8080/healthz', expectStatus: 200 }) });
scheduler.add({ name: 'db-up', schedule: { every: '1m' }, handler: tcpCheck({ host: '127.0.0.1', port: 5432 }) });
scheduler.add({ name: 'metrics', schedule: { every: '5s' }, handler: metricsSnapshot() });
scheduler.add({
  name: 'report',
  schedule: { at: '2026-12-01T02:00:00Z' },
  timeout: '10m',
  retry: { attempts: 3 },
  overlap: 'skip',
  handler: async (ctx) => {
    ctx.progress(0.5, 'halfway');
    ctx.signal.throwIfAborted();
    return { rows: 3, key: ctx.idempotencyKey };
  },
});
const unsubscribe = scheduler.on('run:finished', (run: RunRecord) => console.log(run.task, run.status, run.error?.code));

const api = createAdminApi({ scheduler });
const fastify = Fastify();
await fastify.register(caretakerFastify, { scheduler, prefix: '/caretaker' });
const app = express();
const server = app.listen(0);
const mountedExpress = await caretakerExpress(app, { scheduler, prefix: '/caretaker', server });
const hono = new Hono();
const mountedHono = await caretakerHono(hono, { scheduler, prefix: '/caretaker' });

try {
  await scheduler.start();
  await clock.advance(60 * 60_000);
  const history: RunRecord[] = await scheduler.history({ task: 'metrics', limit: 20 });
  console.log(history.length, stores.length, scheduler.tasks().map((task) => task.nextRunAt));
} catch (error) {
  if (error instanceof CaretakerError) console.log(error.code);
} finally {
  unsubscribe();
  api.close();
  const report = await scheduler.stop({ timeout: '30s' });
  console.log(report.interrupted.length, mountedExpress, mountedHono);
}
