import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createAdminApi, type AdminApi, startAdminServer } from '../../src/http/index.ts';
import { createScheduler, type RunRecord, type Scheduler, sqliteStore } from '../../src/index.ts';
import { eventually, within } from '../dashboard/chromium.ts';
import { parsePrometheus, sampleValue } from '../helpers/prometheus.ts';
import { keepAliveStream, type ParsedEvent, readEvents } from './support.ts';

const TOKEN = 'a-test-token-of-sufficient-length';
const auth = { Authorization: `Bearer ${TOKEN}` };

/** A handler the test releases: `gate.open()` lets the current run finish. */
function gate() {
  let open: () => void = () => {};
  const state = {
    wait: (signal: AbortSignal) =>
      new Promise<void>((resolve, reject) => {
        open = resolve;
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      }),
    open: () => open(),
  };
  return state;
}

describe('admin API on a real scheduler and SQLite store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'caretaker-api-'));
  let scheduler: Scheduler;
  let api: AdminApi;
  const long = gate();
  const slow = gate();
  // Runs can finish before the test asks for them: keep every finished run, and waiters.
  const finished = new Map<string, RunRecord>();
  const waiters = new Map<string, (run: RunRecord) => void>();
  const finishedRun = (id: string) => new Promise<RunRecord>((resolve) => (finished.has(id) ? resolve(finished.get(id) as RunRecord) : waiters.set(id, resolve)));
  const call = (path: string, init: RequestInit = {}) => api.fetch(new Request(new URL(path, 'http://localhost/'), init));
  const json = async (path: string, init: RequestInit = {}) => {
    const res = await call(path, init);
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };

  before(async () => {
    scheduler = createScheduler({ store: sqliteStore({ path: join(dir, 'state.db') }), instance: 'api-test' });
    scheduler.add({ name: 'report', schedule: { every: '1d', initialDelay: '1d' }, handler: () => ({ rows: 3 }) });
    scheduler.add({ name: 'broken', schedule: { every: '1d', initialDelay: '1d' }, handler: () => Promise.reject(Object.assign(new Error('disk full'), { code: 'ENOSPC' })) });
    scheduler.add({ name: 'long', schedule: { every: '1d', initialDelay: '1d' }, handler: async (ctx) => {
      ctx.progress(0.25, 'a quarter');
      await long.wait(ctx.signal);
    } });
    scheduler.add({ name: 'flaky', schedule: { every: '1d', initialDelay: '1d' }, handler: () => Promise.reject(new Error('upstream 503')) });
    scheduler.add({ name: 'slow', schedule: { every: '1d', initialDelay: '1d' }, handler: (ctx) => slow.wait(ctx.signal) });
    scheduler.add({ name: 'watched', schedule: { every: '1d', initialDelay: '1d' }, staleAfter: '50ms', handler: () => {} });
    scheduler.add({ name: 'chatter', schedule: { every: '1d', initialDelay: '1d' }, handler: (ctx) => {
      ctx.logger.info({ table: 'sessions' }, 'vacuuming');
      ctx.log('done', 'warn');
    } });
    scheduler.on('run:finished', (run) => {
      finished.set(run.id, run);
      waiters.get(run.id)?.(run);
    });
    await scheduler.start();
    api = createAdminApi({ scheduler, token: TOKEN, processMetrics: false });
  });
  after(async () => {
    api.close();
    await scheduler.stop({ timeout: '1s' });
    rmSync(dir, { recursive: true, force: true });
  });

  it('GET /api/tasks and /api/tasks/:name show each task; an unknown name is 404 with a code', async () => {
    const list = await json('api/tasks');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.tasks.map((t: { name: string }) => t.name), ['report', 'broken', 'long', 'flaky', 'slow', 'watched', 'chatter']);
    const one = await json('api/tasks/report');
    assert.equal(one.body.task.scheduleText, 'every 1d');
    assert.equal(one.body.task.paused, false);
    assert.match(one.body.task.nextRunAt, /^\d{4}-\d\d-\d\dT/);
    const missing = await json('api/tasks/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'ERR_TASK_NOT_FOUND');
    assert.match(missing.body.error.message, /no task named "nope"/);
  });

  it('POST trigger answers 202 with the run id; the run, its output and the task view follow', async () => {
    const res = await json('api/tasks/report/trigger', { method: 'POST', headers: auth });
    assert.equal(res.status, 202);
    const run = await finishedRun(res.body.runId);
    assert.equal(run.status, 'succeeded');
    const got = await json(`api/runs/${res.body.runId}`);
    assert.equal(got.body.run.status, 'succeeded');
    assert.equal(got.body.run.trigger, 'manual');
    assert.deepEqual(got.body.run.output, { rows: 3 });
    const view = (await json('api/tasks/report')).body.task;
    assert.equal(view.lastRun.id, res.body.runId);
    assert.equal(view.successRate, 1);
    assert.deepEqual(view.recent.map((r: { id: string }) => r.id), [res.body.runId]);
    assert.match(view.lastSuccessAt, /^\d{4}-/);
  });

  it('a task\'s page data: its next 10 instants and every setting; stats per bucket with the output fields a chart can plot', async () => {
    const one = (await json('api/tasks/report')).body.task;
    assert.equal(one.upcoming.length, 10);
    const gaps = one.upcoming.slice(1).map((t: string, i: number) => Date.parse(t) - Date.parse(one.upcoming[i]));
    assert.ok(gaps.every((g: number) => g === 86_400_000), `one day apart: ${gaps}`);
    assert.equal(one.upcoming[0], one.nextRunAt);
    assert.deepEqual(one.settings.retry, { attempts: 1, backoffMs: 1_000, maxBackoffMs: 300_000, factor: 2 }, JSON.stringify(one.settings));
    assert.deepEqual([one.settings.overlap, one.settings.catchUp, one.settings.jitterMs], ['skip', 'latest', 0]);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await json('api/tasks/report/trigger', { method: 'POST', headers: auth })).body.runId);
    await Promise.all(ids.map(finishedRun));
    const all = (await json('api/runs?task=report&status=succeeded&limit=1000')).body.runs.length;
    const res = await json('api/tasks/report/stats?field=rows');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { stats, fields } = res.body;
    assert.deepEqual(fields, ['rows']);
    assert.equal(stats.buckets.length, 7 * 24, 'a week of hours by default');
    assert.equal(stats.bucketMs, 3_600_000);
    const total = (key: (b: any) => number) => stats.buckets.reduce((n: number, b: any) => n + key(b), 0);
    assert.equal(total((b) => b.outcomes.succeeded), all, 'every succeeded tick of the week');
    assert.equal(total((b) => b.field?.sum ?? 0), 3 * all, 'rows: 3 per run');
    assert.ok(stats.points.length >= 3 && stats.points.every((p: any) => p.durationMs >= 0 && p.status === 'succeeded'));
    const day = (await json(`api/tasks/report/stats?from=${Date.now() - 86_400_000}&to=${new Date(Date.now() + 60_000).toISOString()}&bucket=15m&points=0`)).body.stats;
    assert.deepEqual([day.buckets.length, day.bucketMs, day.points.length, day.pointsOmitted > 0], [97, 900_000, 0, true]);
    const refused = async (query: string, parameter: RegExp) => {
      const r = await json(`api/tasks/report/stats?${query}`);
      assert.equal(r.status, 400, query);
      assert.equal(r.body.error.code, 'ERR_INVALID_OPTION');
      assert.match(r.body.error.message, parameter, query);
    };
    await refused('bucket=1s', /bucket: received 1000; use wider buckets/);
    await refused('bucket=often', /bucket: received "often"/);
    await refused('field=0', /field: received "0"/);
    await refused('points=-1', /points: /);
    await refused('from=yesterday', /from: received "yesterday"; use an ISO-8601 instant/);
    await refused(`from=${new Date().toISOString()}&to=2020-01-01T00:00:00Z`, /from: .*before to/);
    await refused('range=7d', /range: received "7d"; use from, to, bucket, field or points/);
    await refused('from=0&to=8640000000000000&bucket=1000000000000000w', /bucket: received 6\.048e\+23; use whole milliseconds from 1000/);
    await refused('points=0x10', /points: received "0x10"/);
    await refused('to=-8640000000000000', /to: received "-8640000000000000"; use a later instant/);
    // A long range without a bucket gets the narrowest that fits 2,000 buckets.
    const decade = (await json('api/tasks/report/stats?from=2016-01-01T00:00:00Z')).body.stats;
    assert.equal(decade.bucketMs, 7 * 86_400_000);
    assert.equal((await json('api/tasks/nope/stats')).status, 404);
  });

  it('GET /api/runs/:id/logs serves what the run logged, after a seq if asked; bad parameters are 400, unknown runs 404', async () => {
    const { body } = await json('api/tasks/chatter/trigger', { method: 'POST', headers: auth });
    await finishedRun(body.runId);
    const all = await eventually('the log written', async () => {
      const r = await json(`api/runs/${body.runId}/logs`);
      return r.body.lines?.length === 2 ? r : false;
    }, 10_000);
    assert.equal(all.status, 200);
    assert.deepEqual(all.body.lines.map((l: any) => [l.seq, l.level, l.message, l.fields]), [[1, 'info', 'vacuuming', { table: 'sessions' }], [2, 'warn', 'done', null]]);
    assert.deepEqual([all.body.running, all.body.dropped, all.body.runId], [false, 0, body.runId]);
    assert.match(all.body.lines[0].at, /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual((await json(`api/runs/${body.runId}/logs?after=1`)).body.lines.map((l: any) => l.seq), [2]);
    const bad = await json(`api/runs/${body.runId}/logs?after=-1`);
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /after: received "-1"/);
    assert.equal((await json(`api/runs/${body.runId}/logs?since=1`)).status, 400);
    assert.equal((await json('api/runs/0190a0a0-0000-7000-8000-000000000000/logs')).status, 404);
    // A run that logged nothing has an empty log, not a 404.
    const quiet = (await json('api/tasks/report/trigger', { method: 'POST', headers: auth })).body.runId;
    await finishedRun(quiet);
    assert.deepEqual((await json(`api/runs/${quiet}/logs`)).body.lines, []);
  });

  it('PATCH /api/tasks/:name changes options at run time (the next instants move); DELETE …/overrides returns to the definition; both audited', async () => {
    const patch = (body: unknown, headers: Record<string, string> = auth) =>
      json('api/tasks/report', { method: 'PATCH', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const before = (await json('api/tasks/report')).body.task;
    const changed = await patch({ schedule: { every: '10m' }, timeout: '5m' });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.deepEqual([changed.body.task.scheduleText, changed.body.task.timeoutMs, changed.body.task.overrides.by], ['every 10m', 300_000, 'admin']);
    assert.deepEqual(changed.body.task.overrides.fields, { schedule: { every: '10m' }, timeout: '5m' });
    assert.notDeepEqual(changed.body.task.upcoming, before.upcoming);
    assert.equal(Date.parse(changed.body.task.upcoming[1]) - Date.parse(changed.body.task.upcoming[0]), 600_000);
    const bad = await patch({ schedule: { cron: 'every day' } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /schedule\.cron/);
    assert.match((await patch({ name: 'x' })).body.error.message, /name: .*cannot be changed at run time/);
    assert.match((await patch({})).body.error.message, /send at least one of schedule/);
    assert.equal((await patch({ timeout: '1m' }, {})).status, 401, 'needs the token');
    assert.equal((await json('api/tasks/report')).body.task.timeoutMs, 300_000, 'refused edits changed nothing');
    const reset = await json('api/tasks/report/overrides', { method: 'DELETE', headers: auth });
    assert.equal(reset.status, 200);
    assert.deepEqual([reset.body.task.scheduleText, reset.body.task.overrides], ['every 1d', null]);
    // Nothing left to drop: 200, nothing recorded.
    assert.equal((await json('api/tasks/report/overrides', { method: 'DELETE', headers: auth })).status, 200);
    const audit = (await json('api/audit?task=report')).body.entries.slice(0, 2).map((e: any) => [e.action, e.actor, e.detail]);
    assert.deepEqual(audit, [['reset', 'admin', null], ['override', 'admin', { schedule: { every: '10m' }, timeout: '5m' }]]);
  });

  it('a failed run carries its error message, code and stack', async () => {
    const { body } = await json('api/tasks/broken/trigger', { method: 'POST', headers: auth });
    await finishedRun(body.runId);
    const run = (await json(`api/runs/${body.runId}`)).body.run;
    assert.equal(run.status, 'failed');
    assert.equal(run.error.message, 'disk full');
    assert.equal(run.error.code, 'ENOSPC');
    assert.match(run.error.stack, /Error: disk full/);
    assert.equal((await json('api/tasks/broken')).body.task.successRate, 0);
  });

  it('every mutation needs the bearer token: missing or wrong is 401, reads stay open', async () => {
    const mutations = ['api/tasks/report/trigger', 'api/tasks/report/pause', 'api/tasks/report/resume', 'api/runs/0190a0a0-0000-7000-8000-000000000000/cancel'];
    for (const path of mutations) {
      for (const headers of [{}, { Authorization: 'Bearer wrong-token-wrong-token' }, { Authorization: TOKEN }]) {
        const res = await json(path, { method: 'POST', headers });
        assert.equal(res.status, 401, `${path} with ${JSON.stringify(headers)}`);
        assert.equal(res.body.error.code, 'ERR_UNAUTHORIZED');
      }
    }
    assert.equal((await call('api/tasks')).status, 200);
    assert.equal((await json('api/tasks/report')).body.task.paused, false, 'nothing changed');
  });

  it('pause and resume answer with the task; unknown tasks are 404', async () => {
    const paused = await json('api/tasks/report/pause', { method: 'POST', headers: auth });
    assert.equal(paused.status, 200);
    assert.equal(paused.body.task.paused, true);
    assert.equal(scheduler.task('report')?.paused, true);
    const resumed = await json('api/tasks/report/resume', { method: 'POST', headers: auth });
    assert.equal(resumed.body.task.paused, false);
    for (const action of ['trigger', 'pause', 'resume']) {
      const res = await json(`api/tasks/nope/${action}`, { method: 'POST', headers: auth });
      assert.equal(res.status, 404);
      assert.equal(res.body.error.code, 'ERR_TASK_NOT_FOUND');
    }
  });

  it('pause takes a note: the task shows it and when it was paused; a bad body is 400 naming the field, too large 413, and pauses nothing', async () => {
    const post = (body: string, headers: Record<string, string> = {}) => json('api/tasks/report/pause', { method: 'POST', headers: { ...auth, 'content-type': 'application/json', ...headers }, body });
    const paused = await post(JSON.stringify({ note: 'disk migration until 18:00 <b>ops</b>' }));
    assert.equal(paused.status, 200);
    assert.equal(paused.body.task.pauseNote, 'disk migration until 18:00 <b>ops</b>');
    assert.ok(Math.abs(Date.parse(paused.body.task.pausedAt) - Date.now()) < 60_000, `pausedAt ${paused.body.task.pausedAt}`);
    assert.equal((await json('api/tasks/report')).body.task.pauseNote, 'disk migration until 18:00 <b>ops</b>');
    const resumed = await json('api/tasks/report/resume', { method: 'POST', headers: auth });
    assert.deepEqual([resumed.body.task.paused, resumed.body.task.pauseNote, resumed.body.task.pausedAt], [false, null, null]);
    for (const [body, field] of [
      ['{"note": 42}', 'note'],
      ['{"note": "x", "why": 1}', 'why'],
      ['[1]', 'body'],
      ['not json', 'body'],
      [JSON.stringify({ note: 'y'.repeat(501) }), 'note'],
      [JSON.stringify({ note: 'a\u0000b' }), 'note'],
    ] as const) {
      const res = await post(body);
      assert.equal(res.status, 400, body);
      assert.equal(res.body.error.code, 'ERR_INVALID_OPTION');
      assert.match(res.body.error.message, new RegExp(`^request: ${field}: `), body);
    }
    const huge = await post(JSON.stringify({ note: 'z'.repeat(100_000) }));
    assert.equal(huge.status, 413);
    assert.equal(huge.body.error.code, 'ERR_INVALID_OPTION');
    assert.equal(scheduler.task('report')?.paused, false, 'no refused body paused the task');
    // No body at all (curl -X POST) still pauses, without a note.
    const bare = await json('api/tasks/report/pause', { method: 'POST', headers: auth });
    assert.deepEqual([bare.status, bare.body.task.paused, bare.body.task.pauseNote], [200, true, null]);
    await json('api/tasks/report/resume', { method: 'POST', headers: auth });
  });

  it('GET /api/runs filters and pages; bad parameters are 400 naming the parameter', async () => {
    const all = (await json('api/runs?limit=1')).body;
    assert.equal(all.runs.length, 1);
    assert.equal(typeof all.nextCursor, 'string');
    const next = (await json(`api/runs?limit=1&cursor=${encodeURIComponent(all.nextCursor)}`)).body;
    assert.notEqual(next.runs[0].id, all.runs[0].id);
    const failed = (await json('api/runs?status=failed')).body.runs;
    assert.ok(failed.length >= 1 && failed.every((r: RunRecord) => r.status === 'failed'));
    assert.ok((await json('api/runs?task=report')).body.runs.every((r: RunRecord) => r.task === 'report'));
    for (const [query, parameter] of [['status=done', 'status'], ['limit=0', 'limit'], ['limit=1001', 'limit'], ['limit=ten', 'limit'], ['sort=asc', 'sort']] as const) {
      const res = await json(`api/runs?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(res.body.error.code, 'ERR_INVALID_OPTION');
      assert.match(res.body.error.message, new RegExp(`${parameter}: received`), query);
    }
    const unknownTask = await json('api/runs?task=nope');
    assert.equal(unknownTask.status, 404);
    const unknownRun = await json('api/runs/0190a0a0-0000-7000-8000-000000000000');
    assert.equal(unknownRun.status, 404);
    assert.equal(unknownRun.body.error.code, 'ERR_RUN_NOT_FOUND');
  });

  it('cancel stops a running run (202); a finished run is 409, an unknown one 404', async () => {
    const { body } = await json('api/tasks/long/trigger', { method: 'POST', headers: auth });
    const done = finishedRun(body.runId);
    let view: Record<string, any> = {};
    for (let i = 0; i < 100 && (view.running?.length ?? 0) === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      view = (await json('api/tasks/long')).body.task;
    }
    assert.equal(view.running[0].id, body.runId);
    assert.deepEqual(view.running[0].progress, { fraction: 0.25, message: 'a quarter' });
    const cancel = await json(`api/runs/${body.runId}/cancel`, { method: 'POST', headers: auth });
    assert.equal(cancel.status, 202);
    assert.equal((await done).status, 'cancelled');
    const again = await json(`api/runs/${body.runId}/cancel`, { method: 'POST', headers: auth });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'ERR_RUN_NOT_RUNNING');
    const unknown = await json('api/runs/0190a0a0-0000-7000-8000-000000000000/cancel', { method: 'POST', headers: auth });
    assert.equal(unknown.status, 404);
  });

  it('retry runs a finished run\'s tick again as its next attempt (202); running 409, unknown 404, without the token 401', async () => {
    const { body } = await json('api/tasks/flaky/trigger', { method: 'POST', headers: auth });
    const failed = await finishedRun(body.runId);
    assert.equal(failed.status, 'failed');
    const denied = await json(`api/runs/${failed.id}/retry`, { method: 'POST' });
    assert.equal(denied.status, 401);
    const retry = await json(`api/runs/${failed.id}/retry`, { method: 'POST', headers: auth });
    assert.equal(retry.status, 202);
    assert.deepEqual({ task: retry.body.task, retryOf: retry.body.retryOf }, { task: 'flaky', retryOf: failed.id });
    const again = await finishedRun(retry.body.runId);
    assert.deepEqual(
      { trigger: again.trigger, attempt: again.attempt, scheduledFor: again.scheduledFor.getTime(), causedBy: again.causedBy, status: again.status },
      { trigger: 'retry', attempt: failed.attempt + 1, scheduledFor: failed.scheduledFor.getTime(), causedBy: failed.id, status: 'failed' },
    );
    // A run still running cannot be retried: 409, and nothing is requested.
    const started = await json('api/tasks/slow/trigger', { method: 'POST', headers: auth });
    await eventually('the slow run to be stored running', async () => (await scheduler.getRun(started.body.runId))?.status === 'running', 5_000);
    const running = await json(`api/runs/${started.body.runId}/retry`, { method: 'POST', headers: auth });
    assert.equal(running.status, 409);
    assert.equal(running.body.error.code, 'ERR_RUN_NOT_FINISHED');
    await scheduler.cancel(started.body.runId);
    await finishedRun(started.body.runId);
    const unknown = await json('api/runs/0190a0a0-0000-7000-8000-000000000000/retry', { method: 'POST', headers: auth });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'ERR_RUN_NOT_FOUND');
    const history = await scheduler.history({ task: 'flaky' });
    assert.equal(history.filter((r) => r.trigger === 'retry').length, 1, 'one retry, from the one accepted request');
  });

  it('GET /api/events streams typed events with ids, and resumes from Last-Event-ID', async () => {
    const controller = new AbortController();
    const res = await call('api/events', { signal: controller.signal });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const events = readEvents(res);
    const ready = await events.next();
    assert.equal(ready.event, 'ready');
    const { body } = await json('api/tasks/report/trigger', { method: 'POST', headers: auth });
    const seen: ParsedEvent[] = [];
    while (!seen.some((e) => e.event === 'run:finished')) seen.push(await events.next());
    controller.abort();
    assert.deepEqual(seen.map((e) => e.event), ['run:started', 'run:finished']);
    assert.equal(JSON.parse(seen[1]?.data ?? '{}').id, body.runId);
    assert.equal(JSON.parse(seen[1]?.data ?? '{}').status, 'succeeded');
    assert.ok(Number(seen[0]?.id) > Number(ready.id) && Number(seen[1]?.id) > Number(seen[0]?.id));

    // Reconnecting from the ready event's id replays both, in order; from the future, a reset.
    const again = new AbortController();
    const replay = readEvents(await call('api/events', { headers: { 'Last-Event-ID': ready.id }, signal: again.signal }));
    assert.deepEqual([(await replay.next()).id, (await replay.next()).id], [seen[0]?.id, seen[1]?.id]);
    again.abort();
    const future = new AbortController();
    const reset = readEvents(await call('api/events', { headers: { 'Last-Event-ID': '999999' }, signal: future.signal }));
    assert.equal((await reset.next()).event, 'reset');
    future.abort();
  });

  it('GET /metrics is valid Prometheus text with the runs, durations and task state', async () => {
    const res = await call('metrics');
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const families = parsePrometheus(await res.text());
    assert.equal(families.get('caretaker_runs_total')?.type, 'counter');
    assert.ok((sampleValue(families, 'caretaker_runs_total', { task: 'report', status: 'succeeded' }) ?? 0) >= 2);
    assert.equal(sampleValue(families, 'caretaker_runs_total', { task: 'broken', status: 'failed' }), 1);
    assert.equal(sampleValue(families, 'caretaker_runs_total', { task: 'long', status: 'cancelled' }), 1);
    const count = sampleValue(families, 'caretaker_run_duration_seconds_count', { task: 'broken', status: 'failed' });
    assert.equal(sampleValue(families, 'caretaker_run_duration_seconds_bucket', { task: 'broken', status: 'failed', le: '+Inf' }), count);
    assert.ok((sampleValue(families, 'caretaker_task_last_success_timestamp_seconds', { task: 'report' }) ?? 0) > Date.now() / 1000 - 60);
    assert.equal(sampleValue(families, 'caretaker_task_last_success_timestamp_seconds', { task: 'broken' }), undefined);
    assert.equal(sampleValue(families, 'caretaker_task_paused', { task: 'report' }), 0);
    assert.equal(sampleValue(families, 'caretaker_runs_running', { task: 'long' }), 0);
    assert.ok(families.has('caretaker_claim_conflicts_total') && families.has('caretaker_store_errors_total'));
  });

  it('healthz is up; readyz names stale tasks and answers 503 until they succeed', async () => {
    assert.deepEqual((await json('healthz')).body, { status: 'ok' });
    await new Promise((r) => setTimeout(r, 2_100)); // past staleAfter (50 ms) and the 2 s status cache
    const stale = await json('readyz');
    assert.equal(stale.status, 503);
    assert.deepEqual(stale.body.checks, { store: 'ok', scheduler: 'running', stale: ['watched'] });
    const { body } = await json('api/tasks/watched/trigger', { method: 'POST', headers: auth });
    await finishedRun(body.runId);
    const ready = await json('readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.status, 'ready');
  });

  it('unknown routes are 404 with a code', async () => {
    const res = await json('api/nothing');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'ERR_NOT_FOUND');
  });
});

describe('named tokens with roles', () => {
  const tokens = [
    { name: 'dash', token: 'read-token-0123456789abcdef', role: 'read' },
    { name: 'ci', token: 'operate-token-0123456789ab', role: 'operate' },
    { name: 'oncall', token: 'admin-token-0123456789abcd', role: 'admin' },
  ] as const;
  let scheduler: Scheduler;
  let api: AdminApi;
  const post = (path: string, token?: string) =>
    api.fetch(new Request(new URL(path, 'http://localhost/'), { method: 'POST', headers: token === undefined ? {} : { Authorization: `Bearer ${token}` } }));

  before(async () => {
    scheduler = createScheduler({ instance: 'roles' });
    scheduler.add({ name: 'report', schedule: { every: '1d', initialDelay: '1d' }, handler: () => ({ rows: 3 }) });
    await scheduler.start();
    api = createAdminApi({ scheduler, processMetrics: false, dashboard: false, token: 'single-admin-token-0123456789', tokens });
  });
  after(async () => {
    api.close();
    await scheduler.stop();
  });

  it('read is refused every mutation (403 naming the token and the role needed); operate and admin run them; the single token is admin', async () => {
    for (const path of ['api/tasks/report/trigger', 'api/tasks/report/pause', 'api/tasks/report/resume']) {
      const refused = await post(path, tokens[0].token);
      assert.equal(refused.status, 403, path);
      const body = (await refused.json()) as { error: { code: string; message: string } };
      assert.deepEqual(body.error, { code: 'ERR_FORBIDDEN', message: 'token "dash" has role read; this action needs operate or admin' });
    }
    assert.equal(scheduler.task('report')?.paused, false, 'nothing changed');
    for (const token of [tokens[1].token, tokens[2].token, 'single-admin-token-0123456789']) {
      assert.equal((await post('api/tasks/report/pause', token)).status, 200);
      assert.equal((await post('api/tasks/report/resume', token)).status, 200);
    }
    // A right token of another role is still checked whole: a prefix or a near miss is 401.
    for (const wrong of [undefined, 'read-token-0123456789abcdeX', tokens[1].token.slice(0, -1), `${tokens[2].token} `.repeat(2)]) {
      const res = await post('api/tasks/report/trigger', wrong);
      assert.equal(res.status, 401, String(wrong));
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'ERR_UNAUTHORIZED');
    }
    assert.equal((await api.fetch(new Request('http://localhost/api/tasks'))).status, 200, 'reads stay open');
    const info = (await (await api.fetch(new Request('http://localhost/api/info'))).json()) as { authRequired: boolean };
    assert.equal(info.authRequired, true);
  });

  it('every accepted mutation is in GET /api/audit with who sent it; refused ones are not', async () => {
    const before = (await (await api.fetch(new Request('http://localhost/api/audit?limit=1000'))).json()) as { entries: unknown[] };
    assert.equal((await post('api/tasks/report/trigger', tokens[0].token)).status, 403);
    const paused = await api.fetch(
      new Request('http://localhost/api/tasks/report/pause', { method: 'POST', headers: { Authorization: `Bearer ${tokens[1].token}` }, body: JSON.stringify({ note: 'ops-77' }) }),
    );
    assert.equal(paused.status, 200);
    assert.equal((await post('api/tasks/report/resume', tokens[2].token)).status, 200);
    const triggered = (await (await post('api/tasks/report/trigger', 'single-admin-token-0123456789')).json()) as { runId: string };
    const page = (await (await api.fetch(new Request('http://localhost/api/audit?task=report&limit=3'))).json()) as {
      entries: { actor: string; source: string; action: string; task: string; runId: string | null; detail: unknown; at: string }[];
      nextCursor: string | null;
    };
    assert.deepEqual(
      page.entries.map((e) => [e.actor, e.source, e.action, e.task, e.runId, e.detail]),
      [
        ['admin', 'api', 'trigger', 'report', triggered.runId, null],
        ['oncall', 'api', 'resume', 'report', null, null],
        ['ci', 'api', 'pause', 'report', null, { note: 'ops-77' }],
      ],
    );
    assert.ok(page.entries.every((e) => Math.abs(Date.parse(e.at) - Date.now()) < 60_000));
    const after = (await (await api.fetch(new Request('http://localhost/api/audit?limit=1000'))).json()) as { entries: unknown[] };
    assert.equal(after.entries.length - before.entries.length, 3, 'the refused trigger left no entry');
    for (const [query, field] of [['limit=0', 'limit'], ['cursor=nope', 'cursor'], ['who=me', 'who']] as const) {
      const res = await api.fetch(new Request(`http://localhost/api/audit?${query}`));
      assert.equal(res.status, 400, query);
      assert.match(((await res.json()) as { error: { message: string } }).error.message, new RegExp(`^request: ${field}: `));
    }
  });

  it('a mutation route operate is not listed for needs admin', async () => {
    // No such route exists yet: admin passes the role check and gets the 404; operate stops at 403.
    assert.equal((await post('api/tasks/report/definition', tokens[1].token)).status, 403);
    assert.equal((await post('api/tasks/report/definition', tokens[2].token)).status, 404);
  });

  it('editing a task at run time needs admin: operate may pause it but not change or reset it', async () => {
    const send = (method: string, path: string, token: string, body?: unknown) =>
      api.fetch(new Request(new URL(path, 'http://localhost/'), { method, headers: { Authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) }));
    assert.equal((await send('PATCH', 'api/tasks/report', tokens[1].token, { timeout: '1m' })).status, 403);
    assert.equal((await send('DELETE', 'api/tasks/report/overrides', tokens[1].token)).status, 403);
    assert.equal((await send('PATCH', 'api/tasks/report', tokens[2].token, { timeout: '1m' })).status, 200);
    assert.equal((await send('DELETE', 'api/tasks/report/overrides', tokens[2].token)).status, 200);
  });

  it('backfill (operate): runs a past range, lists and shows it, cancels it; read is refused; bad bodies name the field and store nothing', async () => {
    const send = (method: string, path: string, token: string | undefined, body?: unknown) =>
      api.fetch(
        new Request(new URL(path, 'http://localhost/'), {
          method,
          headers: { ...(token !== undefined ? { Authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
          ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
        }),
      );
    const days = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString();
    const range = { from: days(5), to: days(1) };
    assert.equal((await send('POST', 'api/tasks/report/backfill', tokens[0].token, range)).status, 403);
    assert.equal((await send('POST', 'api/tasks/report/backfill', undefined, range)).status, 401);
    const bad = async (body: unknown, field: string, status = 400) => {
      const res = await send('POST', 'api/tasks/report/backfill', tokens[1].token, body);
      assert.equal(res.status, status, JSON.stringify(body));
      const error = ((await res.json()) as { error: { code: string; message: string } }).error;
      assert.match(error.message, new RegExp(`\\b${field}: `), error.message);
    };
    await bad({ from: 'soon', to: days(1) }, 'from');
    await bad({ from: days(2) }, 'to');
    await bad({ from: days(1), to: days(2) }, 'from');
    await bad({ ...range, extra: 1 }, 'extra');
    await bad({ from: days(5), to: new Date(Date.now() + 86_400_000).toISOString() }, 'to');
    await bad({ from: days(5000), to: days(1) }, 'to');
    await bad('[', 'body');
    await bad({ from: '2025-02-30T00:00:00Z', to: days(1) }, 'from');
    await bad({ from: -8.64e15, to: days(1) }, 'to');
    assert.deepEqual(await scheduler.backfills(), [], 'nothing stored');
    const created = await send('POST', 'api/tasks/report/backfill', tokens[1].token, range);
    assert.equal(created.status, 202);
    const { backfill } = (await created.json()) as { backfill: { id: string; task: string; status: string; requestedBy: string; progress: { total: number } } };
    assert.deepEqual([backfill.task, backfill.requestedBy, backfill.progress.total], ['report', 'ci', 4]);
    await eventually('the backfill to be done', async () => (await scheduler.getBackfill(backfill.id))?.status === 'done', 10_000);
    const shown = (await (await api.fetch(new Request(`http://localhost/api/backfills/${backfill.id}`))).json()) as { backfill: { progress: { succeeded: number } } };
    assert.equal(shown.backfill.progress.succeeded, 4);
    const listed = (await (await api.fetch(new Request('http://localhost/api/tasks/report/backfills'))).json()) as { backfills: { id: string }[] };
    assert.deepEqual(listed.backfills.map((b) => b.id), [backfill.id]);
    for (const query of ['limit=0', 'limit=101', 'status=x']) assert.equal((await api.fetch(new Request(`http://localhost/api/tasks/report/backfills?${query}`))).status, 400, query);
    const done = await send('POST', `api/backfills/${backfill.id}/cancel`, tokens[1].token);
    assert.equal(done.status, 409);
    assert.equal(((await done.json()) as { error: { code: string } }).error.code, 'ERR_BACKFILL_NOT_RUNNING');
    assert.equal((await send('POST', 'api/backfills/nope/cancel', tokens[1].token)).status, 404);
    assert.equal((await api.fetch(new Request('http://localhost/api/backfills/a%00b'))).status, 404);
    // A running one: cancelled as a whole.
    scheduler.add({ name: 'hang', schedule: { every: '1d', initialDelay: '1d' }, handler: (ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))) });
    const hanging = (await (await send('POST', 'api/tasks/hang/backfill', tokens[1].token, range)).json()) as { backfill: { id: string } };
    await eventually('a run of it to start', async () => ((await scheduler.getBackfill(hanging.backfill.id))?.progress.running ?? 0) === 1, 10_000);
    assert.equal((await send('POST', `api/backfills/${hanging.backfill.id}/cancel`, tokens[0].token)).status, 403);
    const cancelled = await send('POST', `api/backfills/${hanging.backfill.id}/cancel`, tokens[1].token);
    assert.equal(cancelled.status, 200);
    await eventually('its run to be cancelled', async () => (await scheduler.getBackfill(hanging.backfill.id))?.progress.cancelled === 1, 10_000);
    const after = await scheduler.getBackfill(hanging.backfill.id);
    assert.deepEqual([after?.status, after?.progress.pending, after?.progress.running], ['cancelled', 3, 0]);
    const audit = (await (await api.fetch(new Request('http://localhost/api/audit?task=hang&limit=5'))).json()) as { entries: { action: string; actor: string }[] };
    assert.deepEqual(audit.entries.map((e) => [e.action, e.actor]), [['cancel-backfill', 'ci'], ['backfill', 'ci']]);
    scheduler.remove('hang');
  });

  it('bad tokens are refused at createAdminApi, naming the entry and field, never echoing a token', () => {
    assert.throws(
      () => createAdminApi({ scheduler, tokens: [{ name: 'a', token: 'short', role: 'read' }, { name: 'a', token: 'long-enough-token-0123456789', role: 'boss' as 'read' }] }),
      (error: Error & { issues?: { path: string; received: string }[] }) => {
        assert.deepEqual(error.issues?.map((i) => i.path).sort(), ['tokens.0.token', 'tokens.1.name', 'tokens.1.role']);
        assert.ok(!error.message.includes('short') && !error.message.includes('long-enough-token'), error.message);
        return true;
      },
    );
  });
});

describe('admin server', () => {
  it('refuses a non-loopback address without a token, naming http.token', async () => {
    await assert.rejects(startAdminServer({ fetch: () => new Response('x'), host: '0.0.0.0', port: 0 }), (error: Error & { issues?: { path: string }[] }) => {
      assert.equal(error.issues?.[0]?.path, 'http.token');
      return true;
    });
  });

  it('serves on loopback; close() ends open event streams and finishes', async () => {
    const scheduler = createScheduler({ instance: 'srv' });
    await scheduler.start();
    const api = createAdminApi({ scheduler, processMetrics: false });
    const server = await startAdminServer({ fetch: api.fetch, host: '127.0.0.1', port: 0 });
    const tab = keepAliveStream(new URL('api/events', server.url).href);
    try {
      await within(tab.ready, 'the stream to open', 5_000);
      assert.equal((await fetch(new URL('healthz', server.url))).status, 200);
      await within(server.close(), 'the server to close with a stream open', 5_000);
      await within(tab.ended, 'the stream to end', 5_000);
    } finally {
      tab.destroy();
      api.close();
      await scheduler.stop();
    }
  });

  it('AdminApi.close() ends open event streams, and later ones at once', async () => {
    const scheduler = createScheduler({ instance: 'api-close' });
    await scheduler.start();
    const api = createAdminApi({ scheduler, processMetrics: false, dashboard: false });
    const events = readEvents(await api.fetch(new Request('http://localhost/api/events')));
    let late: ReturnType<typeof readEvents> | undefined;
    try {
      assert.equal((await events.next()).event, 'ready');
      api.close();
      await within(events.ended(), 'the stream to end after close()', 5_000);
      late = readEvents(await api.fetch(new Request('http://localhost/api/events')));
      await within(late.ended(), 'a stream opened after close() to end', 5_000);
    } finally {
      // A failed run must not leave a stream that keeps the process alive.
      await Promise.all([events.cancel(), late?.cancel(), scheduler.stop()]);
    }
  });
});

describe('alerts through the admin API', () => {
  let scheduler: Scheduler;
  let api: AdminApi;
  const delivered: string[] = [];
  let down = 1;

  before(async () => {
    scheduler = createScheduler({
      instance: 'alerts',
      notify: {
        channels: {
          ops: {
            send: async (event) => {
              if (down-- > 0) throw new Error('webhook down');
              delivered.push(event.id);
            },
          },
        },
        defaults: { on: ['failed'], channels: ['ops'] },
        retry: { attempts: 3, backoff: '10ms', maxBackoff: '20ms' },
      },
    });
    scheduler.add({ name: 'broken', schedule: { every: '1d', initialDelay: '1d' }, handler: () => Promise.reject(new Error('disk full')) });
    await scheduler.start();
    api = createAdminApi({ scheduler, processMetrics: false, dashboard: false });
  });
  after(async () => {
    api.close();
    await scheduler.stop();
  });
  const get = async (path: string) => {
    const res = await api.fetch(new Request(new URL(path, 'http://localhost/')));
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };

  it('GET /api/notifications lists each alert with its delivery; the metrics count sends and failures; bad queries name the parameter', async () => {
    const { runId } = (await (await api.fetch(new Request('http://localhost/api/tasks/broken/trigger', { method: 'POST' }))).json()) as { runId: string };
    await eventually('the alert to be delivered', () => delivered.length === 1, 10_000);
    assert.deepEqual(delivered, [`failed:${runId}`]);
    await eventually('the delivery to be recorded', async () => (await get('api/notifications')).body.notifications[0]?.status === 'delivered', 10_000);
    const page = await get('api/notifications?task=broken&status=delivered');
    assert.equal(page.status, 200);
    const [n] = page.body.notifications as { eventId: string; channel: string; kind: string; attempts: number; lastError: string; claimedBy: string; event: { message: string } }[];
    assert.deepEqual([n?.eventId, n?.channel, n?.kind, n?.attempts, n?.claimedBy], [`failed:${runId}`, 'ops', 'failed', 2, 'alerts']);
    assert.equal(n?.event.message, 'broken failed after 1 attempt: disk full');
    assert.equal((await get('api/notifications?status=failed')).body.notifications.length, 0);
    const metrics = await (await api.fetch(new Request('http://localhost/metrics'))).text();
    const samples = parsePrometheus(metrics);
    assert.equal(sampleValue(samples, 'caretaker_notifications_sent_total', { channel: 'ops', kind: 'failed' }), 1);
    assert.equal(sampleValue(samples, 'caretaker_notification_failures_total', { channel: 'ops', kind: 'failed', final: 'false' }), 1);
    for (const [query, field] of [['status=lost', 'status'], ['limit=0', 'limit'], ['cursor=x', 'cursor'], ['who=me', 'who']] as const) {
      const res = await get(`api/notifications?${query}`);
      assert.equal(res.status, 400, query);
      assert.match(res.body.error.message, new RegExp(`^request: ${field}: `));
    }
    assert.deepEqual((await get('api/notifications?task=%00')).body.notifications, []);
  });
});
