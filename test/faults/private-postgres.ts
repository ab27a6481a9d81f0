import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/**
 * A PostgreSQL server of the test's own (initdb in a temporary directory, its own port), so a
 * test can stop, kill and restart it without disturbing the shared server other tests use.
 */
export interface PrivatePostgres {
  readonly url: string;
  /** Stops the server: `immediate` is a crash (no checkpoint), as a killed host would. */
  stop(mode?: 'fast' | 'immediate'): void;
  start(): void;
  /** Terminates every client connection (pg_terminate_backend), as a failover or an admin would. */
  terminateConnections(): Promise<number>;
  dispose(): void;
}

const binDir = (): string | null => {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const version = readdirSync(root).sort().at(-1);
  return version === undefined ? null : join(root, version, 'bin');
};

/** Why the private server cannot run here, or false. In CI it must run: this throws. */
export function privatePostgresSkip(): string | false {
  const bin = binDir();
  const problem =
    bin === null || !existsSync(join(bin, 'initdb')) ? 'PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb) are not installed'
    : process.getuid?.() !== 0 ? 'these tests start their own PostgreSQL server as the postgres user, which needs root (run as root, e.g. in CI)'
    : spawnSync('id', ['postgres']).status !== 0 ? 'there is no postgres system user'
    : null;
  if (problem === null) return false;
  if (process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false') throw new Error(`${problem} (required in CI)`);
  return problem;
}

/** initdb + start on a free port; about a second. */
export function startPrivatePostgres(): PrivatePostgres {
  const bin = binDir() as string;
  const dir = mkdtempSync(join(tmpdir(), 'caretaker-pg-'));
  chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()));
  const data = join(dir, 'data');
  // Below the kernel's ephemeral range (32768–60999 on Linux), where an outgoing connection of
  // this machine can hold the port the server wants (seen: "could not bind ... in use").
  const port = 20_000 + (process.pid % 12_000);
  const asPostgres = (command: string, args: string[]) => execFileSync('runuser', ['-u', 'postgres', '--', join(bin, command), ...args], { stdio: 'pipe' });
  asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50`;
  const start = () => void asPostgres('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start']);
  const stop = (mode: 'fast' | 'immediate' = 'fast') => void asPostgres('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']);
  start();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let running = true;
  return {
    url,
    stop(mode) {
      stop(mode);
      running = false;
    },
    start() {
      start();
      running = true;
    },
    async terminateConnections() {
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        const { rows } = await admin.query('SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = $1', ['client backend']);
        return (rows[0] as { n: number }).n;
      } finally {
        await admin.end();
      }
    },
    dispose() {
      if (running) stop('immediate');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
