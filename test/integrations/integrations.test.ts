import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { caretakerExpress } from 'caretaker/express';
import { caretakerFastify } from 'caretaker/fastify';
import { caretakerHono } from 'caretaker/hono';
import { createScheduler, type RunRecord, type Scheduler, type SignalSource, sqliteStore } from '../../src/index.ts';
import { createApp as expressApp } from '../../examples/integrations/express.ts';
import { createApp as fastifyApp } from '../../examples/integrations/fastify.ts';
import { createApp as honoApp } from '../../examples/integrations/hono.ts';
import { within } from '../dashboard/chromium.ts';
import { keepAliveStream, rawRequest } from '../http/support.ts';

const dir = mkdtempSync(join(tmpdir(), 'caretaker-integrations-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** What every integration must do, checked over real HTTP against a listening app. */
async function checkMounted(base: string, scheduler: Scheduler): Promise<void> {
  assert.equal(scheduler.state, 'running', 'the scheduler started with the app');
  assert.deepEqual(await (await fetch(new URL('/', base))).json(), { hello: 'world' }, "the app's own routes still answer");
  const tasks = (await (await fetch(new URL('/caretaker/api/tasks', base))).json()) as { tasks: { name: string }[] };
  assert.deepEqual(tasks.tasks.map((t) => t.name), ['cache-cleanup']);
  const redirect = await fetch(new URL('/caretaker', base), { redirect: 'manual' });
  assert.equal(redirect.status, 308);
  assert.equal(redirect.headers.get('location'), '/caretaker/');
  const page = await fetch(new URL('/caretaker/', base));
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /text\/html/);
  const finished = new Promise<RunRecord>((resolve) => scheduler.on('run:finished', resolve));
  const trigger = await fetch(new URL('/caretaker/api/tasks/cache-cleanup/trigger', base), { method: 'POST' });
  assert.equal(trigger.status, 202);
  const { runId } = (await trigger.json()) as { runId: string };
  assert.equal((await finished).id, runId);
  const run = (await (await fetch(new URL(`/caretaker/api/runs/${runId}`, base))).json()) as { run: RunRecord };
  assert.equal(run.run.status, 'succeeded');
  assert.equal((await fetch(new URL('/caretaker/api/nothing', base))).status, 404);
}

describe('framework integrations (the examples in examples/integrations)', () => {
  it('Fastify: starts with ready, serves under the prefix, stops on close', async () => {
    const { app, scheduler } = await fastifyApp({ store: sqliteStore({ path: join(dir, 'fastify.db') }) });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    await checkMounted(url, scheduler);
    await app.close();
    assert.equal(scheduler.state, 'stopped');
  });

  it('Express: serves under the prefix and stops when the server closes', async () => {
    const { server, scheduler } = await expressApp({ store: sqliteStore({ path: join(dir, 'express.db') }) });
    await checkMounted(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, scheduler);
    const stopped = new Promise<void>((resolve) => scheduler.on('scheduler:stopped', () => resolve()));
    server.closeAllConnections();
    server.close();
    await stopped;
    assert.equal(scheduler.state, 'stopped');
  });

  it('Hono: serves under the prefix; stop() stops the scheduler', async () => {
    const { app, scheduler, caretaker } = await honoApp({ store: sqliteStore({ path: join(dir, 'hono.db') }) });
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((resolve) => server.once('listening', resolve));
    await checkMounted(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, scheduler);
    await caretaker.stop();
    assert.equal(scheduler.state, 'stopped');
    await new Promise((resolve) => server.close(resolve));
  });
});

/** A framework app with Caretaker mounted at /caretaker, listening on 127.0.0.1, and how to close it. */
interface Served {
  readonly port: number;
  close(): Promise<void>;
  /** Cuts every connection: a failed test must not leave the process waiting on them. */
  force(): void;
}
const GUARD = { allowedHosts: ['app.example'], allowedOrigins: ['https://console.example'] } as const;
/** As long as behind a load balancer (Fastify's default is 72 s): an ended stream's connection must not idle that long. */
const KEEP_ALIVE_MS = 60_000;
const mounts: Record<string, (scheduler: Scheduler) => Promise<Served>> = {
  async Express(scheduler) {
    const app = express();
    app.get('/', (_req, res) => void res.json({ hello: 'world' }));
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    server.keepAliveTimeout = KEEP_ALIVE_MS;
    await caretakerExpress(app, { scheduler, prefix: '/caretaker', server, ...GUARD });
    return { port: (server.address() as AddressInfo).port, close: () => new Promise((resolve) => server.close(() => resolve())), force: () => server.closeAllConnections() };
  },
  async Fastify(scheduler) {
    const app = Fastify();
    app.get('/', async () => ({ hello: 'world' }));
    await app.register(caretakerFastify, { scheduler, prefix: '/caretaker', ...GUARD });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { port: (app.server.address() as AddressInfo).port, close: () => app.close(), force: () => app.server.closeAllConnections() };
  },
  async Hono(scheduler) {
    const app = new Hono();
    app.get('/', (c) => c.json({ hello: 'world' }));
    const caretaker = await caretakerHono(app, { scheduler, prefix: '/caretaker', ...GUARD });
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
    server.keepAliveTimeout = KEEP_ALIVE_MS;
    await new Promise((resolve) => server.once('listening', resolve));
    return {
      port: (server.address() as AddressInfo).port,
      close: async () => {
        await caretaker.stop();
        await new Promise((resolve) => server.close(resolve));
      },
      force: () => server.closeAllConnections(),
    };
  },
};

describe('framework mounts against hostile web pages: foreign Host and foreign Origin (real HTTP)', () => {
  for (const [framework, mount] of Object.entries(mounts)) {
    it(`${framework}: 403 for a rebinding Host and a cross-site form POST; nothing runs; allowedHosts and allowedOrigins pass through`, async () => {
      const scheduler = createScheduler({ instance: framework });
      scheduler.add({ name: 'cache-cleanup', schedule: { every: '1h', initialDelay: '1h' }, handler: () => ({ removed: 0 }) });
      const served = await mount(scheduler);
      const send = (method: string, path: string, headers: Record<string, string>) => rawRequest(served.port, method, path, { 'Content-Type': 'text/plain', ...headers }, method === 'POST' ? 'x=1' : '');
      try {
        for (const [method, path] of [['GET', '/caretaker/api/runs'], ['GET', '/caretaker/api/events'], ['GET', '/caretaker/'], ['GET', '/caretaker'], ['GET', '/caretaker/metrics'], ['POST', '/caretaker/api/tasks/cache-cleanup/trigger']] as const) {
          const answer = await send(method, path, { Host: `attacker.example:${served.port}`, Origin: 'http://attacker.example' });
          assert.equal(answer.status, 403, `${method} ${path}`);
          assert.equal(answer.json?.error?.code, 'ERR_HOST_NOT_ALLOWED');
        }
        const form = await send('POST', '/caretaker/api/tasks/cache-cleanup/trigger', { Host: `127.0.0.1:${served.port}`, Origin: 'http://attacker.example' });
        assert.equal(form.status, 403);
        assert.equal(form.json?.error?.code, 'ERR_ORIGIN_NOT_ALLOWED');
        assert.deepEqual(await scheduler.history({ limit: 10 }), [], 'no run was triggered');
        // The app's own routes are the app's business.
        assert.equal((await send('GET', '/', { Host: 'attacker.example' })).status, 200);
        // The options reach the mounted API.
        assert.equal((await send('GET', '/caretaker/api/tasks', { Host: 'app.example' })).status, 200);
        assert.equal((await send('POST', '/caretaker/api/tasks/cache-cleanup/trigger', { Host: 'app.example', Origin: 'https://console.example' })).status, 202);
      } finally {
        await served.close();
      }
    });
  }
});

describe('framework mounts close while a dashboard tab holds an event stream open', () => {
  for (const [framework, mount] of Object.entries(mounts)) {
    it(`${framework}: closing ends the stream, finishes within seconds, and the scheduler stops gracefully`, async () => {
      const scheduler = createScheduler({ instance: `${framework}-close` });
      const served = await mount(scheduler);
      const stopped = new Promise<void>((resolve) => scheduler.on('scheduler:stopped', () => resolve()));
      const tab = keepAliveStream(`http://127.0.0.1:${served.port}/caretaker/api/events`);
      try {
        await within(tab.ready, 'the stream to open', 5_000);
        await within(served.close(), `${framework} to close with an event stream open`, 5_000);
        await within(stopped, 'the scheduler to stop', 5_000);
        assert.equal(scheduler.state, 'stopped');
        await within(tab.ended, 'the event stream to end', 5_000);
      } finally {
        tab.destroy();
        served.force();
      }
    });
  }
});

describe('scheduler.stopOnSignals', () => {
  const fakeProcess = () => {
    const emitter = new EventEmitter();
    const exits: number[] = [];
    const host: SignalSource & { emit: (s: string) => boolean; exits: number[] } = {
      on: (s, l) => emitter.on(s, l),
      off: (s, l) => emitter.off(s, l),
      exit: (code) => exits.push(code),
      emit: (s) => emitter.emit(s),
      exits,
    };
    return host;
  };

  it('stops gracefully on the first signal, then exits 0; listeners are removed', async () => {
    const host = fakeProcess();
    const scheduler = createScheduler();
    await scheduler.start();
    let report: unknown = null;
    scheduler.stopOnSignals({ process: host, onStopped: (r) => void (report = r) });
    host.emit('SIGTERM');
    await new Promise<void>((resolve) => scheduler.on('scheduler:stopped', () => resolve()));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(scheduler.state, 'stopped');
    assert.notEqual(report, null);
    assert.deepEqual(host.exits, [0]);
    assert.equal(host.emit('SIGTERM'), false, 'no listener left');
  });

  it('a second signal during the stop exits at once with 130', async () => {
    const host = fakeProcess();
    const scheduler = createScheduler();
    let release = () => {};
    scheduler.add({ name: 'stubborn', schedule: { every: '1h' }, handler: () => new Promise<void>((resolve) => (release = resolve)) });
    await scheduler.start();
    const started = new Promise<void>((resolve) => scheduler.on('run:started', () => resolve()));
    await scheduler.trigger('stubborn');
    await started;
    scheduler.stopOnSignals({ process: host, timeout: '1m' });
    host.emit('SIGINT');
    host.emit('SIGINT');
    assert.deepEqual(host.exits, [130]);
    release();
    await scheduler.stop();
  });

  it('examples/integrations/plain.ts runs tasks until SIGTERM, then stops and exits 0', async () => {
    const child = spawn(process.execPath, ['--conditions=caretaker-source', '--no-warnings', 'examples/integrations/plain.ts'], {
      env: { ...process.env, CARETAKER_DB: join(dir, 'plain.db') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    const deadline = Date.now() + 20_000;
    while (!out.includes('heartbeat succeeded') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /heartbeat succeeded/);
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0);
    assert.match(out, /stopped; interrupted 0/);
  });
});
