/**
 * The dashboard in a real browser (Debian's Chromium driven by playwright-core) against a real
 * scheduler, SQLite store and admin API server. Handlers wait on gates the tests open, so no
 * test sleeps for a fixed time; every DOM expectation polls with a generous timeout.
 * Needs /usr/bin/chromium (`apt-get install -y chromium`; skipped without it unless CI is set)
 * and the built dashboard (`npm run build:dashboard`). The README image comes from
 * scripts/screenshot.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Locator, type Page, type Response } from 'playwright-core';
import { type AdminApi, type AdminServer, createAdminApi, startAdminServer } from '../../src/http/index.ts';
import { createScheduler, type RunRecord, type Scheduler, sqliteStore } from '../../src/index.ts';
import { assertDashboardBuilt, browserUnavailable, CHROMIUM, CHROMIUM_ARGS, eventually, gate, within } from './chromium.ts';

const TOKEN = 'dashboard-browser-test-token';
const WAIT = 10_000;
/** Long enough to be cut short in a narrow cell. */
const LONG_MESSAGE = 'copying chunk 4 of 10 from the archive bucket to cold storage';

const skip = browserUnavailable() ?? false;

/** The page's globals that callbacks run in the page use (this project compiles without the DOM library). */
interface Win {
  marker?: number;
  document: { activeElement: unknown; documentElement: { scrollWidth: number } };
  requestAnimationFrame(callback: () => void): void;
}

/** Waits until the locator's text (trimmed) equals `expected` or matches it. */
async function expectText(locator: Locator, expected: string | RegExp, what = String(locator)): Promise<string> {
  return eventually(`${what} to read ${String(expected)}`, async () => {
    const text = ((await locator.first().textContent({ timeout: 1_000 })) ?? '').trim();
    return (typeof expected === 'string' ? text === expected : expected.test(text)) ? text : false;
  }, WAIT);
}

const row = (page: Page, task: string) => page.locator(`[data-task="${task}"]`);
const statusOf = (page: Page, task: string) => row(page, task).locator('[data-field="status"]');

/** The next response to a POST whose path ends with `suffix`. */
const postTo = (page: Page, suffix: string): Promise<Response> =>
  page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname.endsWith(suffix), { timeout: WAIT });

describe('dashboard in Chromium', { skip, timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'caretaker-dashboard-'));
  let scheduler: Scheduler;
  let api: AdminApi;
  let secureApi: AdminApi;
  let server: AdminServer;
  let secureServer: AdminServer;
  let browser: Browser;

  // Handlers the tests steer.
  const long = gate();
  const chattyGate = gate();
  let quickHold: ReturnType<typeof gate> | null = null;
  let quickCount = 0;

  // What the alert channel received (event ids).
  const alerts: string[] = [];
  // Every finished run, by id.
  const finished = new Map<string, RunRecord>();
  const finishedRun = (id: string) =>
    eventually(`run ${id} to finish`, () => finished.get(id), WAIT);

  /** Ends a run a test started, however far the test got: cancel it once it exists, wait for its record. */
  async function endRun(id: string): Promise<void> {
    await eventually(`run ${id} to exist`, async () => (await scheduler.getRun(id)) ?? false).catch(() => {});
    await scheduler.cancel(id).catch(() => {});
    await finishedRun(id).catch(() => {});
  }

  // What every page did: requests (to check the host), uncaught errors, console errors.
  const requests: string[] = [];
  const pageErrors: string[] = [];

  async function open(t: TestContext, url: string, options: { viewport?: { width: number; height: number } } = {}): Promise<Page> {
    const context: BrowserContext = await browser.newContext({
      viewport: options.viewport ?? { width: 1280, height: 800 },
      deviceScaleFactor: 1,
      reducedMotion: 'reduce',
    });
    context.setDefaultTimeout(WAIT);
    t.after(() => context.close());
    context.on('request', (r) => requests.push(r.url()));
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(`${url}: ${e.message}`));
    page.on('console', (m) => {
      // A 401/409 answer is logged by Chromium as a failed resource: expected where tested.
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(`${url}: console: ${m.text()}`);
    });
    await page.goto(url);
    await page.locator('[data-task]').first().waitFor({ timeout: WAIT });
    return page;
  }

  before(async () => {
    assertDashboardBuilt();
    scheduler = createScheduler({
      store: sqliteStore({ path: join(dir, 'state.db'), synchronous: 'normal' }),
      instance: 'browser-test',
      notify: { channels: { ops: { send: async (event) => void alerts.push(event.id) } }, tasks: { broken: { on: ['failed'], channels: ['ops'] } } },
    });
    const daily = { every: '1d', initialDelay: '1d' } as const;
    scheduler.add({
      name: 'quick',
      description: 'Answers with an output object',
      schedule: daily,
      handler: async (ctx) => {
        quickCount++;
        if (quickHold !== null) await quickHold.wait(ctx.signal);
        return { rows: quickCount, ok: true };
      },
    });
    scheduler.add({
      name: 'broken',
      schedule: daily,
      handler: () => {
        throw Object.assign(new Error('disk full: /var/data'), { code: 'ENOSPC' });
      },
    });
    scheduler.add({
      name: 'long',
      schedule: daily,
      handler: async (ctx) => {
        ctx.progress(0.4, LONG_MESSAGE);
        await long.wait(ctx.signal);
        return { chunks: 10 };
      },
    });
    scheduler.add({
      name: 'chatty',
      schedule: daily,
      handler: async (ctx) => {
        ctx.logger.info({ table: 'sessions' }, 'step 1: scanning');
        await chattyGate.wait(ctx.signal);
        ctx.logger.warn({}, 'step 2: <b>not markup</b>');
        await chattyGate.wait(ctx.signal);
        return { steps: 2 };
      },
    });
    scheduler.add({ name: 'ticker', schedule: { every: '2s' }, handler: () => ({ tick: true }) });
    scheduler.add({ name: 'nightly', schedule: { cron: '0 3 * * *', timezone: 'UTC' }, handler: () => {} });
    scheduler.add({ name: 'report', after: { task: 'broken', on: 'failure' }, defer: { while: { busy: true }, maxDelay: '1h' }, handler: () => ({ reported: true }) });
    scheduler.on('run:finished', (run) => finished.set(run.id, run));
    await scheduler.start();

    api = createAdminApi({ scheduler, processMetrics: false });
    server = await startAdminServer({ fetch: api.fetch, host: '127.0.0.1', port: 0 });
    secureApi = createAdminApi({ scheduler, token: TOKEN, processMetrics: false });
    secureServer = await startAdminServer({ fetch: secureApi.fetch, host: '127.0.0.1', port: 0, token: TOKEN });

    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  after(async () => {
    long.open();
    chattyGate.open();
    chattyGate.open();
    quickHold?.open();
    await browser?.close();
    await server?.close();
    await secureServer?.close();
    api?.close();
    secureApi?.close();
    await scheduler?.stop({ timeout: '2s' });
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads /: every task with its schedule in words and a countdown to its next run; only 127.0.0.1 is asked', async (t) => {
    const before = requests.length;
    const page = await open(t, server.url);
    const infos = scheduler.tasks();
    assert.deepEqual(infos.map((i) => i.name), ['quick', 'broken', 'long', 'chatty', 'ticker', 'nightly', 'report']);
    await eventually('one row per task', async () => (await page.locator('[data-task]').count()) === infos.length);
    for (const info of infos) {
      const r = row(page, info.name);
      await r.waitFor({ timeout: WAIT });
      assert.ok((await r.textContent())?.includes(info.scheduleText), `${info.name} shows "${info.scheduleText}"`);
      await expectText(r.locator('[data-field="next"]'), info.after !== null ? `after ${info.after.upstreams[0]?.task}` : /^(in \d+[smhd]( \d+[smh])?|due now)$/, `${info.name} countdown`);
      assert.equal(await r.locator('button[data-action="run"]').textContent(), 'Run now');
      assert.equal(await r.locator('button[data-action="pause"]').textContent(), 'Pause');
    }
    assert.equal(scheduler.task('ticker')?.scheduleText, 'every 2s');
    // a day away: "in 23h 59m" or "in 1d 0h"
    await expectText(row(page, 'quick').locator('[data-field="next"]'), /^in (23h 5\dm|1d 0h)$/);
    for (const name of ['quick', 'broken', 'long', 'nightly']) await expectText(statusOf(page, name), 'never run');
    // the countdown moves by itself
    const first = await row(page, 'ticker').locator('[data-field="next"]').textContent();
    await eventually('the ticker countdown to change', async () => (await row(page, 'ticker').locator('[data-field="next"]').textContent()) !== first);

    await page.getByText('Live', { exact: true }).waitFor(); // the live-updates indicator
    const hosts = new Set(requests.slice(before).filter((u) => /^https?:/.test(u)).map((u) => new URL(u).host));
    assert.deepEqual([...hosts], [`127.0.0.1:${server.port}`]);
    assert.ok(requests.slice(before).some((u) => u.endsWith('/api/events')), 'the page subscribed to the event stream');
  });

  it('shows a run go running → succeeded live, without reloading, and the 2 s task updates by itself', async (t) => {
    const page = await open(t, server.url);
    await page.evaluate(() => ((globalThis as unknown as Win).marker = 42));
    const spark = page.getByRole('img', { name: /^Duration trend of ticker/ });
    const runsShown = async () => Number(/over (\d+) runs/.exec((await spark.getAttribute('aria-label', { timeout: 1_000 })) ?? '')?.[1] ?? 0);
    const initial = await runsShown();

    const id = await scheduler.trigger('long'); // from the API side, not the page
    await expectText(statusOf(page, 'long'), 'running');
    const live = row(page, 'long').locator(`[data-run="${id}"]`);
    await live.locator('[role="progressbar"][aria-valuenow="40"]').waitFor({ timeout: WAIT });
    assert.match((await live.textContent()) ?? '', /40%.*copying chunk 4 of 10/);
    await within(long.reached, 'the long run to wait on its gate');
    long.open();
    await expectText(statusOf(page, 'long'), 'succeeded');
    await live.waitFor({ state: 'detached', timeout: WAIT });
    assert.equal((await finishedRun(id)).status, 'succeeded');

    await eventually('the ticker to show more runs', async () => (await runsShown()) > initial);
    assert.equal(await page.evaluate(() => (globalThis as unknown as Win).marker), 42, 'the page was not reloaded');
  });

  it('a run started elsewhere stays shown running when the page refetches the task list', async (t) => {
    const page = await open(t, server.url); // its GET /api/tasks filled the API's status cache
    const id = await scheduler.trigger('long');
    t.after(() => endRun(id));
    await expectText(statusOf(page, 'long'), 'running');
    const refetch = await page.waitForResponse((r) => new URL(r.url()).pathname.endsWith('/api/tasks'));
    const view = ((await refetch.json()) as { tasks: { name: string; running: { id: string }[] }[] }).tasks.find((v) => v.name === 'long');
    assert.deepEqual(view?.running.map((r) => r.id), [id], 'the task list fetched after run:started holds the run');
    await page.evaluate(() => new Promise<void>((resolve) => (globalThis as unknown as Win).requestAnimationFrame(resolve)));
    assert.equal((await statusOf(page, 'long').textContent())?.trim(), 'running');
    assert.equal(await row(page, 'long').locator(`[data-run="${id}"]`).count(), 1);
  });

  it('the header names the instance, the store and the version', async (t) => {
    const page = await open(t, server.url);
    const info = (await (await page.request.get(`${server.url}api/info`)).json()) as Record<string, unknown>;
    assert.equal(info.store, 'sqlite', `GET /api/info: ${JSON.stringify(info)}`);
    const header = page.locator('header .instance');
    await header.waitFor();
    assert.match((await header.textContent()) ?? '', /^browser-test · sqlite · v\d+\.\d+\.\d+$/);
    assert.ok(!(await page.locator('body').innerText()).includes('undefined'), 'no "undefined" on the page');
  });

  it('Run now starts a run that shows as running, then succeeded; the store says trigger manual', async (t) => {
    const page = await open(t, server.url);
    quickHold = gate();
    const hold = quickHold;
    t.after(() => {
      hold.open();
      quickHold = null;
    });
    const response = postTo(page, '/api/tasks/quick/trigger');
    await row(page, 'quick').locator('button[data-action="run"]').click();
    const res = await response;
    assert.equal(res.status(), 202);
    const { runId } = (await res.json()) as { runId: string };

    await row(page, 'quick').locator(`[data-run="${runId}"]`).waitFor({ timeout: WAIT });
    await expectText(statusOf(page, 'quick'), 'running');
    await within(hold.reached, 'the quick run to wait on its gate');
    hold.open();
    await expectText(statusOf(page, 'quick'), 'succeeded');
    await row(page, 'quick').locator(`[data-run="${runId}"]`).waitFor({ state: 'detached', timeout: WAIT });

    await finishedRun(runId);
    const stored = await scheduler.getRun(runId);
    assert.equal(stored?.status, 'succeeded');
    assert.equal(stored?.trigger, 'manual');
    assert.deepEqual(stored?.output, { rows: quickCount, ok: true });

    // its detail shows the output
    await page.getByRole('button', { name: 'Open last run of quick' }).click();
    const dialog = page.locator('dialog[data-panel="run"]');
    await dialog.waitFor({ timeout: WAIT });
    await expectText(dialog.locator('pre[data-field="output"]'), new RegExp(`"rows": ${quickCount},\\s*"ok": true`));
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached', timeout: WAIT });
  });

  it('a task\'s page: schedule, next 10 instants, settings, and charts; picking a numeric output field charts its sum', async (t) => {
    for (let i = 0; i < 2; i++) await finishedRun(await scheduler.trigger('quick'));
    const page = await open(t, server.url);
    await row(page, 'quick').getByRole('link', { name: 'quick' }).click();
    const view = page.locator('[data-task-page="quick"]');
    await expectText(view.locator('[data-field="schedule"]'), 'every 1d');
    await eventually('10 upcoming instants', async () => ((await view.locator('[data-field="upcoming"] li').count()) === 10 ? true : false), WAIT);
    await expectText(view.locator('[data-field="settings"]'), /Retry\s*no retries.*Overlap\s*skip/);
    // What the store holds for the week: every succeeded run of quick, and its rows summed.
    const runs = (await scheduler.history({ task: 'quick', status: 'succeeded', limit: 1000 })).filter((r) => typeof (r.output as { rows?: unknown } | null)?.rows === 'number');
    const sum = runs.reduce((n, r) => n + (r.output as { rows: number }).rows, 0);
    await eventually('the outcomes chart to count the succeeded ticks', async () => {
      const label = (await view.locator('[data-chart="outcomes"]').getAttribute('aria-label')) ?? '';
      return new RegExp(`\\b${runs.length} succeeded`).test(label) ? label : false;
    }, WAIT);
    await view.getByLabel('Output field to chart').selectOption('rows');
    const label = await eventually('the field chart', async () => {
      const text = (await view.locator('[data-chart="field"]').getAttribute('aria-label', { timeout: 1_000 }).catch(() => null)) ?? '';
      return text.startsWith('Sum of rows per hour') ? text : false;
    }, WAIT);
    assert.equal(label, `Sum of rows per hour: ${sum} over ${runs.length} runs`);
    await view.locator('[data-chart="field"] canvas').waitFor({ timeout: WAIT });
    await view.getByRole('button', { name: '30 days' }).click();
    await eventually('day buckets', async () => ((await view.locator('[data-chart="field"]').getAttribute('aria-label')) ?? '').startsWith('Sum of rows per day') || false, WAIT);
    await page.goto(`${server.url}#/tasks/no-such-task`);
    await expectText(page.locator('[role="alert"]'), /No task named "no-such-task"/);
  });

  it('a task\'s page links its upstream and downstream tasks and says its quiet time; an upstream failure runs it once, trigger dependency', async (t) => {
    const page = await open(t, server.url);
    await page.goto(`${server.url}#/tasks/broken`);
    const broken = page.locator('[data-task-page="broken"]');
    await broken.locator('[data-downstream="report"]').click();
    const view = page.locator('[data-task-page="report"]');
    await expectText(view.locator('[data-field="schedule"]'), 'after broken (on failure)');
    await expectText(view.locator('[data-field="dependencies"]'), 'Runs after broken (on failure)');
    await expectText(view.locator('[data-field="settings"]'), /Quiet time\s*waits while the service is busy, up to 1h 0m, then runs/);
    const failedId = await scheduler.trigger('broken');
    await finishedRun(failedId);
    const report = await eventually('the dependency run', async () => (await scheduler.history({ task: 'report', limit: 10 })).find((r) => r.causedBy === failedId && r.status === 'succeeded') ?? false, WAIT);
    assert.equal(report.trigger, 'dependency');
    await view.locator('[data-upstream="broken"]').click();
    await page.locator('[data-task-page="broken"]').waitFor({ timeout: WAIT });
  });

  it('the run dialog shows a running run\'s log and follows it live, line by line, as text', async (t) => {
    const page = await open(t, server.url);
    const runId = await scheduler.trigger('chatty');
    t.after(() => endRun(runId));
    await within(chattyGate.reached, 'the chatty run to log its first line');
    await expectText(statusOf(page, 'chatty'), 'running');
    await row(page, 'chatty').getByRole('button', { name: 'Open the running run of chatty: its log and details' }).click();
    const log = page.locator('dialog[data-panel="run"] pre[data-field="log"]');
    await expectText(log, /INFO step 1: scanning \{"table":"sessions"\}/);
    chattyGate.open();
    await within(chattyGate.reached, 'the chatty run to log its second line');
    // Live: the dialog stays open and the new line arrives.
    await expectText(log, /step 1: scanning.*\n.*WARN step 2: <b>not markup<\/b>/s);
    assert.equal(await log.locator('b').count(), 0, 'a logged line is text, never markup');
    chattyGate.open();
    await expectText(page.locator('dialog[data-panel="run"] [data-field="status"]'), 'succeeded');
    assert.equal(await log.locator('.log-line').count(), 2, 'each line once');
  });

  it('Change… on a task\'s page edits its schedule at run time: the next instants move, the change is marked; Reset returns to the definition', async (t) => {
    const page = await open(t, server.url);
    await row(page, 'nightly').getByRole('link', { name: 'nightly' }).click();
    const view = page.locator('[data-task-page="nightly"]');
    await expectText(view.locator('[data-field="upcoming"] li').first(), /03:00:00/);
    await view.getByRole('button', { name: 'Change…' }).click();
    const dialog = page.locator('dialog[data-panel="edit"]');
    await dialog.getByLabel('Schedule: a cron expression, or "every 10m"').fill('0 5 * * *');
    await dialog.getByLabel('Timeout').fill('90s');
    const saved = page.waitForResponse((r) => r.request().method() === 'PATCH', { timeout: WAIT });
    await dialog.locator('button[data-action="save"]').click();
    assert.equal((await saved).status(), 200);
    await dialog.waitFor({ state: 'detached', timeout: WAIT });
    await expectText(view.locator('[data-field="upcoming"] li').first(), /05:00:00/);
    await view.locator('[data-overridden="schedule"]').waitFor({ timeout: WAIT });
    await view.locator('[data-overridden="timeout"]').waitFor({ timeout: WAIT });
    await expectText(view.locator('[data-field="overrides"]'), /Changed at run time by anonymous, .*: schedule, timeout\./);
    // The page's list of changes (the audit) says who changed what.
    await expectText(view.locator('[data-field="changes"] li').first(), /anonymous \(api\) changed schedule \{"cron":"0 5 \* \* \*","timezone":"UTC"\}, timeout "90s"/);
    assert.deepEqual(scheduler.task('nightly')?.schedule, { cron: '0 5 * * *', timezone: 'UTC' });
    assert.equal(scheduler.task('nightly')?.timeoutMs, 90_000);
    // A bad value is refused with the field named, and changes nothing.
    await view.getByRole('button', { name: 'Change…' }).click();
    await dialog.getByLabel('Schedule: a cron expression, or "every 10m"').fill('0 25 * * *');
    await dialog.locator('button[data-action="save"]').click();
    await expectText(page.locator('.toast'), /schedule\.cron/);
    assert.deepEqual(scheduler.task('nightly')?.schedule, { cron: '0 5 * * *', timezone: 'UTC' });
    await dialog.locator('button[data-action="reset"]').click();
    await dialog.waitFor({ state: 'detached', timeout: WAIT });
    await expectText(view.locator('[data-field="upcoming"] li').first(), /03:00:00/);
    assert.equal(await view.locator('[data-overridden]').count(), 0);
    await expectText(view.locator('[data-field="changes"] li').first(), /anonymous \(api\) reset to its definition/);
    assert.deepEqual(scheduler.task('nightly')?.overrides, null);
  });

  it('Backfill… on a task\'s page runs a past range: each instant once as trigger backfill, its progress shown to done; a range too long is refused naming the field', async (t) => {
    const page = await open(t, server.url);
    await row(page, 'nightly').getByRole('link', { name: 'nightly' }).click();
    const view = page.locator('[data-task-page="nightly"]');
    const dialog = page.locator('dialog[data-panel="backfill"]');
    const local = (ms: number) => {
      const d = new Date(ms);
      const pad = (n: number) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
    };
    // Far too long a range first: refused, the field named, nothing stored.
    await view.getByRole('button', { name: 'Backfill…' }).click();
    await dialog.getByLabel('From').fill(local(Date.parse('2000-01-01T00:00:00Z')));
    await dialog.locator('button[data-action="backfill"]').click();
    await expectText(page.locator('.toast'), /to: .*more than backfillLimit \(1000\)/);
    assert.deepEqual(await scheduler.backfills({ task: 'nightly' }), []);
    // Three days back: the nightly 03:00 instants in it.
    const to = Date.now() - 60_000;
    const from = to - 3 * 86_400_000;
    await dialog.getByLabel('From').fill(local(from));
    await dialog.getByLabel('To').fill(local(to));
    const posted = page.waitForResponse((r) => r.url().endsWith('/api/tasks/nightly/backfill'), { timeout: WAIT });
    await dialog.locator('button[data-action="backfill"]').click();
    assert.equal((await posted).status(), 202);
    await dialog.waitFor({ state: 'detached', timeout: WAIT });
    const [backfill] = await scheduler.backfills({ task: 'nightly' });
    assert.ok(backfill !== undefined);
    const total = backfill.progress.total;
    assert.ok(total === 3 || total === 4, String(total));
    const item = view.locator(`[data-backfill="${backfill.id}"]`);
    await item.locator('xpath=self::*[@data-status="done"]').waitFor({ timeout: WAIT });
    await expectText(item.locator('[data-field="backfill-progress"]'), new RegExp(`^${total} of ${total} started, ${total} succeeded$`));
    const runs = (await scheduler.history({ task: 'nightly', trigger: 'backfill' })).filter((r) => r.slot.startsWith(`b:${backfill.id}:`));
    assert.equal(runs.length, total);
    assert.equal(new Set(runs.map((r) => r.scheduledFor.getTime())).size, total, 'each instant once');
    assert.ok(runs.every((r) => r.scheduledFor.getUTCHours() === 3 && r.scheduledFor.getTime() >= Math.floor(from / 60_000) * 60_000 && r.status === 'succeeded'));
    await expectText(view.locator('[data-field="changes"] li').first(), new RegExp(`anonymous \\(api\\) backfilled ${total} instants from`));
  });

  it('Alerts lists a failure\'s alert with its delivery, and its run opens from it', async (t) => {
    const page = await open(t, server.url);
    await page.getByRole('link', { name: 'Alerts' }).click();
    await page.getByRole('heading', { name: 'Alerts' }).waitFor();
    const runId = await scheduler.trigger('broken');
    await finishedRun(runId);
    await eventually('the alert to be sent', () => alerts.includes(`failed:${runId}`));
    const row = page.locator(`[data-alert="failed:${runId}"][data-channel="ops"]`);
    await row.locator('xpath=self::*[@data-status="delivered"]').waitFor({ timeout: WAIT });
    await expectText(row.locator('[data-field="alert-detail"]'), /^broken failed after 1 attempt: disk full: \/var\/data · delivered by browser-test$/);
    await row.getByRole('button', { name: 'run' }).click();
    await expectText(page.locator('dialog[data-panel="run"]'), new RegExp(runId));
  });

  it('Pause asks for a note, shows the task paused with it, and pauses it in the scheduler and store; Resume undoes it', async (t) => {
    const page = await open(t, server.url);
    const pause = row(page, 'quick').locator('button[data-action="pause"]');
    await expectText(pause, 'Pause');
    await pause.click();
    const dialog = page.locator('dialog[data-panel="pause"]');
    await dialog.waitFor({ timeout: WAIT });
    // Markup in a note is text, never HTML.
    const note = 'vacuum until 18:00 <img src=x onerror=alert(1)> (ops-1423)';
    await dialog.locator('input[name="note"]').fill(note);
    const paused = postTo(page, '/api/tasks/quick/pause');
    await dialog.locator('button[data-action="confirm-pause"]').click();
    const response = await paused;
    assert.equal(response.status(), 200);
    assert.deepEqual(JSON.parse(response.request().postData() ?? '{}'), { note });
    await expectText(statusOf(page, 'quick'), 'paused');
    await expectText(pause, 'Resume');
    await expectText(row(page, 'quick').locator('[data-field="next"]'), 'paused');
    await expectText(row(page, 'quick').locator('[data-field="pause-note"]'), note);
    assert.equal(await row(page, 'quick').locator('[data-field="pause-note"] img').count(), 0);
    assert.equal(scheduler.task('quick')?.pauseNote, note);
    assert.equal(scheduler.task('quick')?.paused, true);
    assert.equal((await scheduler.store.listTasks()).find((s) => s.name === 'quick')?.pauseNote, note);

    const resumed = postTo(page, '/api/tasks/quick/resume');
    await pause.click();
    assert.equal((await resumed).status(), 200);
    await expectText(pause, 'Pause');
    await expectText(statusOf(page, 'quick'), /^(succeeded|never run)$/);
    await expectText(row(page, 'quick').locator('[data-field="next"]'), /^in /);
    assert.equal(scheduler.task('quick')?.paused, false);
    assert.equal((await scheduler.store.listTasks()).find((s) => s.name === 'quick')?.paused, false);
    assert.equal(await row(page, 'quick').locator('[data-field="pause-note"]').count(), 0, 'the note went with the pause');
  });

  it('Cancel on a running run: its progress bar shows 40 %, then the run ends cancelled in the store and the page', async (t) => {
    const page = await open(t, server.url);
    const response = postTo(page, '/api/tasks/long/trigger');
    await row(page, 'long').locator('button[data-action="run"]').click();
    const { runId } = (await (await response).json()) as { runId: string };
    t.after(() => endRun(runId)); // when the test fails before its Cancel

    const live = row(page, 'long').locator(`[data-run="${runId}"]`);
    const bar = live.locator('[role="progressbar"]');
    await live.locator('[role="progressbar"][aria-valuenow="40"]').waitFor({ timeout: WAIT });
    assert.equal(await bar.getAttribute('aria-valuetext'), '40%');
    await within(long.reached, 'the long run to wait on its gate');
    // the run (bar, long message, Cancel) stays inside the status cell instead of covering the next one
    const cell = await live.locator('xpath=ancestor::td[1]').boundingBox();
    for (const part of [live, bar, live.locator('button[data-action="cancel"]')]) {
      const box = await part.boundingBox();
      assert.ok(cell && box && box.x + box.width <= cell.x + cell.width + 0.5, `${String(part)} ${JSON.stringify(box)} lies within its cell ${JSON.stringify(cell)}`);
    }

    const cancel = postTo(page, `/api/runs/${runId}/cancel`);
    await live.locator('button[data-action="cancel"]').click();
    assert.equal((await cancel).status(), 202);
    await expectText(statusOf(page, 'long'), 'cancelled');
    await live.waitFor({ state: 'detached', timeout: WAIT });

    assert.equal((await finishedRun(runId)).status, 'cancelled');
    assert.equal((await scheduler.getRun(runId))?.status, 'cancelled');
  });

  it('History: filtered by status failed, the failed run opens with its error message and stack', async (t) => {
    const failedId = await scheduler.trigger('broken');
    assert.equal((await finishedRun(failedId)).status, 'failed');

    const page = await open(t, server.url);
    await page.locator('a[href="#/history"]').click();
    await page.locator('[data-run-row]').first().waitFor({ timeout: WAIT });
    await page.locator('select[name="status"]').selectOption('failed');
    await eventually('the history to list only failed runs', async () => {
      const statuses = await page.locator('[data-run-row] [data-field="status"]').allTextContents();
      return statuses.length > 0 && statuses.every((s) => s.trim() === 'failed') && (await page.locator(`[data-run-row="${failedId}"]`).count()) === 1;
    });
    assert.match(page.url(), /#\/history\?status=failed$/);

    await page.locator(`[data-run-row="${failedId}"] button[data-action="open"]`).click();
    const dialog = page.locator('dialog[data-panel="run"]');
    await dialog.waitFor({ timeout: WAIT });
    await expectText(dialog.locator('[data-field="status"]'), 'failed');
    await expectText(dialog.locator('[data-field="error"]'), 'disk full: /var/data');
    const stack = await expectText(dialog.locator('pre[data-field="stack"]'), /^Error: disk full: \/var\/data\n\s+at /);
    assert.match(stack, /browser\.test\.ts/);
    assert.equal(await dialog.locator('pre[data-field="output"]').count(), 0);
    assert.ok(await dialog.evaluate((d) => (d as unknown as { open: boolean }).open), 'the dialog is open (modal)');
  });

  it('Retry in the run dialog runs the failed tick again as its next attempt, linked to it', async (t) => {
    const failedId = await scheduler.trigger('broken');
    const failed = await finishedRun(failedId);
    assert.equal(failed.status, 'failed');

    const page = await open(t, server.url);
    await page.locator('a[href="#/history"]').click();
    await page.locator(`[data-run-row="${failedId}"] button[data-action="open"]`).click();
    const dialog = page.locator('dialog[data-panel="run"]');
    await expectText(dialog.locator('[data-field="status"]'), 'failed');
    const retried = postTo(page, `/api/runs/${failedId}/retry`);
    await dialog.locator('button[data-action="retry"]').click();
    const response = await retried;
    assert.equal(response.status(), 202);
    const { runId } = (await response.json()) as { runId: string };
    await expectText(page.locator('.toast'), new RegExp(`retry requested as run ${runId}`));
    const again = await finishedRun(runId);
    assert.deepEqual(
      { trigger: again.trigger, attempt: again.attempt, causedBy: again.causedBy, scheduledFor: again.scheduledFor.getTime() },
      { trigger: 'retry', attempt: failed.attempt + 1, causedBy: failedId, scheduledFor: failed.scheduledFor.getTime() },
    );
    // The new attempt shows in the history, linked to the task.
    await page.locator(`[data-run-row="${runId}"]`).waitFor({ timeout: WAIT });
  });

  it('with a token configured, the first mutation asks for it; a wrong one is rejected, the right one makes the run happen', async (t) => {
    const page = await open(t, secureServer.url);
    const run = row(page, 'quick').locator('button[data-action="run"]');
    const refused = postTo(page, '/api/tasks/quick/trigger');
    await run.click();
    assert.equal((await refused).status(), 401);
    const prompt = page.locator('dialog[data-panel="token"]');
    await prompt.waitFor({ timeout: WAIT });
    assert.ok(await page.locator('#token-input').evaluate((el) => el === (globalThis as unknown as Win).document.activeElement), 'the token input has the focus');

    const wrong = postTo(page, '/api/tasks/quick/trigger');
    await page.locator('#token-input').fill('not-the-token');
    await page.locator('#token-input').press('Enter');
    assert.equal((await wrong).status(), 401);
    await prompt.waitFor({ timeout: WAIT });
    await expectText(prompt, /The server rejected the request/);

    const accepted = postTo(page, '/api/tasks/quick/trigger');
    await page.locator('#token-input').fill(TOKEN);
    await prompt.getByRole('button', { name: 'Save' }).click();
    const res = await accepted;
    assert.equal(res.status(), 202);
    assert.equal(res.request().headers().authorization, `Bearer ${TOKEN}`);
    await prompt.waitFor({ state: 'detached', timeout: WAIT });
    const { runId } = (await res.json()) as { runId: string };
    const stored = await finishedRun(runId);
    assert.equal(stored.status, 'succeeded');
    assert.equal(stored.trigger, 'manual');

    // the token is kept for the tab: the next mutation needs no prompt
    const pausedRes = postTo(page, '/api/tasks/quick/pause');
    await row(page, 'quick').locator('button[data-action="pause"]').click();
    await page.locator('dialog[data-panel="pause"] button[data-action="confirm-pause"]').click();
    assert.equal((await pausedRes).status(), 200);
    await expectText(statusOf(page, 'quick'), 'paused');
    assert.equal(await prompt.count(), 0);
    const resumedRes = postTo(page, '/api/tasks/quick/resume');
    await row(page, 'quick').locator('button[data-action="pause"]').click();
    assert.equal((await resumedRes).status(), 200);
    await expectText(row(page, 'quick').locator('button[data-action="pause"]'), 'Pause');
    assert.equal(scheduler.task('quick')?.paused, false);
  });

  it('at phone width (390×844) every task and its Run now button are visible and usable, a running run too', async (t) => {
    const longId = await scheduler.trigger('long'); // a run with a progress bar and a long message
    t.after(() => endRun(longId));
    const page = await open(t, server.url, { viewport: { width: 390, height: 844 } });
    const live = row(page, 'long').locator(`[data-run="${longId}"]`);
    await live.locator('[role="progressbar"][aria-valuenow="40"]').waitFor();
    for (const info of scheduler.tasks()) {
      const r = row(page, info.name);
      await r.waitFor({ state: 'visible', timeout: WAIT });
      const button = r.locator('button[data-action="run"]');
      await button.scrollIntoViewIfNeeded();
      assert.ok(await button.isVisible(), `Run now of ${info.name} is visible`);
      const box = await button.boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `Run now of ${info.name} lies within the screen: ${JSON.stringify(box)}`);
      assert.ok(box.height >= 24, `Run now of ${info.name} is big enough to tap: ${box.height}px`);
    }
    const cancel = live.locator('button[data-action="cancel"]');
    await cancel.scrollIntoViewIfNeeded();
    const cancelBox = await cancel.boundingBox();
    assert.ok(cancelBox && cancelBox.x >= 0 && cancelBox.x + cancelBox.width <= 390, `Cancel lies within the screen: ${JSON.stringify(cancelBox)}`);
    const overflow = await page.evaluate(() => (globalThis as unknown as Win).document.documentElement.scrollWidth);
    assert.ok(overflow <= 390, `no sideways scrolling (scrollWidth ${overflow})`);

    const response = postTo(page, '/api/tasks/quick/trigger');
    await row(page, 'quick').locator('button[data-action="run"]').click();
    const res = await response;
    assert.equal(res.status(), 202);
    const { runId } = (await res.json()) as { runId: string };
    assert.equal((await finishedRun(runId)).trigger, 'manual');
    await expectText(statusOf(page, 'quick'), 'succeeded');
  });

  it('keyboard: Tab reaches Run now and Enter triggers it', async (t) => {
    const page = await open(t, server.url);
    const target = row(page, 'broken').locator('button[data-action="run"]');
    let presses = 0;
    while (!(await target.evaluate((el) => el === (globalThis as unknown as Win).document.activeElement))) {
      assert.ok(++presses <= 40, 'Tab reached Run now of broken within 40 presses');
      await page.keyboard.press('Tab');
    }
    const focusVisible = await target.evaluate((el) => el.matches(':focus-visible'));
    assert.ok(focusVisible, 'the focused button shows a focus ring');
    const response = postTo(page, '/api/tasks/broken/trigger');
    await page.keyboard.press('Enter');
    const res = await response;
    assert.equal(res.status(), 202);
    const { runId } = (await res.json()) as { runId: string };
    const stored = await finishedRun(runId);
    assert.equal(stored.trigger, 'manual');
    assert.equal(stored.status, 'failed');
    await expectText(statusOf(page, 'broken'), 'failed');
  });

  it('no page asked a host other than 127.0.0.1, and no page threw', () => {
    assert.ok(requests.length > 0);
    const foreign = requests.filter((u) => /^(https?|wss?):/.test(u) && new URL(u).hostname !== '127.0.0.1');
    assert.deepEqual(requests.filter((u) => !/^(https?|data|blob):/.test(u)), [], 'only http(s), data: and blob: URLs');
    assert.deepEqual(foreign, []);
    assert.deepEqual(pageErrors, []);
  });
});
