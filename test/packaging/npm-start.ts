/**
 * `npm start` stops with npm: `kill -TERM` of the npm process (what `docker stop` and a closing
 * terminal send) must take the demo daemon down and free its port. Runs a real `npm start`,
 * which builds dist/; so it is not in the `npm test` glob (tests running beside it read dist/):
 * `npm run test:packaging` runs it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer().listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    server.on('error', () => resolve(false));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The processes below `pid` (children, grandchildren, ...), from /proc: pid and arguments. */
function descendants(pid: number): { pid: number; argv: string[] }[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name (field 2) may hold spaces and parentheses: the parent pid follows the last ")".
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // Exited meanwhile.
    }
  }
  const found: { pid: number; argv: string[] }[] = [];
  const visit = (parent: number) => {
    for (const child of parents.get(parent) ?? []) {
      try {
        found.push({ pid: child, argv: readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0') });
      } catch {
        continue;
      }
      visit(child);
    }
  };
  visit(pid);
  return found;
}

async function until<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(100);
  }
}

/** `npm start` in a process group of its own on a free port; `stop` is how the test ends it. */
async function startAndStop(stop: (npmPid: number) => void): Promise<void> {
  const port = await freePort();
  const npm = spawn('npm', ['start'], { cwd: ROOT, env: { ...process.env, CARETAKER_HTTP_PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  npm.stdout.on('data', (d: Buffer) => (output += d.toString()));
  npm.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const npmPid = npm.pid ?? assert.fail('npm did not start');
  let daemon: number | undefined;
  try {
    await until('the dashboard to answer', 120_000, async () => {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
      return res?.ok === true ? true : undefined;
    });
    // node [V8 flags…] …/bin/caretaker.js demo
    daemon = await until('the daemon process', 10_000, () =>
      descendants(npmPid).find(({ argv }) => {
        const bin = argv.findIndex((arg) => arg.endsWith('caretaker.js'));
        return bin > 0 && argv[bin + 1] === 'demo';
      })?.pid,
    );
    // With its young generation capped (README, "Memory"), unless NODE_OPTIONS chose otherwise.
    if (!/--max-semi-space-size/.test(process.env.NODE_OPTIONS ?? '')) {
      assert.ok(readFileSync(`/proc/${daemon}/cmdline`, 'utf8').split('\0').includes('--max-semi-space-size=16'), 'the daemon runs with --max-semi-space-size=16');
    }

    stop(npmPid);

    await until('npm to exit', 60_000, () => (npm.exitCode !== null || npm.signalCode !== null ? true : undefined));
    await until(`the daemon (pid ${daemon}) to exit`, 60_000, () => (alive(daemon as number) ? undefined : true));
    assert.equal(await portIsFree(port), true, `port ${port} is still taken`);
  } catch (error) {
    throw new Error(`${(error as Error).message}\nnpm start printed:\n${output.slice(-3000)}`, { cause: error });
  } finally {
    // A failed run must not leave a daemon behind.
    for (const pid of [daemon, npmPid]) if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL');
    // A surviving descendant holds these pipes open: the test must end all the same.
    npm.stdout.destroy();
    npm.stderr.destroy();
  }
}

describe('npm start', { skip: process.platform === 'linux' ? false : 'reads /proc to find the daemon: Linux only' }, () => {
  it('kill -TERM of the npm process stops the daemon and frees its port', { timeout: 180_000 }, async () => {
    await startAndStop((npmPid) => process.kill(npmPid, 'SIGTERM'));
  });

  it("SIGKILL of npm's whole process group (a CI cancel, timeout -s KILL) still stops the daemon", { timeout: 180_000 }, async () => {
    await startAndStop((npmPid) => process.kill(-npmPid, 'SIGKILL'));
  });
});
