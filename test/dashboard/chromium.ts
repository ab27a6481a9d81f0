/** Shared by the dashboard's browser tests and scripts/screenshot.ts: Chromium, the build check, gates. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DASHBOARD_DIR } from '../../src/http/static-assets.ts';

/** Debian's Chromium (`apt-get install -y chromium`); playwright-core drives it, no download. */
export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

/**
 * Why the browser tests cannot run here, or null when they can. Without Chromium they are
 * skipped on a developer machine; in CI (which installs it) a missing browser is an error.
 */
export function browserUnavailable(): string | null {
  if (existsSync(CHROMIUM)) return null;
  const message = `${CHROMIUM} is missing: install it with \`apt-get install -y chromium\` to run the dashboard's browser tests`;
  if (process.env.CI) throw new Error(`${message} (CI must install it)`);
  return message;
}

/** Throws unless the dashboard has been built into dist/dashboard. */
export function assertDashboardBuilt(): void {
  if (!existsSync(join(DASHBOARD_DIR, 'index.html'))) {
    throw new Error(`${join(DASHBOARD_DIR, 'index.html')} is missing: run npm run build:dashboard`);
  }
}

/**
 * A point a handler waits at until the test opens it (or the run's signal aborts). Each `wait`
 * creates a fresh gate; `open` releases the current one, `reached` resolves once a run waits.
 */
export function gate() {
  let release: (() => void) | null = null;
  let arrived: (() => void) | null = null;
  let reached = new Promise<void>((resolve) => (arrived = resolve));
  return {
    wait(signal: AbortSignal): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        release = resolve;
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        arrived?.();
      });
    },
    /** Resolves when a handler is waiting (since the last `open`). */
    get reached() {
      return reached;
    },
    open(): void {
      release?.();
      release = null;
      reached = new Promise<void>((resolve) => (arrived = resolve));
    },
  };
}

/** Polls `check` until it returns true (or a value that is not false/undefined), or throws after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | false | undefined> | T | false | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== false && value !== undefined) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : String(last)})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `promise`, or an error naming `what` after `timeoutMs`: no test hangs on a gate nobody reaches. */
export async function within<T>(promise: Promise<T>, what: string, timeoutMs = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
