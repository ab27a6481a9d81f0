/**
 * The dashboard never scrolls sideways: a failing task with a 2,000-character unbroken error
 * message and a run with a long output, at phone to desktop widths, in both colour schemes, on the
 * task list, in the run dialogs and in history. (A long error line once widened the page to
 * 873 px at 390 px.) Also: times say their zone. Needs /usr/bin/chromium and the built dashboard.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type AdminApi, type AdminServer, createAdminApi, startAdminServer } from '../../src/http/index.ts';
import { createScheduler, type Scheduler } from '../../src/index.ts';
import { assertDashboardBuilt, browserUnavailable, CHROMIUM, CHROMIUM_ARGS, eventually } from './chromium.ts';

const WAIT = 10_000;
const WIDTHS = [320, 390, 768, 1280];
const SCHEMES = ['light', 'dark'] as const;
/** One word, so no line may break inside it unless the page says it may. */
const UNBROKEN = `E${'x'.repeat(1_999)}`;
const BROWSER_ZONE = 'America/New_York';

const skip = browserUnavailable() ?? false;

/** Globals of the page (this project compiles without the DOM library). */
interface Win {
  innerWidth: number;
  document: {
    documentElement: { scrollWidth: number };
    querySelectorAll(selector: string): ArrayLike<{ scrollWidth: number; clientWidth: number; getBoundingClientRect(): { right: number; left: number } }>;
  };
}

/** What sticks out sideways: the page itself, and any open dialog (its box or its content). */
async function overflow(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const w = globalThis as unknown as Win;
    const problems: string[] = [];
    const width = w.document.documentElement.scrollWidth;
    if (width > w.innerWidth) problems.push(`the page is ${width} px wide in a ${w.innerWidth} px window`);
    for (const dialog of Array.from(w.document.querySelectorAll('dialog[open]'))) {
      const box = dialog.getBoundingClientRect();
      if (box.left < 0 || box.right > w.innerWidth) problems.push(`the dialog spans ${box.left}-${box.right} px in a ${w.innerWidth} px window`);
      if (dialog.scrollWidth > dialog.clientWidth) problems.push(`the dialog's content is ${dialog.scrollWidth} px wide in ${dialog.clientWidth} px`);
    }
    return problems;
  });
}

describe('dashboard: nothing overflows sideways; times say their zone', { skip, timeout: 120_000 }, () => {
  let scheduler: Scheduler;
  let api: AdminApi;
  let server: AdminServer;
  let browser: Browser;
  let failedId = '';
  let outputId = '';

  before(async () => {
    assertDashboardBuilt();
    scheduler = createScheduler({
      instance: 'overflow-test-with-a-rather-long-instance-name-for-the-header',
      notify: { channels: { 'a-channel-with-a-long-name-for-the-on-call-rotation': { send: async () => {} } }, defaults: { on: ['failed'], channels: ['a-channel-with-a-long-name-for-the-on-call-rotation'] } },
    });
    let calls = 0;
    scheduler.add({
      name: 'nightly-export-of-the-customer-ledger-to-cold-storage',
      description: `Exports ${'the whole ledger '.repeat(20)}`,
      schedule: { cron: '0 3 * * *', timezone: 'Europe/Berlin' },
      handler: () => {
        calls++;
        if (calls === 1) return { path: `/var/exports/${'segment/'.repeat(120)}ledger.csv`, blob: 'y'.repeat(3_000), rows: 12 };
        throw Object.assign(new Error(UNBROKEN), { code: 'E_SOMETHING_VERY_SPECIFIC_WENT_WRONG' });
      },
    });
    scheduler.add({
      name: 'heartbeat',
      schedule: { every: '1h' },
      after: { task: 'nightly-export-of-the-customer-ledger-to-cold-storage', on: 'finish' },
      windows: [{ days: 'mon,tue,wed,thu,fri,sat,sun', from: '00:00', to: '24:00', timezone: 'America/Argentina/ComodRivadavia' }],
      defer: { while: { eventLoopLagAbove: '5s', cpuAbove: 0.99, memoryAbove: '99%', busy: true }, maxDelay: '1d' },
      when: () => true,
      handler: () => ({ ok: true }),
    });
    await scheduler.start();
    outputId = await scheduler.trigger('nightly-export-of-the-customer-ledger-to-cold-storage');
    await eventually('the first run to end', async () => (await scheduler.getRun(outputId))?.status === 'succeeded');
    failedId = await scheduler.trigger('nightly-export-of-the-customer-ledger-to-cold-storage');
    await eventually('the second run to fail', async () => (await scheduler.getRun(failedId))?.status === 'failed');
    const hour = 3_600_000;
    await scheduler.backfill('heartbeat', { from: Date.now() - 3 * hour, to: Date.now() - hour }, { by: `someone-with-${'a-very-long-name-'.repeat(4)}` });
    api = createAdminApi({ scheduler, processMetrics: false });
    server = await startAdminServer({ fetch: api.fetch, host: '127.0.0.1', port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    api?.close();
    await scheduler?.stop({ timeout: '2s' });
  });

  async function open(t: TestContext, width: number, colorScheme: 'light' | 'dark'): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height: 800 }, deviceScaleFactor: 1, colorScheme, reducedMotion: 'reduce', timezoneId: BROWSER_ZONE, locale: 'en-US' });
    context.setDefaultTimeout(WAIT);
    t.after(() => context.close());
    const page = await context.newPage();
    await page.goto(server.url);
    await page.locator('[data-task]').first().waitFor();
    return page;
  }

  for (const scheme of SCHEMES) {
    for (const width of WIDTHS) {
      it(`${width} px, ${scheme}: the task list, both run dialogs, history, alerts, a task page with backfills and the backfill form stay within the window`, async (t) => {
        const page = await open(t, width, scheme);
        const row = page.locator('[data-task="nightly-export-of-the-customer-ledger-to-cold-storage"]');
        await row.locator('[data-field="status"]').filter({ hasText: 'failed' }).waitFor();
        const dark = await page.evaluate(() => (globalThis as unknown as { matchMedia(query: string): { matches: boolean } }).matchMedia('(prefers-color-scheme: dark)').matches);
        assert.equal(dark, scheme === 'dark', 'the page sees the colour scheme asked for');
        assert.deepEqual(await overflow(page), [], 'task list');

        await row.getByRole('button', { name: /^Open last run of/ }).click();
        const dialog = page.locator('dialog[data-panel="run"]');
        await dialog.locator('[data-field="error"]').waitFor();
        assert.equal(((await dialog.locator('[data-field="error"]').textContent()) ?? '').trim(), UNBROKEN);
        assert.deepEqual(await overflow(page), [], 'the failed run');
        await page.keyboard.press('Escape');
        await dialog.waitFor({ state: 'detached' });

        await page.goto(`${server.url}#/history`);
        await page.locator(`[data-run-row="${failedId}"]`).waitFor();
        assert.deepEqual(await overflow(page), [], 'history');
        await page.locator(`[data-run-row="${outputId}"] button[data-action="open"]`).click();
        await dialog.locator('pre[data-field="output"]').waitFor();
        assert.deepEqual(await overflow(page), [], 'the run with a long output');
        await page.keyboard.press('Escape');
        await dialog.waitFor({ state: 'detached' });

        await page.goto(`${server.url}#/alerts`);
        await page.locator(`[data-alert="failed:${failedId}"]`).waitFor();
        assert.deepEqual(await overflow(page), [], 'alerts');
        await page.goto(`${server.url}#/tasks/heartbeat`);
        await page.locator('[data-field="backfills"] li').first().waitFor();
        await page.locator('[data-field="dependencies"]').waitFor();
        assert.deepEqual(await overflow(page), [], 'the task page with its backfills, dependencies, windows and quiet time');
        await page.getByRole('button', { name: 'Backfill…' }).click();
        await page.locator('dialog[data-panel="backfill"]').waitFor();
        assert.deepEqual(await overflow(page), [], 'the backfill form');
      });
    }
  }

  it('times say their zone: the next run in the task zone and in the browser zone, the rest in the browser zone; the rate counts ticks', async (t) => {
    const page = await open(t, 1280, 'light');
    const info = scheduler.task('nightly-export-of-the-customer-ledger-to-cold-storage');
    assert.equal(info?.scheduleText, 'at 03:00 every day, Europe/Berlin');
    const next = info?.nextRunAt?.getTime() ?? 0;
    // As the page formats them in its en-US locale: "Jan 12, 03:00 AM".
    const at = (zone: string) => new Intl.DateTimeFormat('en-US', { timeZone: zone, month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }).format(next);
    assert.match(at('Europe/Berlin'), /, 03:00 AM$/);
    const row = page.locator('[data-task="nightly-export-of-the-customer-ledger-to-cold-storage"]');
    assert.ok(((await row.textContent()) ?? '').includes('at 03:00 every day, Europe/Berlin'), 'the schedule in words with its zone');
    const cell = row.locator('[data-field="next-at"]');
    // 03:00 in Berlin is 21:00 or 22:00 the day before in New York: the reader's line gives its date.
    await eventually('the next run in both zones', async () => {
      const text = ((await cell.textContent()) ?? '').replace(/\s+/g, ' ');
      return text.includes(`${at('Europe/Berlin')} Europe/Berlin`) && text.includes(`${at(BROWSER_ZONE)} your time`) ? text : false;
    });
    assert.equal(await cell.locator('time').first().getAttribute('datetime'), new Date(next).toISOString());
    assert.equal(await cell.locator('.your-time').getAttribute('title'), `your time: ${BROWSER_ZONE}`);

    // The success rate counts ticks: one succeeded, one failed.
    assert.match(((await row.locator('.rate').textContent()) ?? '').replace(/\s+/g, ' '), /^50%\s*1\/2 ticks$/);

    // A task without a zone shows the browser's.
    const heartbeat = page.locator('[data-task="heartbeat"] [data-field="next-at"]');
    assert.match(((await heartbeat.textContent()) ?? '').replace(/\s+/g, ' '), /\d\d:\d\d:\d\d [AP]M (EST|EDT)$/);

    // The run dialog says which zone its times are in.
    await row.getByRole('button', { name: /^Open last run of/ }).click();
    const dialog = page.locator('dialog[data-panel="run"]');
    await dialog.locator('[data-field="error"]').waitFor();
    assert.match(((await dialog.locator('.fact', { hasText: 'Started' }).textContent()) ?? '').replace(/\s+/g, ' '), /\d\d:\d\d:\d\d [AP]M (EST|EDT)/);
  });
});
