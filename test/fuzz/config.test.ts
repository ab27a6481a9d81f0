/**
 * Bad config files: valid documents mutated at random (garbage values, misspelt and unknown
 * keys, removed keys), random and mangled YAML, and garbage in the CARETAKER_* environment,
 * fed to loadConfig. The loader must either accept the file or throw one InvalidOptionError
 * whose issues name the field that was broken and say how to fix it, never another exception
 * and never a stack trace. Then the real CLI on files the fuzzing found: exit 2, the field on
 * stderr, no stack trace, no database created.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.ts';
import { assertNames, assertNoStack, fuzz, garbage, nastyString, optionError } from './support.ts';

const dir = mkdtempSync(join(tmpdir(), 'caretaker-fuzz-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

type Doc = Record<string, unknown>;

/** Valid documents covering every section, each schedule kind and most built-ins. */
const BASES: readonly Doc[] = [
  {
    store: { sqlite: { path: './state.db', busyTimeout: '5s', synchronous: 'normal' } },
    http: { host: '127.0.0.1', port: 7070, token: 'a-token-of-enough-length' },
    history: { maxAge: '30d', maxPerTask: 100 },
    scheduler: { instance: 'a', lease: '15s', concurrency: 4, pollInterval: '1s', stopTimeout: '30s' },
    log: { level: 'info', format: 'json' },
    defaults: { timeout: '10m', overlap: 'skip', catchUp: 'latest', retry: { attempts: 2, backoff: '1s' } },
    tasks: {
      'cache-cleanup': {
        schedule: { every: '6h', initialDelay: '5m' },
        jitter: '1m',
        run: { builtin: 'directory-cleanup', root: './cache', maxAge: '30d', maxTotalSize: '10GB', include: ['**/*.tmp', 'x/*'], exclude: '*.lock', removeEmptyDirs: true },
      },
      nightly: {
        schedule: { cron: '0 2 * * *', timezone: 'Europe/Berlin', dst: { gap: 'skip', overlap: 'once' } },
        timeout: '5m',
        priority: 'low',
        run: { command: ['echo', 'hi'], env: { A: 'b' }, cwd: '.', maxOutput: '1KiB' },
      },
      rotate: {
        schedule: { at: '2026-12-01T02:00:00Z' },
        run: { builtin: 'log-rotation', files: 'logs/*.log', root: './logs', keep: 3, maxSize: '100MB', maxAge: '1d', compress: true, mode: 'copy-truncate' },
      },
    },
  },
  {
    store: { postgres: { url: 'postgres://u@h/db', schema: 'caretaker', poolSize: 2 } },
    tasks: {
      prune: {
        schedule: { every: '1m', anchor: '2026-01-01T00:00:00Z' },
        retry: { attempts: 3, maxBackoff: '1m', factor: 2 },
        run: { builtin: 'sql-retention', database: { sqlite: './app.db' }, table: 'audit.events', column: 'created_at', olderThan: '90d', columnType: 'unix-ms', batchSize: 500 },
      },
      probe: { schedule: { cron: '*/5 * * * * *' }, overlap: 'allow', maxConcurrent: 2, run: { builtin: 'tcp-check', host: 'localhost', port: 5432, failAfter: 2, timeout: '2s' } },
      web: { schedule: { every: '30s' }, run: { builtin: 'http-check', url: 'http://localhost/health', method: 'GET', headers: { X: 'y' }, expectStatus: [200, 204] } },
      upkeep: { schedule: { cron: '@daily' }, run: { builtin: 'db-maintenance', database: { postgres: 'postgres://u@h/db' }, operations: ['vacuum'], tables: ['a.b'] } },
      shell: { schedule: { every: '1h' }, staleAfter: '2h', run: { command: 'tar -czf b.tgz data', shell: true } },
    },
  },
  { store: 'memory', tasks: {} },
  { store: { memory: {} }, log: { level: 'silent' }, tasks: { once: { schedule: { at: 1_800_000_000_000 }, run: { builtin: 'metrics-snapshot' } } } },
];

/** Maps whose keys are the user's own (task names, environment variables, headers): any key is valid there. */
const freeForm = (path: string) => path === 'tasks' || /\.run\.(env|headers)$/.test(path);

interface Place {
  readonly path: string;
  readonly parent: Doc | unknown[];
  readonly key: string;
  /** Whether the parent is an object whose keys the schema fixes. */
  readonly strict: boolean;
}

/** Every place in a document where a value sits. */
function places(value: unknown, path = '', out: Place[] = []): Place[] {
  if (typeof value !== 'object' || value === null) return out;
  const container = value as Doc | unknown[];
  const strict = !Array.isArray(container) && !freeForm(path);
  for (const key of Object.keys(container)) {
    const at = path === '' ? key : `${path}.${key}`;
    out.push({ path: at, parent: container, key, strict });
    places((container as Doc)[key], at, out);
  }
  return out;
}

/** One edit: a deleted, inserted, replaced or swapped character. */
function typo(word: string, i: number, op: string, ch: string): string {
  const at = i % word.length;
  if (op === 'delete') return word.slice(0, at) + word.slice(at + 1);
  if (op === 'insert') return word.slice(0, at) + ch + word.slice(at);
  if (op === 'replace' && word[at] !== ch) return word.slice(0, at) + ch + word.slice(at + 1);
  return at + 1 < word.length && word[at] !== word[at + 1] ? word.slice(0, at) + (word[at + 1] ?? '') + (word[at] ?? '') + word.slice(at + 2) : word + ch;
}

type Op = 'replace' | 'delete' | 'typo' | 'unknown';

interface Mutation {
  readonly op: Op;
  /** The path broken: the replaced or removed value, or the misspelt or unknown key. */
  readonly path: string;
  /** The key a typo was made from. */
  readonly from: string;
  readonly doc: Doc;
}

/** A valid base document with one thing broken, and where. */
const mutated: fc.Arbitrary<Mutation> = fc
  .record({
    base: fc.constantFrom(...BASES.keys()),
    pick: fc.nat(),
    op: fc.constantFrom<Op>('replace', 'replace', 'delete', 'typo', 'unknown'),
    edit: fc.tuple(fc.nat(), fc.constantFrom('delete', 'insert', 'replace', 'swap'), fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz_')),
    // No option of any section starts with "x": such a key is unknown wherever it goes.
    unknownKey: fc.stringMatching(/^x[A-Za-z0-9_]{1,12}$/),
    value: garbage,
  })
  .map(({ base, pick, op, edit, unknownKey, value }): Mutation => {
    const doc = structuredClone(BASES[base] as Doc);
    const all = places(doc);
    const place = all[pick % all.length] as Place;
    const parentPath = place.path.split('.').slice(0, -1).join('.');
    const sibling = (key: string) => (parentPath === '' ? key : `${parentPath}.${key}`);
    const parent = place.parent as Doc;
    if ((op === 'typo' || op === 'unknown') && place.strict) {
      const key = op === 'typo' ? typo(place.key, ...edit) : unknownKey;
      if (key !== '' && !(key in parent)) {
        const current = parent[place.key];
        if (op === 'typo') delete parent[place.key];
        parent[key] = op === 'typo' ? current : value;
        return { op, path: sibling(key), from: place.key, doc };
      }
    }
    if (op === 'delete') {
      if (Array.isArray(place.parent)) place.parent.splice(Number(place.key), 1);
      else delete parent[place.key];
      return { op, path: place.path, from: place.key, doc };
    }
    parent[place.key] = value;
    return { op: 'replace', path: place.path, from: place.key, doc };
  });

/** Loads a document written as YAML or JSON; the typed error when it is refused. */
function load(doc: unknown, format: 'yaml' | 'json', env: NodeJS.ProcessEnv = {}) {
  const file = join(dir, `caretaker.config.${format}`);
  const text = format === 'json' ? JSON.stringify(doc) : stringify(doc);
  return optionError(() => loadConfig({ file, text, env }), `${format} config`);
}

const loadText = (text: string, format: 'yaml' | 'json' = 'yaml') => optionError(() => loadConfig({ file: join(dir, `caretaker.config.${format}`), text, env: {} }), 'config text');

describe('config loader on mutated documents (fast-check)', () => {
  it('the base documents are valid, in YAML and JSON', () => {
    for (const base of BASES) {
      assert.equal(load(base, 'yaml')?.message, undefined);
      assert.equal(load(base, 'json')?.message, undefined);
    }
  });

  it('one broken field: accepted, or refused with a typed error naming that field (or its parent) and a fix', () => {
    fc.assert(
      fc.property(mutated, fc.constantFrom('yaml' as const, 'json' as const), (m, format) => {
        const error = load(m.doc, format);
        if (m.op === 'typo' || m.op === 'unknown') {
          // Every section is strict: a misspelt or unknown key is always a problem, at its own path or its parent's.
          assert.ok(error !== undefined, `${m.op} ${m.path} was accepted`);
          const parent = m.path.split('.').slice(0, -1).join('.');
          assert.ok(
            error.issues.some((i) => i.path === m.path || (parent !== '' && i.path === parent)),
            `no issue at ${m.path} or ${parent}:\n${error.message}`,
          );
          const own = error.issues.find((i) => i.path === m.path);
          if (m.op === 'typo' && own !== undefined && m.from.length >= 4) assert.match(own.fix, new RegExp(`did you mean "${m.from}"`), error.message);
          return;
        }
        // A removed field can leave a sibling invalid (maxConcurrent without overlap: allow): that names the parent.
        if (error !== undefined) assertNames(error.issues, m.op === 'delete' ? m.path.split('.').slice(0, -1).join('.') || m.path : m.path, `${m.op} ${m.path}`);
      }),
      fuzz(400, 0x5eed01),
    );
  });

  it('garbage in CARETAKER_* variables: accepted, or refused naming the overridden field', () => {
    const fields: Readonly<Record<string, string>> = {
      HTTP_PORT: 'http.port',
      HTTP_HOST: 'http.host',
      HTTP_TOKEN: 'http.token',
      HISTORY_MAX_AGE: 'history.maxAge',
      HISTORY_MAXPERTASK: 'history.maxPerTask',
      SCHEDULER_LEASE: 'scheduler.lease',
      SCHEDULER_CONCURRENCY: 'scheduler.concurrency',
      SCHEDULER_POLL_INTERVAL: 'scheduler.pollInterval',
      LOG_LEVEL: 'log.level',
      LOG_FORMAT: 'log.format',
      // A store field of another kind switches the store: the problem may be a sibling field.
      STORE_SQLITE_PATH: 'store.sqlite',
      STORE_POSTGRES_URL: 'store.postgres',
      STORE_POSTGRES_POOL_SIZE: 'store.postgres',
    };
    fc.assert(
      fc.property(fc.constantFrom(...BASES.keys()), fc.constantFrom(...Object.keys(fields)), nastyString, (base, field, value) => {
        const path = fields[field] as string;
        const error = load(BASES[base], 'yaml', { [`CARETAKER_${field}`]: value });
        if (error !== undefined) assertNames(error.issues, path, `CARETAKER_${field}=${JSON.stringify(value)}`);
      }),
      fuzz(300, 0x5eed02),
    );
  });

  it('random and mangled YAML or JSON text: accepted or a typed error, never a crash', () => {
    const yamlChars = fc.constantFrom(...':{}[],&*!|>\'"%@`#-?~ \t\n\\$0aZ.');
    const mangled = fc
      .tuple(fc.constantFrom(...BASES), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 8 }), fc.string({ unit: yamlChars, maxLength: 6 })), { minLength: 1, maxLength: 4 }))
      .map(([base, edits]) => {
        let text = stringify(base);
        for (const [at, cut, insert] of edits) {
          const i = at % (text.length + 1);
          text = text.slice(0, i) + insert + text.slice(i + cut);
        }
        return text;
      });
    const text = fc.oneof(mangled, fc.string({ unit: yamlChars, maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 60 }));
    fc.assert(
      fc.property(text, fc.constantFrom('yaml' as const, 'json' as const), (t, format) => {
        loadText(t, format);
      }),
      fuzz(400, 0x5eed03),
    );
  });
});

/** YAML the fuzzing found crashing the loader (fixed; kept as regressions and for the CLI run). */
const FOUND: Readonly<Record<string, { readonly text: string; readonly path: RegExp }>> = {
  // Nested aliases: yaml's resource-exhaustion guard threw a ReferenceError out of loadConfig.
  'alias-bomb': {
    text: `store: { sqlite: { path: ./state.db } }\na: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n`,
    path: /^\s*\(file\): .*alias/m,
  },
  // An alias before its anchor: also a ReferenceError from the YAML library.
  'unresolved-alias': { text: 'store: { sqlite: { path: ./state.db } }\ntasks: *later\n', path: /^\s*\(file\): .*alias/m },
  // A glob longer than picomatch accepts: its SyntaxError escaped the directory-cleanup factory.
  'overlong-glob': {
    text: `store: { sqlite: { path: ./state.db } }\ntasks:\n  clean:\n    schedule: { every: 1h }\n    run: { builtin: directory-cleanup, root: ., maxAge: 1d, include: "${'a/'.repeat(40_000)}" }\n`,
    path: /^\s*tasks\.clean\.run\.include: /m,
  },
  // An empty key (a bare ":" line) was reported with an empty path.
  'empty-key': { text: ': 1\n', path: /^""/m },
  // Union options (priority, command) failed with zod's bare "Invalid input".
  'union-fix': {
    text: 'store: memory\ntasks:\n  x:\n    schedule: { every: 1m }\n    priority: "0"\n    run: { command: [echo, 5] }\n',
    path: /^tasks\.x\.priority: use "low", "normal", "high" or a number$/m,
  },
  'bad-cron-and-zone': {
    text: `store: { sqlite: { path: ./state.db } }\ntasks:\n  x:\n    schedule: { cron: '0 0 31 2 L#9', timezone: 'Mars/Olympus' }\n    run: { command: [echo] }\n`,
    path: /^\s*tasks\.x\.schedule\.timezone: /m,
  },
};

describe('config loader on the files fuzzing found', () => {
  for (const [name, found] of Object.entries(FOUND)) {
    it(`${name}: a typed error naming the field`, () => {
      const error = loadText(found.text);
      assert.ok(error !== undefined, 'accepted');
      assert.match(error.issues.map((i) => `${i.path}: ${i.fix}`).join('\n'), found.path);
    });
  }

  it('a YAML 1.1 timestamp stays an instant (interpolation turned its Date into an empty object)', () => {
    const text = '%YAML 1.1\n---\nstore: memory\ntasks:\n  x:\n    schedule: { at: 2026-12-01T02:00:00Z }\n    run: { command: [echo] }\n';
    const config = loadConfig({ file: join(dir, 'caretaker.config.yaml'), text, env: {} });
    assert.deepEqual(config.tasks[0]?.options.schedule, { at: new Date('2026-12-01T02:00:00Z') });
  });
});

const BIN = fileURLToPath(new URL('../../bin/caretaker.js', import.meta.url));
const HOOK = new URL('../cli/fixtures/run-process/dist-to-src.mjs', import.meta.url).href;

/** Runs the real bin (on the sources, through the test hook) in `cwd`; its exit code and output. */
function cli(args: readonly string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=caretaker-source', '--import', HOOK, BIN, ...args], { cwd, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('the caretaker CLI on fuzz-found bad files', () => {
  for (const name of ['alias-bomb', 'unresolved-alias', 'overlong-glob', 'bad-cron-and-zone']) {
    const found = FOUND[name] as (typeof FOUND)[string];
    it(`${name}: validate and run exit 2, name the field on stderr, print no stack, create no database`, async () => {
      const work = mkdtempSync(join(dir, `${name}-`));
      writeFileSync(join(work, 'caretaker.config.yaml'), found.text);
      for (const command of ['validate', 'run']) {
        const result = await cli([command], work);
        assert.equal(result.code, 2, `${command}: exit ${result.code}\n${result.stderr}`);
        assert.match(result.stderr, found.path, `${command} stderr`);
        assertNoStack(result.stderr + result.stdout, `${command} output`);
      }
      assert.equal(existsSync(join(work, 'state.db')), false, 'a database was created');
      assert.deepEqual(readdirSync(work), ['caretaker.config.yaml'], 'nothing else was written');
    });
  }
});
