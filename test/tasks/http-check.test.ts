import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createScheduler } from 'caretaker';
import { type HttpCheckOptions, type HttpCheckResult, httpCheck } from 'caretaker/tasks';
import { createTestClock } from 'caretaker/testing';
import { InvalidOptionError } from '../../src/util/errors.ts';
import { fakeContext } from './context.ts';

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
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await check({ url: `http://127.0.0.1:${port}/`, failAfter: 2 });
    assert.equal(refused.ok, false);
    assert.match(refused.error ?? '', /ECONNREFUSED/);
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
