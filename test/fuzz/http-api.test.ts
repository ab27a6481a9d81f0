/**
 * The admin API on bad requests: random query strings for GET /api/runs, random task names and
 * run ids in paths (unicode, encoded slashes, dot segments, malformed escapes), random methods,
 * bodies and Authorization headers, and any Host and Origin a web page could send (DNS rebinding,
 * cross-site forms). Every answer has a fitting 4xx status (never 500), the body
 * `{ error: { code, message } }` with a stable code and no stack text, and a rejected request
 * changes nothing: no run is recorded and no task is paused.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { type AdminApi, type AdminApiOptions, createAdminApi } from '../../src/http/index.ts';
import { createScheduler, postgresStore, type Scheduler, type Store, sqliteStore } from '../../src/index.ts';
import { RUN_STATUSES } from '../../src/store/records.ts';
import { postgresSkip, testDatabase } from '../helpers/postgres.ts';
import { assertNoStack, fuzz, nastyString } from './support.ts';

const TOKEN = 'fuzz-token-0123456789abcdef';
const TASKS = ['report', 'a.b_c-d', '9lives'];
const STABLE_CODES = new Set(['ERR_INVALID_OPTION', 'ERR_TASK_NOT_FOUND', 'ERR_RUN_NOT_FOUND', 'ERR_UNAUTHORIZED', 'ERR_NOT_FOUND', 'ERR_RUN_NOT_RUNNING', 'ERR_HOST_NOT_ALLOWED', 'ERR_ORIGIN_NOT_ALLOWED']);

interface Answer {
  readonly status: number;
  readonly body: Record<string, any>;
  readonly headers: Headers;
}

/** A scheduler with a few idle tasks (no tick for a day), one finished run, and its admin API. */
async function setup(store: Store, options: Partial<AdminApiOptions> = {}) {
  const scheduler: Scheduler = createScheduler({ store, instance: 'fuzz-api' });
  for (const name of TASKS) scheduler.add({ name, schedule: { every: '1d', initialDelay: '1d' }, handler: () => ({ ok: true }) });
  await scheduler.start();
  const finished = new Set<string>();
  scheduler.on('run:finished', (run) => finished.add(run.id));
  /** Resolves once the run has finished, so that it changes nothing later. */
  const settled = async (runId: string) => {
    for (let i = 0; i < 500 && !finished.has(runId); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(finished.has(runId), `run ${runId} did not finish`);
  };
  await settled(await scheduler.trigger('report'));
  const api = createAdminApi({ scheduler, token: TOKEN, processMetrics: false, dashboard: false, allowedHosts: ['caretaker.test'], ...options });
  return { scheduler, api, settled };
}

/** What a rejected request must leave alone: the number of runs, and which tasks are paused. */
async function state(scheduler: Scheduler): Promise<string> {
  const runs = (await scheduler.historyPage({ limit: 1000 })).runs;
  return JSON.stringify({ runs: runs.map((r) => r.id), paused: scheduler.tasks().map((t) => `${t.name}:${t.paused}`) });
}

/** Sends a request built from raw URL text (the URL parser normalises it as a client would). */
async function send(api: AdminApi, path: string, init: RequestInit = {}): Promise<Answer> {
  const res = await api.fetch(new Request(new URL(path, 'http://caretaker.test/'), init));
  const text = await res.text();
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, `${init.method ?? 'GET'} ${path}: ${res.status} ${text.slice(0, 200)}`);
  return { status: res.status, body: JSON.parse(text) as Record<string, any>, headers: res.headers };
}

/** Asserts a status from `allowed`, and for errors the `{ error: { code, message } }` shape. */
function assertAnswer(answer: Answer, allowed: readonly number[], what: string): void {
  assert.ok(allowed.includes(answer.status), `${what}: status ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`);
  if (answer.status < 400) return;
  assert.deepEqual(Object.keys(answer.body), ['error'], what);
  assert.deepEqual(Object.keys(answer.body.error).sort(), ['code', 'message'], what);
  assert.ok(STABLE_CODES.has(answer.body.error.code), `${what}: unexpected code ${answer.body.error.code}`);
  assert.equal(typeof answer.body.error.message, 'string');
  assertNoStack(answer.body.error.message, what);
  if (answer.status === 401) assert.match(answer.headers.get('www-authenticate') ?? '', /^Bearer /, what);
}

/** Text for a path segment: encoded anything, raw URL-special pieces, near-misses of real names. */
const segment: fc.Arbitrary<string> = fc.oneof(
  nastyString.map(encodeURIComponent),
  fc.constantFrom('%2F', 'a%2Fb', '%2f..%2f', '..', '.', '%2e%2e', '%2E', '%', '%ZZ', '%E0%A4%A', '%C0%AF', '%00', '%u002F', 'a;b', '%3F', '%23', '\\', '%5C', '%20', '+', 'report%00', '%72eport', 'Report', 'REPORT', 'report ', 'report.', 'a.b_c-d%2F'),
  fc.string({ unit: fc.constantFrom(...'%2Fa./\\:@!$&\'()*+,;=~-_'), maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 8 }).map(encodeURIComponent),
  fc.constantFrom(...TASKS).chain((t) => fc.nat({ max: t.length - 1 }).map((i) => `${t.slice(0, i)}%${t.charCodeAt(i).toString(16)}${t.slice(i + 1)}`)),
  fc.nat({ max: 5000 }).map((n) => 'x'.repeat(n)),
);

/** What Hono reads from a segment: percent-decoded when it can be, else as written. */
function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** An Authorization header as bytes a client could send (non-Latin-1 text goes as UTF-8 bytes). */
const latin1 = (text: string) => String.fromCharCode(...new TextEncoder().encode(text)).replace(/[\0\r\n]/g, '');
const authorization: fc.Arbitrary<string | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom('', 'Bearer', 'Bearer ', TOKEN, `Token ${TOKEN}`, `Basic ${btoa(`u:${TOKEN}`)}`, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Bearer ${TOKEN.toUpperCase()}`, `Bearer "${TOKEN}"`, `Bearer ${TOKEN},Bearer ${TOKEN}`, `Bearer ${TOKEN} ${TOKEN}`, `Bearer\u00a0x${TOKEN}`, `BearerX ${TOKEN}`),
  fc.tuple(fc.constantFrom('Bearer ', 'bearer ', 'BEARER\t', 'Bearer   '), fc.oneof(nastyString, fc.string({ unit: 'grapheme', maxLength: 40 }), fc.nat({ max: 20_000 }).map((n) => 'y'.repeat(n)))).map(([scheme, token]) => latin1(scheme + token)),
  // Right token, spelt differently: the scheme's case and the spacing are free.
  fc.tuple(fc.constantFrom('Bearer ', 'bearer  ', 'BEARER\t'), fc.constantFrom('', ' ', '\t')).map(([scheme, pad]) => `${pad}${scheme}${TOKEN}${pad}`),
);

/** The spec of the header: scheme "Bearer" (any case), white space, then exactly the token. */
const authorized = (header: string | undefined) => header !== undefined && /^bearer\s+(.+)$/i.exec(header.trim())?.[1] === TOKEN;

/** Request bodies: JSON of any shape, non-JSON text and bytes, with fitting or wrong content types. */
const body: fc.Arbitrary<{ body?: string | Uint8Array<ArrayBuffer>; type?: string }> = fc.oneof(
  fc.constant({}),
  fc.jsonValue().map((v) => ({ body: JSON.stringify(v), type: 'application/json' })),
  fc.tuple(nastyString, fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '', 'application/json; charset=utf-16')).map(([b, type]) => ({ body: b, type })),
  fc.uint8Array({ maxLength: 64 }).map((b) => ({ body: new Uint8Array(b), type: 'application/octet-stream' })),
);

const mutationPath = fc.oneof(
  fc.tuple(fc.constantFrom(...TASKS), fc.constantFrom('trigger', 'pause', 'resume')).map(([t, a]) => `api/tasks/${t}/${a}`),
  segment.map((id) => `api/runs/${id}/cancel`),
  fc.constantFrom('api/tasks', 'api/runs', 'api/tasks/report'),
);

function runsProperties(label: string, makeStore: () => Promise<{ store: Store; drop?: () => Promise<void> }>) {
  describe(`admin API on bad requests: ${label} (fast-check)`, () => {
    let scheduler: Scheduler;
    let api: AdminApi;
    let settled: (runId: string) => Promise<void>;
    let drop: (() => Promise<void>) | undefined;
    before(async () => {
      const made = await makeStore();
      drop = made.drop;
      ({ scheduler, api, settled } = await setup(made.store));
    });
    after(async () => {
      api.close();
      await scheduler.stop({ timeout: '1s' });
      await drop?.();
    });

    it('GET /api/runs with random query strings: 200 or 400/404 naming the parameter', async () => {
      const key = fc.oneof(fc.constantFrom('task', 'status', 'limit', 'cursor'), fc.constantFrom('Task', 'limit ', 'limit[]', 'sort', '', 'cursor%00', 'st%61tus'), nastyString.map(encodeURIComponent));
      const value = fc.oneof(
        fc.constantFrom(...TASKS, ...RUN_STATUSES, 'done', '1', '50', '1000', '1001', '0', '-1', 'NaN', '1e2', '1.5', ' 5', '0x10', 'Infinity', '9'.repeat(400), '', '01a20aea-2807-72b6-bf67-ddceb1d5e02c', 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz'),
        nastyString,
      );
      const query = fc.array(fc.tuple(key, value, fc.boolean()), { maxLength: 5 }).map((pairs) => pairs.map(([k, v, raw]) => `${k}=${raw ? v.replace(/[#&]/g, encodeURIComponent) : encodeURIComponent(v)}`).join('&'));
      await fc.assert(
        fc.asyncProperty(query, async (q) => {
          const before = await state(scheduler);
          const answer = await send(api, `api/runs?${q}`);
          assertAnswer(answer, [200, 400, 404], `?${q}`);
          // As sent: the URL parser drops trailing spaces and the fragment.
          const params = new URL(`api/runs?${q}`, 'http://caretaker.test/').searchParams;
          // A parameter without a name (`?=x`) is dropped by the query parser, as nothing to name.
          const unknown = [...params.keys()].some((k) => k !== '' && !['task', 'status', 'limit', 'cursor'].includes(k));
          const first = (k: string) => params.get(k) ?? '';
          const badLimit = first('limit') !== '' && !(Number.isInteger(Number(first('limit'))) && Number(first('limit')) >= 1 && Number(first('limit')) <= 1000);
          const badStatus = first('status') !== '' && !(RUN_STATUSES as readonly string[]).includes(first('status'));
          const badTask = first('task') !== '' && !TASKS.includes(first('task'));
          const badCursor = first('cursor') !== '' && !/^[0-9a-f-]{36}$/i.test(first('cursor'));
          if (unknown || badLimit || badStatus || badTask || badCursor) {
            assert.notEqual(answer.status, 200, `?${q} was accepted`);
            if (answer.status === 400) assert.match(answer.body.error.message, /^request: |^history query: /);
          } else {
            assert.equal(answer.status, 200, `?${q}: ${JSON.stringify(answer.body)}`);
            const limit = first('limit') === '' ? 50 : Number(first('limit'));
            assert.ok(answer.body.runs.length <= limit);
            for (const run of answer.body.runs) {
              if (first('task') !== '') assert.equal(run.task, first('task'));
              if (first('status') !== '') assert.equal(run.status, first('status'));
            }
          }
          assert.equal(await state(scheduler), before, 'a read changed the state');
        }),
        { ...fuzz(300, 0x4771), examples: [['limit='], ['limit=0'], ['task=report&task=nope'], ['status=%00']] },
      );
    });

    it('task and run names in paths: found, or 404 with a stable code; nothing changes', async () => {
      await fc.assert(
        fc.asyncProperty(segment, fc.constantFrom('GET', 'runs', 'trigger', 'pause', 'resume', 'run', 'cancel'), async (name, action) => {
          const before = await state(scheduler);
          const paths: Record<string, string> = { GET: `api/tasks/${name}`, runs: `api/tasks/${name}/runs`, run: `api/runs/${name}`, cancel: `api/runs/${name}/cancel` };
          const path = paths[action] ?? `api/tasks/${name}/${action}`;
          // The path as sent: the URL parser resolves dot segments and drops trailing spaces.
          const sent = new URL(path, 'http://caretaker.test/').pathname;
          const task = /^\/api\/tasks\/([^/]+)(\/[a-z]+)?$/.exec(sent);
          const registered = task !== null && TASKS.includes(decoded(task[1] as string));
          fc.pre(!(registered && ['trigger', 'pause', 'resume'].includes(action)));
          const get = ['GET', 'runs', 'run'].includes(action);
          const answer = await send(api, path, get ? {} : { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
          // Found only: a registered task's own page, or the run list that "/api/tasks/../runs" resolves to.
          const found = get && ((registered && task?.[2] === undefined) || sent === '/api/runs');
          assertAnswer(answer, found ? [200] : [404], `${get ? 'GET' : 'POST'} ${path}`);
          if (answer.status === 404) assert.ok(['ERR_TASK_NOT_FOUND', 'ERR_RUN_NOT_FOUND', 'ERR_NOT_FOUND'].includes(answer.body.error.code), `${path}: ${answer.body.error.code}`);
          assert.equal(await state(scheduler), before, `${path} changed the state`);
        }),
        { ...fuzz(300, 0x4772), examples: [['%00', 'run'], ['%00', 'cancel'], ['a%2Fb', 'pause']] },
      );
    });

    it('mutations with random methods, bodies and Authorization headers: 401 unless the token is right; a refusal changes nothing', async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('POST', 'POST', 'PUT', 'PATCH', 'DELETE'), mutationPath, authorization, body, async (method, path, header, payload) => {
          const before = await state(scheduler);
          const headers: Record<string, string> = {};
          if (header !== undefined) headers.Authorization = header;
          if (payload.type !== undefined) headers['Content-Type'] = payload.type;
          const answer = await send(api, path, { method, headers, ...(payload.body === undefined ? {} : { body: payload.body }) });
          const what = `${method} ${path} with ${JSON.stringify(header)?.slice(0, 60)}`;
          if (!authorized(header)) {
            assertAnswer(answer, [401], what);
            assert.equal(answer.body.error.code, 'ERR_UNAUTHORIZED');
            assert.equal(await state(scheduler), before, `${what} changed the state`);
            return;
          }
          // The right token: the route does its work (or is not there). Pause (its note) and a task's
          // PATCH (its changes) read a body: anything wrong there is a 400 naming it, or 413 when too large.
          const readsBody = path.endsWith('/pause') || (method === 'PATCH' && /^api\/tasks\/[^/]+$/.test(path));
          assertAnswer(answer, readsBody ? [200, 400, 404, 413] : [200, 202, 404, 409], what);
          if (answer.status >= 400) assert.equal(await state(scheduler), before, `${what} was refused but changed the state`);
          if (answer.status === 202 && typeof answer.body.runId === 'string') await settled(answer.body.runId);
          if (path.endsWith('/pause')) await scheduler.resume(path.split('/')[2] as string);
          // A change a random body happened to make is undone, so the next case starts from the definition.
          if (readsBody && answer.status === 200 && method === 'PATCH') await scheduler.clearOverrides(decodeURIComponent(path.split('/')[2] as string));
        }),
        fuzz(300, 0x4773),
      );
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'caretaker-fuzz-api-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Names the setup's API accepts besides its defaults (see `setup`). */
const ALLOWED_ORIGINS = ['https://console.example', 'http://10.1.2.3:9000'];
const withPort = (host: fc.Arbitrary<string>) => fc.tuple(host, fc.option(fc.integer({ min: 0, max: 65_535 }), { nil: undefined })).map(([h, port]) => (port === undefined ? h : `${h}:${port}`));
/** Loopback names and IP literals: a rebinding page's Host is always its own domain name, never these. */
const trustedHost = withPort(
  fc.oneof(
    fc.constantFrom('localhost', 'LocalHost', 'localhost.', 'caretaker.test', 'CARETAKER.TEST'),
    fc.domain().map((d) => `${d}.localhost`),
    fc.ipV4(),
    fc.ipV6().map((a) => `[${a}]`),
  ),
);
const isOurs = (host: string) => /(^|\.)localhost\.?$|^caretaker\.test$/i.test(host);
/** Every other name, near misses of the trusted ones included, and Host values that are not names at all. */
const foreignHost = fc.oneof(
  withPort(fc.domain().filter((d) => !isOurs(d))),
  withPort(fc.constantFrom('localhost.attacker.example', 'attacker-localhost', 'xlocalhost', '127.0.0.1.nip.io', '[::1].attacker.example', 'caretaker.test.attacker.example', 'xcaretaker.test', '2130706433', '0x7f.1', '[localhost]', '[::1', '[127.0.0.1]')),
  fc.tuple(fc.constantFrom('localhost', '127.0.0.1', '[::1]', 'caretaker.test'), fc.constantFrom('@', '/', '\\', '?', '#', ' ', ',', ';', ':80:80', '%2e'), fc.domain()).map(([h, c, d]) => `${h}${c}${d}`),
  fc.constantFrom('', ' ', ':7070', 'local host', 'attacker.example:port'),
);

/** Every route, dashboard and unknown paths included, with any method. */
const anyRoute = fc.tuple(
  fc.constantFrom('GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE'),
  fc.constantFrom('api/tasks', 'api/tasks/report', 'api/tasks/report/trigger', 'api/tasks/report/pause', 'api/tasks/report/resume', 'api/runs', 'api/runs/0190a0a0-0000-7000-8000-000000000000', 'api/runs/0190a0a0-0000-7000-8000-000000000000/cancel', 'api/events', 'api/info', 'metrics', 'healthz', 'readyz', '', 'index.html', 'api/nothing'),
);

/** Sends with the given headers; the answer's status, and its JSON error when it has one. */
async function sendRaw(api: AdminApi, method: string, path: string, headers: Record<string, string>) {
  const res = await api.fetch(new Request(new URL(path, 'http://caretaker.test/'), { method, headers }));
  const text = res.headers.get('content-type')?.startsWith('application/json') ? await res.text() : (await res.body?.cancel(), '');
  return { status: res.status, error: text === '' ? undefined : (JSON.parse(text) as { error?: { code: string; message: string } }).error };
}

describe('admin API against hostile web pages: any Host, any Origin (fast-check)', () => {
  let scheduler: Scheduler;
  let api: AdminApi;
  before(async () => {
    ({ scheduler, api } = await setup(sqliteStore({ path: join(dir, 'guard.db') }), { allowedOrigins: ALLOWED_ORIGINS }));
  });
  after(async () => {
    api.close();
    await scheduler.stop({ timeout: '1s' });
  });

  it('a foreign Host is 403 ERR_HOST_NOT_ALLOWED on every route and method; loopback names, IP literals and allowed hosts pass', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(foreignHost.map((host) => ({ host, trusted: false })), trustedHost.map((host) => ({ host, trusted: true }))), anyRoute, async ({ host, trusted }, [method, path]) => {
        const before = await state(scheduler);
        // No token: a mutation that passes the guard is 401, so nothing runs either way.
        const answer = await sendRaw(api, method, path, { Host: host });
        const what = `${method} /${path} with Host ${JSON.stringify(host)}`;
        if (trusted) assert.notEqual(answer.status, 403, `${what}: ${answer.error?.message}`);
        else {
          assert.equal(answer.status, 403, what);
          if (method !== 'HEAD') {
            assert.equal(answer.error?.code, 'ERR_HOST_NOT_ALLOWED', what);
            assertNoStack(answer.error?.message ?? '', what);
          }
        }
        assert.equal(await state(scheduler), before, `${what} changed the state`);
      }),
      { ...fuzz(400, 0x4774), examples: [[{ host: 'localhost.attacker.example:7070', trusted: false }, ['POST', 'api/tasks/report/trigger']], [{ host: '[::1]:7070', trusted: true }, ['GET', 'api/events']]] },
    );
  });

  it('a mutation from a foreign Origin (or Origin: null, or Sec-Fetch-Site: cross-site) is 403 ERR_ORIGIN_NOT_ALLOWED; its own origin, allowed ones and no Origin pass; reads are not affected', async () => {
    const scheme = fc.constantFrom('http', 'https', 'HTTP');
    const origin = (host: string) =>
      fc.oneof(
        scheme.map((s) => ({ headers: { Origin: `${s}://${host}` }, foreign: false })),
        fc.constantFrom(...ALLOWED_ORIGINS, 'HTTPS://Console.Example:443', 'http://10.1.2.3:09000').map((o) => ({ headers: { Origin: o }, foreign: false })),
        fc.constantFrom({}, { 'Sec-Fetch-Site': 'same-origin' }, { 'Sec-Fetch-Site': 'same-site' }, { 'Sec-Fetch-Site': 'none' }).map((headers) => ({ headers, foreign: false })),
        fc
          .oneof(
            fc.webUrl().map((u) => new URL(u).origin).filter((o) => !/\.localhost(:\d+)?$/.test(o)),
            fc.constantFrom('null', 'http://console.example', 'https://console.example:8443', 'https://console.example.attacker.example', 'http://10.1.2.3', 'file://', 'https://', 'chrome-extension://abcdef', `http://${host}.attacker.example`, `http://${host}/`, `http://${host}@attacker.example`, 'http://attacker.example', ''),
            fc.integer({ min: 1, max: 65_535 }).map((p) => `http://${host.replace(/:\d*$/, '')}:${p}`).filter((o) => o !== `http://${host}` && !(o.endsWith(':80') && `${o.slice(0, -3)}` === `http://${host}`)),
          )
          .map((o) => ({ headers: { Origin: o }, foreign: true })),
        fc.constant({ headers: { 'Sec-Fetch-Site': 'cross-site' }, foreign: true }),
      );
    const request = trustedHost.chain((host) => fc.tuple(fc.constant(host), origin(host), anyRoute));
    await fc.assert(
      fc.asyncProperty(request, async ([host, { headers, foreign }, [method, path]]) => {
        const before = await state(scheduler);
        const answer = await sendRaw(api, method, path, { Host: host, ...headers });
        const what = `${method} /${path} with Host ${JSON.stringify(host)} and ${JSON.stringify(headers)}`;
        const mutation = !['GET', 'HEAD', 'OPTIONS'].includes(method);
        if (foreign && mutation) {
          assert.equal(answer.status, 403, what);
          assert.equal(answer.error?.code, 'ERR_ORIGIN_NOT_ALLOWED', what);
          assertNoStack(answer.error?.message ?? '', what);
        } else assert.notEqual(answer.status, 403, `${what}: ${answer.error?.message}`);
        assert.equal(await state(scheduler), before, `${what} changed the state`);
      }),
      { ...fuzz(400, 0x4775), examples: [[['127.0.0.1:7070', { headers: { Origin: 'http://127.0.0.1:7071' }, foreign: true }, ['POST', 'api/tasks/report/trigger']]]] },
    );
  });
});

runsProperties('SQLite', async () => ({ store: sqliteStore({ path: join(dir, 'state.db') }) }));

const pgSkip = await postgresSkip();
if (pgSkip === false) {
  runsProperties('PostgreSQL', async () => {
    const db = await testDatabase();
    return { store: postgresStore({ url: db.url }), drop: db.drop };
  });
} else {
  it('admin API on bad requests: PostgreSQL', { skip: pgSkip }, () => {});
}
