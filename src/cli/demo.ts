import { copyFileSync, existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from './commands/run.ts';
import type { CliIo } from './context.ts';
import { loadNodeSqlite } from '../store/sqlite/connection.ts';

const CONFIG = fileURLToPath(new URL('../../examples/demo/caretaker.config.yaml', import.meta.url));
const DAY = 86_400_000;

/**
 * Creates the demo's data folder once: a cache with stale files, a log, uploads with records
 * that point at missing files, and tables with old sessions and audit rows.
 */
export async function seedDemoData(dir: string): Promise<void> {
  if (existsSync(join(dir, 'app.db'))) return;
  for (const sub of ['cache/thumbnails', 'logs', 'uploads']) mkdirSync(join(dir, sub), { recursive: true });
  const now = Date.now();
  for (let i = 0; i < 12; i++) {
    const file = join(dir, 'cache/thumbnails', `thumb-${i}.bin`);
    writeFileSync(file, Buffer.alloc(2048, i));
    const age = (i % 2 === 0 ? 45 : 3) * DAY; // half are stale
    utimesSync(file, new Date(now - age), new Date(now - age));
  }
  writeFileSync(join(dir, 'logs/app.log'), 'service started\n'.repeat(100));
  for (let i = 0; i < 5; i++) writeFileSync(join(dir, 'uploads', `upload-${i}.txt`), `file ${i}\n`);
  const { DatabaseSync } = await loadNodeSqlite('caretaker demo');
  const db = new DatabaseSync(join(dir, 'app.db'));
  try {
    db.exec(`CREATE TABLE uploads (id INTEGER PRIMARY KEY, path TEXT NOT NULL);
      CREATE TABLE sessions (id INTEGER PRIMARY KEY, created_at INTEGER NOT NULL);
      CREATE TABLE audit_log (id INTEGER PRIMARY KEY, created_at INTEGER NOT NULL, what TEXT)`);
    const upload = db.prepare('INSERT INTO uploads (path) VALUES (?)');
    for (let i = 0; i < 8; i++) upload.run(`upload-${i}.txt`); // 5..7 have no file
    const session = db.prepare('INSERT INTO sessions (created_at) VALUES (?)');
    const audit = db.prepare('INSERT INTO audit_log (created_at, what) VALUES (?, ?)');
    for (let d = 0; d < 120; d += 5) {
      session.run(now - d * DAY);
      audit.run(now - d * DAY, 'login');
    }
  } finally {
    db.close();
  }
}

export const DEMO_HELP = `Usage: caretaker demo [--stop-timeout DURATION] [--log-level LEVEL] [--log-format pretty|json|auto]

Runs the daemon on the demo config (examples/demo/caretaker.config.yaml) and a demo data folder
it creates beside it on first use (from an installed package: in ./caretaker-demo). Takes the
options of caretaker run; Ctrl-C stops it.`;

/**
 * The demo config to run: the repository's own in a clone (`npm start`); from an installed
 * package, a copy in `./caretaker-demo`, so the demo writes its data there and not inside
 * node_modules.
 */
function demoConfig(cwd: string): string {
  if (!CONFIG.split(sep).includes('node_modules')) return CONFIG;
  const dir = join(cwd, 'caretaker-demo');
  const copy = join(dir, 'caretaker.config.yaml');
  if (!existsSync(copy)) {
    mkdirSync(dir, { recursive: true });
    copyFileSync(CONFIG, copy);
  }
  return copy;
}

/** `caretaker demo`: seeds the demo data beside the demo config and runs the daemon on it. */
export async function runDemo(argv: readonly string[], io: CliIo): Promise<number> {
  // Before seeding: --help must not create the data folder.
  const options = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  if (options.includes('--help') || options.includes('-h')) {
    io.out(DEMO_HELP);
    return 0;
  }
  const config = demoConfig(io.cwd);
  await seedDemoData(join(config, '..', 'data'));
  io.err(`caretaker demo: config ${config}; Ctrl-C stops it`);
  return runCommand(['--config', config, ...argv], io);
}
