import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createScheduler } from 'caretaker';
import { type HttpCheckOptions, type HttpCheckResult, httpCheck } from 'caretaker/tasks';
import { createTestClock } from 'caretaker/testing';
import { InvalidOptionError } from '../../src/util/errors.ts';
import { fakeContext } from './context.ts';

/** A port nothing listens on (one that was free a moment ago). */
async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A key and a self-signed certificate for 127.0.0.1, made with openssl; null without it. */
function selfSigned(): { key: Buffer; cert: Buffer } | null {
  const dir = mkdtempSync(join(tmpdir(), 'caretaker-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } catch {
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('httpCheck', () => {
  let server: http.Server;
  let base: string;
  let healthy = true;
  const seen: { method: string | undefined; auth: string | undefined }[] = [];

  before(async () => {
    server = http.createServer((req, res) => {
      seen.push({ method: req.method, auth: req.headers.authorization });
      switch (req.url) {
        case '/health':
          res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' }).end(healthy ? '{"status":"ok","db":"up"}' : '{"status":"down"}');
          return;
        case '/moved':
          res.writeHead(301, { location: '/health' }).end();
          return;
        case '/hang':
          return; // never answers
        default:
          res.writeHead(404).end('not found');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(() => {
    healthy = true;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const check = async (options: HttpCheckOptions, ctx = fakeContext()) => (await httpCheck(options)(ctx)) as HttpCheckResult;

  it('reports status, latency and ok for a healthy endpoint', async () => {
    const result = await check({ url: `${base}/health` });
    assert.equal(result.url, `${base}/health`);
    assert.equal(result.status, 200);
    assert.equal(result.ok, true);
    assert.equal(result.consecutiveFailures, 0);
    assert.equal(result.error, undefined);
    assert.ok(result.latencyMs >= 0 && result.latencyMs < 5000);
    assert.deepEqual(JSON.parse(JSON.stringify(result)), result, 'the output is plain JSON');
  });

  it('checks the body for text, a RegExp or a { pattern, flags } object', async () => {
    assert.equal((await check({ url: `${base}/health`, expectBody: '"db":"up"' })).ok, true);
    assert.equal((await check({ url: `${base}/health`, expectBody: /"STATUS":"ok"/gi })).ok, true);
    const handler = httpCheck({ url: `${base}/health`, expectBody: /"status":"ok"/g, failAfter: 5 });
    for (let i = 0; i < 3; i++) assert.equal(((await handler(fakeContext())) as HttpCheckResult).ok, true, 'a global RegExp matches on every run');
    const miss = await check({ url: `${base}/health`, expectBody: { pattern: '"db":\\s*"down"' }, failAfter: 2 });
    assert.equal(miss.ok, false);
    assert.equal(miss.status, 200);
    assert.match(miss.error ?? '', /body does not match/);
  });

  it('counts consecutive misses, fails the run at failAfter, and recovers', async () => {
    const handler = httpCheck({ url: `${base}/health`, failAfter: 3 });
    healthy = false;
    const first = (await handler(fakeContext())) as HttpCheckResult;
    assert.deepEqual([first.ok, first.status, first.consecutiveFailures, first.error], [false, 503, 1, 'status 503, expected 2xx']);
    assert.equal(((await handler(fakeContext())) as HttpCheckResult).consecutiveFailures, 2);
    await assert.rejects(async () => handler(fakeContext()), /GET http:\/\/127\.0\.0\.1:\d+\/health: status 503, expected 2xx \(3 consecutive failures, failAfter 3\)/);
    await assert.rejects(async () => handler(fakeContext()), /4 consecutive failures/);
    healthy = true;
    assert.equal(((await handler(fakeContext())) as HttpCheckResult).consecutiveFailures, 0);
    healthy = false;
    assert.equal(((await handler(fakeContext())) as HttpCheckResult).consecutiveFailures, 1);
  });

  it('continues the streak from the last successful run after a restart or on another replica', async () => {
    healthy = false;
    const lastSuccess = { runId: 'r1', scheduledFor: new Date(), finishedAt: new Date(), output: { ok: false, consecutiveFailures: 2 } };
    await assert.rejects(async () => httpCheck({ url: `${base}/health`, failAfter: 3 })(fakeContext({ lastSuccess })), /3 consecutive failures/);
  });

  it('fails a scheduled run only at failAfter, keeping misses in run history', async () => {
    healthy = false;
    const clock = createTestClock();
    const scheduler = createScheduler({ clock });
    scheduler.add({ name: 'api', schedule: { every: '1m' }, handler: httpCheck({ url: `${base}/health`, failAfter: 2 }) });
    await scheduler.start();
    await clock.advance(0);
    await scheduler.onIdle();
    await clock.advance(60_000);
    await scheduler.onIdle();
    const runs = await scheduler.history({ task: 'api' });
    await scheduler.stop();
    assert.deepEqual(runs.map((r) => r.status), ['failed', 'succeeded']);
    assert.equal((runs[1]?.output as unknown as HttpCheckResult).consecutiveFailures, 1);
    assert.match(runs[0]?.error?.message ?? '', /2 consecutive failures/);
  });

  it('treats expected statuses as healthy, without following an expected redirect', async () => {
    assert.equal((await check({ url: `${base}/moved`, expectStatus: [301, 308] })).status, 301);
    assert.equal((await check({ url: `${base}/moved` })).status, 200, 'redirects are followed otherwise');
    const missing = await check({ url: `${base}/nope`, expectStatus: 200, failAfter: 2 });
    assert.deepEqual([missing.ok, missing.error], [false, 'status 404, expected 200']);
  });

  it('sends the method and headers', async () => {
    seen.length = 0;
    await check({ url: `${base}/health`, method: 'HEAD', headers: { authorization: 'Bearer t' } });
    assert.deepEqual(seen, [{ method: 'HEAD', auth: 'Bearer t' }]);
  });

  it('counts a timeout or a refused connection as a miss', async () => {
    const slow = await check({ url: `${base}/hang`, timeout: 50, failAfter: 2 });
    assert.deepEqual([slow.ok, slow.status, slow.error], [false, null, 'no answer within 50ms']);
    const port = await freePort();
    const refused = await check({ url: `http://127.0.0.1:${port}/`, failAfter: 2 });
    assert.deepEqual([refused.ok, refused.status, refused.error], [false, null, `connection refused: nothing listens on 127.0.0.1:${port} (ECONNREFUSED)`]);
  });

  describe('a miss without a response says why, not "fetch failed"', () => {
    const servers: net.Server[] = [];
    const sockets = new Set<net.Socket>();
    const listen = async (server: net.Server) => {
      servers.push(server);
      server.on('connection', (socket: net.Socket) => sockets.add(socket));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return (server.address() as AddressInfo).port;
    };
    after(async () => {
      // fetch keeps connections alive; close() would wait for them.
      for (const socket of sockets) socket.destroy();
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    });
    const miss = async (url: string) => {
      const result = await check({ url, failAfter: 2, timeout: '5s' });
      assert.deepEqual([result.ok, result.status], [false, null], JSON.stringify(result));
      return result.error ?? '';
    };

    it('a port fetch refuses ("bad port") names the port and the fix', async () => {
      assert.equal(
        await miss('http://127.0.0.1:6000/health'),
        'port 6000 is one that fetch refuses ("bad port" in the Fetch standard, reserved for other protocols); serve the check on another port, or use tcp-check',
      );
    });

    it('an unknown host is a DNS failure (ENOTFOUND)', async () => {
      // .invalid never resolves (RFC 2606); a machine without a resolver answers EAI_AGAIN.
      assert.match(await miss('http://caretaker-check.invalid/'), /^(host not found: DNS has no address for caretaker-check\.invalid \(ENOTFOUND\)|DNS lookup of caretaker-check\.invalid failed for now .*\(EAI_AGAIN\))$/);
    });

    it('a server that hangs up before answering', async () => {
      const port = await listen(net.createServer((socket) => socket.destroy()));
      assert.equal(await miss(`http://127.0.0.1:${port}/`), `127.0.0.1:${port} closed the connection before answering (UND_ERR_SOCKET)`);
    });

    it('a server that does not speak HTTP', async () => {
      const port = await listen(net.createServer((socket) => socket.end('SSH-2.0-OpenSSH_9.6\r\n\r\n')));
      assert.match(await miss(`http://127.0.0.1:${port}/`), new RegExp(`^the answer from 127\\.0\\.0\\.1:${port} is not HTTP \\(`));
    });

    it('https:// to a port without TLS', async () => {
      const port = await listen(http.createServer((_, res) => res.end('plain')));
      assert.equal(await miss(`https://127.0.0.1:${port}/`), `TLS handshake failed: 127.0.0.1:${port} does not speak TLS (is it an http:// URL?) (ERR_SSL_WRONG_VERSION_NUMBER)`);
    });

    it('an untrusted (self-signed) TLS certificate', async (t) => {
      const pem = selfSigned();
      if (pem === null) return t.skip('openssl is not installed, so no certificate can be made');
      const port = await listen(https.createServer(pem, (_, res) => res.end('ok')));
      assert.equal(
        await miss(`https://127.0.0.1:${port}/`),
        'TLS certificate is self-signed and not trusted (trust it with NODE_EXTRA_CA_CERTS) (DEPTH_ZERO_SELF_SIGNED_CERT)',
      );
    });
  });

  it('a failed check, as run history shows it: a miss below failAfter succeeds with { ok: false, ... } as its output; the miss at failAfter fails the run, its error naming the cause and its output kept', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/healthz`;
    const clock = createTestClock();
    const scheduler = createScheduler({ clock });
    scheduler.add({ name: 'api', schedule: { every: '1m' }, handler: httpCheck({ url, failAfter: 2 }) });
    scheduler.add({ name: 'strict', schedule: { every: '1m' }, handler: httpCheck({ url }) });
    await scheduler.start();
    await clock.advance(0);
    await scheduler.onIdle();
    await clock.advance(60_000);
    await scheduler.onIdle();
    const [second, first] = await scheduler.history({ task: 'api' });
    const strict = (await scheduler.history({ task: 'strict' })).at(-1);
    await scheduler.stop();
    const cause = `connection refused: nothing listens on 127.0.0.1:${port} (ECONNREFUSED)`;
    assert.equal(first?.status, 'succeeded');
    assert.deepEqual({ ...(first?.output as object), latencyMs: 0 }, { url, status: null, ok: false, latencyMs: 0, consecutiveFailures: 1, error: cause });
    assert.equal(second?.status, 'failed');
    assert.equal(second?.error?.message, `GET ${url}: ${cause} (2 consecutive failures, failAfter 2)`);
    assert.deepEqual({ ...(second?.output as object), latencyMs: 0 }, { url, status: null, ok: false, latencyMs: 0, consecutiveFailures: 2, error: cause }, 'the failed run keeps the findings');
    assert.equal(strict?.status, 'failed', 'with the default failAfter 1 every miss fails the run');
    assert.equal(strict?.error?.message, `GET ${url}: ${cause} (1 consecutive failure, failAfter 1)`);
  });

  it('rethrows the run’s own abort instead of counting it as a miss', async () => {
    const controller = new AbortController();
    const reason = new Error('cancelled');
    const pending = httpCheck({ url: `${base}/hang`, failAfter: 5 })(fakeContext({ signal: controller.signal }));
    setImmediate(() => controller.abort(reason));
    await assert.rejects(async () => pending, (e: unknown) => e === reason);
  });

  it('validates options at the factory call', () => {
    assert.throws(
      () => httpCheck({ url: 'ftp://example.com', method: 'FETCH', expectStatus: 99, expectBody: { pattern: '(' }, failAfter: 0, timout: '5s' } as never),
      (e: unknown) => {
        assert.ok(e instanceof InvalidOptionError);
        const byPath = Object.fromEntries(e.issues.map((i) => [i.path, i.fix]));
        assert.match(byPath.url ?? '', /http:\/\/ or https:\/\//);
        assert.match(byPath.method ?? '', /use one of "GET"/);
        assert.ok(byPath.expectStatus !== undefined);
        assert.match(byPath['expectBody.pattern'] ?? '', /is not a valid regular expression/);
        assert.match(byPath.failAfter ?? '', /at least 1/);
        assert.match(byPath.timout ?? '', /did you mean "timeout"/);
        return true;
      },
    );
  });
});
