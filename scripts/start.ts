/**
 * `npm start`: builds, then runs `caretaker demo` until a signal stops it.
 *
 * npm passes SIGINT and SIGTERM (docker stop, kill) on to its direct child only, which is this
 * process because the script `exec`s it: without that, the shell in between dies and the daemon
 * runs on. On Ctrl-C the terminal also signals its whole foreground process group, so a daemon
 * in that group would get Ctrl-C twice and read the second as "stop now, don't wait". So the
 * build and the daemon run in sessions of their own, out of the terminal's reach, and this
 * process relays one signal per event.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
/** Ctrl-C reaches this process twice (terminal, then npm) within milliseconds; a second Ctrl-C to force the stop comes later. */
const SAME_EVENT_MS = 250;

let current: { child: ChildProcess; signalGroup: boolean } | null = null;
let stopSignal: NodeJS.Signals | null = null;
let last = { signal: '', at: -Infinity };

function relay(received: NodeJS.Signals): void {
  // A closed terminal sends SIGHUP, which the daemon takes as "reload the config"; here it means stop.
  const signal = received === 'SIGHUP' ? 'SIGTERM' : received;
  const now = performance.now();
  if (signal === last.signal && now - last.at < SAME_EVENT_MS) return;
  last = { signal, at: now };
  stopSignal ??= signal;
  const pid = current?.child.pid;
  if (pid === undefined) return;
  try {
    // The build is a chain of processes (npm, sh, tsc, vite): all of them stop.
    process.kill(current?.signalGroup === true ? -pid : pid, signal);
  } catch {
    // Already gone.
  }
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, relay);

/** Runs a command in its own session (and process group); resolves with its exit code (128 + n for signal n, like a shell). */
function run(command: string, args: readonly string[], options: { signalGroup: boolean }): Promise<number> {
  return new Promise((resolve) => {
    // An IPC channel to the daemon: if this launcher is killed outright (SIGKILL of npm's process
    // group, which its own session escapes), the channel closes and the daemon stops itself.
    const child = spawn(command, args, {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      detached: true,
      env: { ...process.env, CARETAKER_STOP_WITH_PARENT: '1' },
    });
    current = { child, signalGroup: options.signalGroup };
    child.on('error', (error) => {
      process.stderr.write(`npm start: could not run ${command}: ${error.message}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal === null ? 0 : constants.signals[signal])));
  });
}

let code = await run('npm', ['run', 'build', '--silent'], { signalGroup: true });
if (code === 0 && stopSignal === null) {
  // A young generation of 16 MiB at most: the daemon's RSS stays flat (135 MiB with 1,000 tasks,
  // against 210 MiB and growing by default) at the same lateness (README, "Memory"). Unless
  // NODE_OPTIONS chooses its own.
  const semiSpace = /--max-semi-space-size/.test(process.env.NODE_OPTIONS ?? '') ? [] : ['--max-semi-space-size=16'];
  code = await run(process.execPath, [...semiSpace, fileURLToPath(new URL('../bin/caretaker.js', import.meta.url)), 'demo', ...process.argv.slice(2)], { signalGroup: false });
}
process.exit(code);
