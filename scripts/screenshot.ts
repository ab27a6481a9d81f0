/**
 * Makes the README screenshots, docs/dashboard.png (1280×800, device scale 1): the task view of a
 * scheduler with a day of history (successes, failures, one run in progress, one paused task),
 * and docs/task-page.png (1280×1400): one task's page over that day with an output field charted.
 *
 *   node --conditions=caretaker-source scripts/screenshot.ts [out.png] [task-page.png]
 *
 * Needs the built dashboard (npm run build:dashboard) and Chromium at /usr/bin/chromium.
 * The day of history is made in seconds: a first scheduler runs the tasks on a virtual clock from
 * 24 h ago up to now against a SQLite file; a second one, on the real clock, serves that file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createAdminApi, startAdminServer } from '../src/http/index.ts';
import { type Clock, createScheduler, type ScheduleSpec, sqliteStore, systemClock, type TaskContext } from '../src/index.ts';
import { createTestClock } from '../src/testing/index.ts';
import { assertDashboardBuilt, browserUnavailable, CHROMIUM, CHROMIUM_ARGS, gate } from '../test/dashboard/chromium.ts';

const out = process.argv[2] ?? fileURLToPath(new URL('../docs/dashboard.png', import.meta.url));
const taskOut = process.argv[3] ?? fileURLToPath(new URL('../docs/task-page.png', import.meta.url));
const HOUR = 3_600_000;
const NOW = Date.now();

assertDashboardBuilt();
const missing = browserUnavailable();
if (missing !== null) throw new Error(missing);

/** A reproducible pseudo-random source (mulberry32), so the picture is the same every time. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Demo {
  name: string;
  description: string;
  schedule: ScheduleSpec;
  /** Duration range in ms. */
  ms: [number, number];
  /** Whether the run ending at `t` (ms before now) fails, and with what. */
  fails?: (agoMs: number) => Error | null;
  output?: (rand: () => number) => unknown;
}

const crmOutage = (agoMs: number) =>
  agoMs < 1.2 * HOUR || (agoMs > 9 * HOUR && agoMs < 9.6 * HOUR)
    ? Object.assign(new Error('HubSpot answered 503 Service Unavailable (GET /crm/v3/objects/contacts)'), { code: 'EHTTP503' })
    : null;

const DEMO: Demo[] = [
  {
    name: 'refresh-exchange-rates',
    description: 'ECB rates into the pricing cache',
    schedule: { every: '15m' },
    ms: [900, 2_600],
    output: () => ({ currencies: 31, source: 'ecb' }),
  },
  {
    name: 'sync-crm-contacts',
    description: 'Mirrors contacts from HubSpot',
    schedule: { every: '30m' },
    ms: [3_000, 8_000],
    fails: crmOutage,
    output: (r) => ({ upserted: Math.floor(r() * 120) }),
  },
  {
    name: 'rebuild-search-index',
    description: 'Re-indexes the product catalogue',
    schedule: { every: '6h' },
    ms: [170_000, 260_000],
    output: () => ({ documents: 10_000 }),
  },
  {
    name: 'send-digest-emails',
    description: 'Hourly digest for subscribers',
    schedule: { cron: '0 * * * *', timezone: 'Europe/Berlin' },
    ms: [6_000, 19_000],
    output: (r) => ({ sent: 800 + Math.floor(r() * 400) }),
  },
  {
    name: 'warm-cdn-cache',
    description: 'Preloads the 500 most read pages',
    schedule: { every: '10m' },
    ms: [4_000, 9_000],
  },
  {
    name: 'purge-expired-sessions',
    description: 'Drops sessions idle for 30 days',
    schedule: { every: '5m' },
    ms: [80, 420],
    output: (r) => ({ deleted: Math.floor(r() * 50) }),
  },
];

const dir = mkdtempSync(join(tmpdir(), 'caretaker-screenshot-'));
const path = join(dir, 'state.db');
const sleep = (clock: Clock, ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = clock.setTimer(resolve, ms);
    signal.addEventListener('abort', () => (timer.cancel(), reject(signal.reason)), { once: true });
  });

/** The demo tasks on a scheduler with `clock`; `hold` keeps the search index rebuild going. */
function schedulerOn(clock: Clock, hold: ReturnType<typeof gate> | null) {
  const rand = random(7);
  const scheduler = createScheduler({ store: sqliteStore({ path, synchronous: 'normal' }), clock, instance: 'web-1', pollInterval: '1m' });
  for (const demo of DEMO) {
    scheduler.add({
      name: demo.name,
      description: demo.description,
      schedule: demo.schedule,
      handler: async (ctx: TaskContext) => {
        if (hold !== null && demo.name === 'rebuild-search-index') {
          ctx.progress(0.62, 'batch 31/50');
          await hold.wait(ctx.signal);
        }
        const [lo, hi] = demo.ms;
        await sleep(clock, Math.round(lo + rand() * (hi - lo)), ctx.signal); // whole ms: SQLite stores instants as INTEGER
        const error = demo.fails?.(NOW - clock.now());
        if (error) throw error;
        return (demo.output?.(rand) ?? null) as never;
      },
    });
  }
  return scheduler;
}

// 1. A day of history in virtual time. The `every` ticks fall a few minutes before now (the
//    clock starts 7 minutes off the hour), so at the end no run is cut short.
const virtual = createTestClock({ start: NOW - 24 * HOUR - 7 * 60_000, settleTurns: 20 });
const past = schedulerOn(virtual, null);
await past.start();
// Two hours ago, the contacts of nine hours before synced again (the CRM was down then): its page lists the backfill.
await virtual.advanceTo(NOW - 2 * HOUR);
await past.backfill('sync-crm-contacts', { from: NOW - 9.6 * HOUR, to: NOW - 9 * HOUR }, { by: 'ops@example.com' });
await virtual.advanceTo(NOW - 20 * 60_000);
await past.pause('warm-cdn-cache', { note: 'CDN migration until Friday (ops-1423)' }); // paused 20 minutes ago
await virtual.advanceTo(NOW);
// a cron run may still be going: stopping waits for it while virtual time moves on
let stopped = false;
const stopping = past.stop({ timeout: '10m' }).then(() => (stopped = true));
while (!stopped) await virtual.advance(1_000);
await stopping;

// 2. The same file on the real clock, served; the rebuild runs (held at 62 %).
const hold = gate();
const scheduler = schedulerOn(systemClock, hold);
await scheduler.start();
const api = createAdminApi({ scheduler, processMetrics: false });
const server = await startAdminServer({ fetch: api.fetch, host: '127.0.0.1', port: 0 });
const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
try {
  await scheduler.trigger('rebuild-search-index');
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1, colorScheme: 'light', reducedMotion: 'reduce' });
  await page.goto(server.url);
  await page.locator('[data-task="rebuild-search-index"] [role="progressbar"][aria-valuenow="62"]').waitFor({ timeout: 15_000 });
  await page.locator('.conn', { hasText: 'Live' }).waitFor({ timeout: 15_000 });
  await page.locator('[data-task="sync-crm-contacts"] [data-field="status"]', { hasText: 'failed' }).waitFor({ timeout: 15_000 });
  await page.locator('[data-task="warm-cdn-cache"] [data-field="status"]', { hasText: 'paused' }).waitFor({ timeout: 15_000 });
  await page.waitForFunction(() => (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll('.spark canvas').length >= 6);
  await page.mouse.move(0, 799); // no hover effects
  await page.screenshot({ path: out });
  console.log(`wrote ${out}`);

  const tall = await browser.newPage({ viewport: { width: 1280, height: 1400 }, deviceScaleFactor: 1, colorScheme: 'light', reducedMotion: 'reduce' });
  await tall.goto(`${server.url}#/tasks/sync-crm-contacts`);
  await tall.getByRole('button', { name: '24 hours' }).click();
  await tall.getByLabel('Output field to chart').selectOption('upserted');
  await tall.locator('[data-chart="field"] canvas').waitFor({ timeout: 15_000 });
  await tall.locator('[data-chart="outcomes"] canvas').waitFor({ timeout: 15_000 });
  await tall.mouse.move(0, 1399);
  await tall.screenshot({ path: taskOut });
  console.log(`wrote ${taskOut}`);
} finally {
  hold.open();
  await browser.close();
  await server.close();
  api.close();
  await scheduler.stop({ timeout: '1s' });
  rmSync(dir, { recursive: true, force: true });
}
