/**
 * What a web page the user visits can do to the default daemon (loopback, no token), over real
 * HTTP with requests written byte for byte: after DNS rebinding its requests carry its own domain
 * in Host; a plain cross-site form POST carries a foreign Origin and `Content-Type: text/plain`.
 * Neither may read anything or change anything; curl, the CLI and the dashboard keep working.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serve } from '@hono/node-server';
import { loadConfig } from '../../src/config/load.ts';
import { Daemon } from '../../src/daemon/daemon.ts';
import { type AdminApi, type AdminServer, createAdminApi, startAdminServer } from '../../src/http/index.ts';
import { createScheduler, InvalidOptionError, type Scheduler } from '../../src/index.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { type RawAnswer, rawRequest } from './support.ts';

const RUN_ID = '0190a0a0-0000-7000-8000-000000000000';
const FORM = { 'Content-Type': 'text/plain', body: 'x=1' };

function assertRefused(answer: RawAnswer, code: string, what: string): void {
  assert.equal(answer.status, 403, `${what}: ${answer.status} ${answer.body.slice(0, 200)}`);
  assert.equal(answer.json?.error?.code, code, what);
}

describe('the default daemon (loopback, no token) against a hostile web page (real HTTP)', () => {
  let scheduler: Scheduler;
  let api: AdminApi;
  let server: AdminServer;
  let port: number;
  const send = (method: string, path: string, headers: Record<string, string>, body = '') => rawRequest(port, method, path, headers, body);
  const nothingHappened = async () => {
    assert.deepEqual(await scheduler.history({ limit: 10 }), [], 'no run was triggered');
    assert.equal(scheduler.task('report')?.paused, false, 'nothing was paused');
  };

  before(async () => {
    scheduler = createScheduler({ instance: 'guarded' });
    scheduler.add({ name: 'report', schedule: { every: '1d', initialDelay: '1d' }, handler: () => ({ secret: 'rows: 3' }) });
    await scheduler.start();
    api = createAdminApi({ scheduler, processMetrics: false });
    server = await startAdminServer({ fetch: api.fetch, host: '127.0.0.1', port: 0 });
    port = server.port;
  });
  after(async () => {
    api.close();
    await server.close();
    await scheduler.stop({ timeout: '1s' });
  });

  it('after DNS rebinding (foreign Host) every route answers 403 ERR_HOST_NOT_ALLOWED: reads, events, metrics, the dashboard, mutations', async () => {
    const routes: [string, string][] = [
      ['GET', '/api/tasks'],
      ['GET', '/api/runs'],
      ['GET', `/api/runs/${RUN_ID}`],
      ['GET', '/api/events'],
      ['GET', '/metrics'],
      ['GET', '/healthz'],
      ['GET', '/'],
      ['POST', '/api/tasks/report/trigger'],
      ['POST', '/api/tasks/report/pause'],
      ['POST', `/api/runs/${RUN_ID}/cancel`],
    ];
    for (const [method, path] of routes) {
      for (const host of [`rebound.attacker.example:${port}`, 'rebound.attacker.example', `localhost.attacker.example:${port}`]) {
        const body = method === 'POST' ? FORM.body : '';
        const answer = await send(method, path, { Host: host, Origin: `http://${host}`, 'Content-Type': FORM['Content-Type'] }, body);
        assertRefused(answer, 'ERR_HOST_NOT_ALLOWED', `${method} ${path} with Host ${host}`);
        assert.match(answer.json?.error.message, new RegExp(`Host "${host}".*http\\.allowedHosts`), 'the message names the Host and the option');
      }
    }
    await nothingHappened();
  });

  it('a cross-site form POST (text/plain, foreign Origin) to 127.0.0.1 is 403 ERR_ORIGIN_NOT_ALLOWED and triggers nothing', async () => {
    const host = `127.0.0.1:${port}`;
    const refused: Record<string, string>[] = [
      { Origin: 'http://attacker.example' },
      { Origin: `http://127.0.0.1:${port + 1}` }, // another local web app is another origin
      { Origin: `http://localhost:${port}` }, // same machine, different name: another origin too
      { Origin: 'null' }, // sandboxed frames, file: pages, redirects
      { 'Sec-Fetch-Site': 'cross-site' },
    ];
    for (const path of ['/api/tasks/report/trigger', '/api/tasks/report/pause', `/api/runs/${RUN_ID}/cancel`]) {
      for (const headers of refused) {
        const answer = await send('POST', path, { Host: host, 'Content-Type': FORM['Content-Type'], ...headers }, FORM.body);
        assertRefused(answer, 'ERR_ORIGIN_NOT_ALLOWED', `POST ${path} with ${JSON.stringify(headers)}`);
        assert.match(answer.json?.error.message, /http\.allowedOrigins/);
      }
    }
    await nothingHappened();
  });

  it('an HTTP/1.1 request without Host is refused and changes nothing, even where Node would let it through', async () => {
    const answer = await send('POST', '/api/tasks/report/trigger', {});
    assert.equal(answer.status, 400, "Node's own refusal");
    // With requireHostHeader off, @hono/node-server fills in the listening address as the URL's host.
    const lax = serve({ fetch: api.fetch, hostname: '127.0.0.1', port: 0, serverOptions: { requireHostHeader: false } });
    await new Promise((resolve) => lax.once('listening', resolve));
    try {
      const refused = await rawRequest((lax.address() as AddressInfo).port, 'POST', '/api/tasks/report/trigger', {});
      assertRefused(refused, 'ERR_HOST_NOT_ALLOWED', 'no Host');
      assert.match(refused.json?.error.message, /no Host header/);
    } finally {
      await new Promise((resolve) => lax.close(resolve));
    }
    await nothingHappened();
  });

  it('curl (no Origin), the dashboard (its own origin), loopback names and IP addresses keep working', async () => {
    // Reads are not refused for their Origin: the browser keeps a foreign page from reading the answer.
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `dash.localhost:${port}`, `[::1]:${port}`, `192.168.1.20:${port}`, 'LOCALHOST']) {
      const answer = await send('GET', '/api/tasks', { Host: host, Origin: 'http://attacker.example' });
      assert.equal(answer.status, 200, `GET with Host ${host}`);
    }
    const accepted: Record<string, string>[] = [
      { Host: `127.0.0.1:${port}` },
      { Host: `127.0.0.1:${port}`, Origin: `http://127.0.0.1:${port}`, 'Sec-Fetch-Site': 'same-origin' },
      { Host: `localhost:${port}`, Origin: `http://localhost:${port}` },
      { Host: 'localhost', Origin: 'http://localhost:80' },
    ];
    for (const headers of accepted) {
      const answer = await send('POST', '/api/tasks/report/trigger', headers);
      assert.equal(answer.status, 202, `POST with ${JSON.stringify(headers)}: ${answer.body}`);
    }
  });
});

describe('http.allowedHosts and http.allowedOrigins', () => {
  const dir = mkdtempSync(join(tmpdir(), 'caretaker-guard-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the config validates them; each problem names the field and the fix', () => {
    const file = join(dir, 'bad.yaml');
    const text = `http:
  allowedHosts: [caretaker.example.com, .ops.example.com, 'https://x.example.com', 'x.example.com:8080', 'a/b']
  allowedOrigins: ['https://ops.example.com', 'http://[::1]:7070', 'https://ops.example.com/', ops.example.com, 'https://a.example/path']
`;
    assert.throws(
      () => loadConfig({ file, text, env: {} }),
      (error: unknown) => {
        assert.ok(error instanceof InvalidOptionError);
        assert.deepEqual(error.issues.map((i) => i.path), ['http.allowedHosts.2', 'http.allowedHosts.3', 'http.allowedHosts.4', 'http.allowedOrigins.2', 'http.allowedOrigins.3', 'http.allowedOrigins.4']);
        for (const issue of error.issues) assert.match(issue.fix, issue.path.includes('Hosts') ? /without scheme, port or path, e\.g\./ : /scheme:\/\/host\[:port\]/);
        return true;
      },
    );
    assert.throws(() => loadConfig({ file, text: 'http: { allowedHosts: caretaker.example.com }\n', env: {} }), /http\.allowedHosts: .*use a list of host names/);
    const good = loadConfig({ file, text: "http: { allowedHosts: [caretaker.example.com], allowedOrigins: ['https://ops.example.com'] }\n", env: {} });
    assert.deepEqual([good.http.allowedHosts, good.http.allowedOrigins], [['caretaker.example.com'], ['https://ops.example.com']]);
  });

  it('createAdminApi validates them the same way', () => {
    const scheduler = createScheduler();
    assert.throws(() => createAdminApi({ scheduler, allowedHosts: ['https://x.example'] }), /createAdminApi: allowedHosts\.0: received "https:\/\/x\.example"; use a host name/);
    assert.throws(() => createAdminApi({ scheduler, allowedOrigins: ['x.example'] }), /createAdminApi: allowedOrigins\.0: received "x\.example"; use scheme:\/\/host/);
  });

  it('the daemon passes them to its API: listed names and origins work, others are refused', async () => {
    writeFileSync(join(dir, 'ok.mjs'), 'export default () => ({ ok: true });\n');
    writeFileSync(
      join(dir, 'caretaker.config.yaml'),
      `store: memory
http:
  port: 0
  allowedHosts: [caretaker.example.com, .ops.example]
  allowedOrigins: ['https://console.example.com']
tasks:
  report: { schedule: { every: 1d, initialDelay: 1d }, run: { module: ./ok.mjs } }
`,
    );
    const daemon = await Daemon.start({ file: join(dir, 'caretaker.config.yaml'), env: {}, logger: silentLogger });
    try {
      const port = daemon.http?.server.port ?? 0;
      for (const host of ['caretaker.example.com', `CareTaker.Example.com:${port}`, 'ops.example', 'a.b.ops.example:443']) {
        assert.equal((await rawRequest(port, 'GET', '/api/tasks', { Host: host })).status, 200, host);
      }
      for (const host of ['example.com', 'evil.caretaker.example.com', 'xops.example', 'ops.example.attacker.example']) {
        assertRefused(await rawRequest(port, 'GET', '/api/tasks', { Host: host }), 'ERR_HOST_NOT_ALLOWED', host);
      }
      const trigger = (origin: string) => rawRequest(port, 'POST', '/api/tasks/report/trigger', { Host: 'caretaker.example.com', Origin: origin });
      assert.equal((await trigger('https://console.example.com')).status, 202);
      assert.equal((await trigger('https://caretaker.example.com')).status, 202, 'its own origin, behind a TLS proxy');
      assertRefused(await trigger('https://attacker.example'), 'ERR_ORIGIN_NOT_ALLOWED', 'a foreign origin');
      assertRefused(await trigger('http://console.example.com'), 'ERR_ORIGIN_NOT_ALLOWED', 'the allowed host on another scheme');
    } finally {
      await daemon.stop('1s');
    }
  });
});
