/** Webhook channels against a real HTTP server on 127.0.0.1. */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { webhookChannel } from '../../src/notify/channels.ts';
import type { WebhookChannelConfig } from '../../src/notify/config.ts';
import { genericBody, type NotifyEvent, slackBody } from '../../src/notify/event.ts';
import { packageVersion } from '../../src/util/package-version.ts';
import { failure, signal } from './fixtures.ts';

const EVENT: NotifyEvent = {
  id: 'failed:run-1',
  kind: 'failed',
  task: 'db-backup',
  at: '2026-01-01T02:00:31.000Z',
  message: 'db-backup failed after 3 attempts: connection <refused> & gone',
  run: { id: 'run-1', status: 'failed', scheduledFor: '2026-01-01T02:00:00.000Z', attempt: 3, durationMs: 1_250, error: 'connection <refused> & gone' },
  dashboardUrl: 'http://127.0.0.1:7070/runs/run-1',
};
const TOKEN = 'tok-4f9a8b7c6d5e3a2b';

interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

type Reply = (req: IncomingMessage, res: ServerResponse) => void;

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    // A hanging request would keep close() waiting for ever.
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
  }
});

/** A server answering with `reply` (after reading the body), recording every request. */
async function serve(reply: Reply): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      reply(req, res);
    });
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

const status = (code: number, body = '', headers: Record<string, string> = {}): Reply => (_req, res) => {
  res.writeHead(code, headers);
  res.end(body);
};

function channel(url: string, options: Partial<Omit<WebhookChannelConfig, 'kind' | 'url'>> = {}) {
  return webhookChannel('ops', { kind: 'webhook', url, format: 'json', headers: {}, timeoutMs: 10_000, ...options });
}


describe('webhook channel: what is sent', () => {
  it('POSTs the generic JSON body with content-type, user-agent and the configured headers', async () => {
    const { url, received } = await serve(status(204));
    await channel(`${url}/alerts?team=ops`, { headers: { 'X-Token': TOKEN, Authorization: `Bearer ${TOKEN}` } }).send(EVENT, signal());
    assert.equal(received.length, 1);
    const [request] = received as [Received];
    assert.equal(request.method, 'POST');
    assert.equal(request.url, '/alerts?team=ops');
    assert.equal(request.headers['content-type'], 'application/json');
    assert.equal(request.headers['user-agent'], `caretaker/${packageVersion()}`);
    assert.equal(request.headers['x-token'], TOKEN);
    assert.equal(request.headers.authorization, `Bearer ${TOKEN}`);
    assert.deepEqual(JSON.parse(request.body), JSON.parse(JSON.stringify(genericBody(EVENT))));
    assert.equal((JSON.parse(request.body) as { version: number }).version, 1);
  });

  it('format slack: a Slack incoming-webhook body, escaped', async () => {
    const { url, received } = await serve(status(200, 'ok'));
    await channel(url, { format: 'slack' }).send(EVENT, signal());
    const body = JSON.parse(received[0]?.body ?? '') as ReturnType<typeof slackBody>;
    assert.deepEqual(body, JSON.parse(JSON.stringify(slackBody(EVENT))));
    assert.equal(body.text, 'db-backup failed after 3 attempts: connection &lt;refused&gt; &amp; gone');
    assert.equal(body.blocks[0]?.type, 'section');
  });

  it('a configured Content-Type replaces ours instead of joining it', async () => {
    const { url, received } = await serve(status(200));
    await channel(url, { headers: { 'Content-Type': 'application/json; charset=utf-8' } }).send(EVENT, signal());
    assert.equal(received[0]?.headers['content-type'], 'application/json; charset=utf-8');
  });

  it('any 2xx is delivered, whatever the body', async () => {
    for (const code of [200, 201, 202, 204]) {
      const { url } = await serve(status(code, code === 204 ? '' : 'x'.repeat(100_000)));
      await channel(url).send(EVENT, signal());
    }
  });
});

describe('webhook channel: failures', () => {
  it('500: retryable, with the status and the start of the body; tried once per send', async () => {
    const { url, received } = await serve(status(500, 'database on fire'));
    const error = await failure(channel(url).send(EVENT, signal()));
    assert.equal(error.retryable, true);
    assert.equal(error.reason, 'status');
    assert.equal(error.status, 500);
    assert.equal(error.body, 'database on fire');
    assert.equal(error.channel, 'ops');
    assert.equal(error.message, `webhook "ops": ${url} answered 500 Internal Server Error: database on fire`);
    assert.equal(received.length, 1, 'retries are the caller\'s');
  });

  it('500 then 200: the next send delivers', async () => {
    let calls = 0;
    const { url, received } = await serve((req, res) => status(++calls === 1 ? 500 : 200)(req, res));
    const hook = channel(url);
    assert.equal((await failure(hook.send(EVENT, signal()))).retryable, true);
    await hook.send(EVENT, signal());
    assert.equal(received.length, 2);
  });

  it('408, 425, 429 and 5xx are retryable; 400, 401, 403, 404, 410 and 422 are not', async () => {
    for (const [code, retryable] of [[408, true], [425, true], [429, true], [502, true], [503, true], [400, false], [401, false], [403, false], [404, false], [410, false], [422, false]] as const) {
      const { url } = await serve(status(code, 'no'));
      const error = await failure(channel(url).send(EVENT, signal()));
      assert.equal(error.retryable, retryable, String(code));
      assert.equal(error.status, code);
    }
  });

  it('400 with a Slack-style answer: not retryable, the answer in the message', async () => {
    const { url } = await serve(status(400, 'invalid_payload'));
    const error = await failure(channel(url, { format: 'slack' }).send(EVENT, signal()));
    assert.equal(error.retryable, false);
    assert.match(error.message, /answered 400 Bad Request: invalid_payload$/);
  });

  it('the body kept is its first 500 bytes; configured header values in it are blanked out', async () => {
    const { url } = await serve((req, res) => status(401, `you sent ${req.headers['x-token']} ${'é'.repeat(1_000)}`)(req, res));
    const error = await failure(channel(url, { headers: { 'X-Token': TOKEN } }).send(EVENT, signal()));
    assert.ok(!error.message.includes(TOKEN) && !(error.body ?? '').includes(TOKEN), error.message);
    assert.match(error.body ?? '', /^you sent \[redacted\] é+$/);
    assert.ok(Buffer.byteLength(error.body ?? '') <= 500);
    assert.ok(error.message.length < 400, 'the message carries a short snippet');
  });

  it('a header value cut by the 500-byte limit is blanked out too, not left half shown', async () => {
    for (const pad of [480, 490, 495, 499]) {
      const { url } = await serve((req, res) => status(403, `${'x'.repeat(pad)}${String(req.headers['x-token'])}`)(req, res));
      const error = await failure(channel(url, { headers: { 'X-Token': TOKEN } }).send(EVENT, signal()));
      assert.equal(error.body, `${'x'.repeat(pad)}[redacted]`.slice(0, 500));
      assert.ok(!(error.body ?? '').includes(TOKEN.slice(0, 4)), String(pad));
    }
  });

  it('the message names the channel and the URL\'s origin, never its path or query (the secret of a Slack URL)', async () => {
    const { url } = await serve(status(404, 'no_service'));
    const error = await failure(channel(`${url}/services/T0/B0/SECRET?key=SECRET2`).send(EVENT, signal()));
    assert.ok(!error.message.includes('SECRET'), error.message);
    assert.equal(error.message, `webhook "ops": ${url}/… answered 404 Not Found: no_service`);
  });

  it('an answer that echoes the URL\'s path or query does not put it in the error', async () => {
    const { url } = await serve((req, res) => status(404, `no route ${req.url}`)(req, res));
    const error = await failure(channel(`${url}/services/T0/B0/SECRET?key=SECRET2`).send(EVENT, signal()));
    assert.ok(!error.message.includes('SECRET') && !(error.body ?? '').includes('SECRET'), error.message);
  });

  it('a redirect is not followed: fails without retry, the other host never called', async () => {
    const other = await serve(status(200));
    const { url, received } = await serve(status(307, '', { location: `${other.url}/steal` }));
    const error = await failure(channel(url, { headers: { 'X-Token': TOKEN } }).send(EVENT, signal()));
    assert.equal(error.status, 307);
    assert.equal(error.retryable, false);
    assert.match(error.message, /a redirect, which is not followed/);
    assert.equal(received.length, 1);
    assert.equal(other.received.length, 0, 'the redirect was followed');
  });

  it('a server that never answers: a retryable timeout error at the channel\'s timeout', async () => {
    const { url, received } = await serve(() => {});
    const startedAt = Date.now();
    const error = await failure(channel(url, { timeoutMs: 300 }).send(EVENT, signal()));
    const took = Date.now() - startedAt;
    assert.equal(error.reason, 'timeout');
    assert.equal(error.retryable, true);
    assert.equal(error.message, `webhook "ops": no answer from ${url} within 300ms`);
    assert.ok(took >= 250 && took < 5_000, `${took} ms`);
    assert.equal(received.length, 1);
  });

  it('a server that answers the status but never finishes the body: the timeout still ends the send', async () => {
    const { url } = await serve((_req, res) => {
      res.writeHead(503, { 'content-length': '1000' });
      res.write('partial');
    });
    const error = await failure(channel(url, { timeoutMs: 300 }).send(EVENT, signal()));
    assert.equal(error.reason, 'timeout');
    assert.equal(error.retryable, true);
  });

  it('nothing listening: a retryable network error naming the cause', async () => {
    const { url } = await serve(status(200));
    for (const server of servers.splice(0)) await new Promise<void>((done) => server.close(() => done()));
    const error = await failure(channel(url).send(EVENT, signal()));
    assert.equal(error.reason, 'network');
    assert.equal(error.retryable, true);
    assert.match(error.message, /^webhook "ops": cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
  });

  it('the caller\'s abort rejects with its reason (not a delivery error), and an aborted signal sends nothing', async () => {
    const { url, received } = await serve(() => {});
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const pending = channel(url).send(EVENT, controller.signal);
    while (received.length === 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort(reason);
    await assert.rejects(pending, (e) => e === reason);
    await assert.rejects(channel(url).send(EVENT, AbortSignal.abort(reason)), (e) => e === reason);
    assert.equal(received.length, 1);
  });
});

describe('webhook channel: what an answer may not leak, and when it asks to wait', () => {
  it('pieces of the secrets echoed back (a query value, a path segment, a bearer token, JSON-escaped, the status text) are blanked out', async () => {
    const bearer = 'bearer-secret-98765';
    const reply: Reply = (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      res.statusMessage = `Bad token ${bearer}`;
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ key: url.searchParams.get('key'), segment: url.pathname.split('/')[2], auth: req.headers.authorization?.slice('Bearer '.length), path: url.pathname }));
    };
    const { url } = await serve(reply);
    const error = await failure(channel(`${url}/hooks/SECRETP999x/T1?key=SECRETQ123`, { headers: { Authorization: `Bearer ${bearer}` } }).send(EVENT, signal()));
    for (const secret of ['SECRETP999x', 'SECRETQ123', bearer]) {
      assert.ok(!error.message.includes(secret) && !(error.body ?? '').includes(secret), `${secret} leaked: ${error.message}`);
    }
    assert.match(error.message, /answered 401 Bad token \[redacted\]/);
  });

  it('429 and 503 with Retry-After say how long to wait (seconds or a date, at most an hour); other answers do not', async () => {
    const seconds = await serve(status(429, 'slow down', { 'retry-after': '7' }));
    assert.equal((await failure(channel(seconds.url).send(EVENT, signal()))).retryAfterMs, 7_000);
    const date = await serve(status(503, '', { 'retry-after': new Date(Date.now() + 120_000).toUTCString() }));
    const asked = (await failure(channel(date.url).send(EVENT, signal()))).retryAfterMs ?? 0;
    assert.ok(asked > 100_000 && asked <= 120_000, String(asked));
    const long = await serve(status(429, '', { 'retry-after': '999999' }));
    assert.equal((await failure(channel(long.url).send(EVENT, signal()))).retryAfterMs, 3_600_000);
    const none = await serve(status(429));
    assert.equal((await failure(channel(none.url).send(EVENT, signal()))).retryAfterMs, null);
    const other = await serve(status(500, '', { 'retry-after': '5' }));
    assert.equal((await failure(channel(other.url).send(EVENT, signal()))).retryAfterMs, null);
  });
});
