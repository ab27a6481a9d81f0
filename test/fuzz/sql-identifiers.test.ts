/**
 * Identifier injection against sql-retention (and the factories sharing its name rules) on
 * SQLite and PostgreSQL: table and column names with quotes, semicolons, comments, DROP
 * statements, unicode, white space and overlong names. Each name is either refused at the
 * factory call with an InvalidOptionError naming the option (so no SQL ever runs), or taken as
 * a literal identifier: only old rows of exactly that table go. A sentinel table (holding old
 * rows in a column of the same name) and a decoy table always survive, untouched.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import pg from 'pg';
import { dbMaintenance, orphanCleanup, type SqlRetentionResult, sqlRetention } from '../../src/tasks/index.ts';
import { postgresSkip, testDatabase } from '../helpers/postgres.ts';
import { fakeContext, tempDir } from '../tasks/context.ts';
import { attempt, fuzz, nastyString, optionError } from './support.ts';

const OLD = '2000-01-01T00:00:00.000Z';
const NEW = '2999-01-01T00:00:00.000Z';
/** A name a truncating database would confuse with longer ones (exactly 63 characters). */
const SENTINEL = `zz_sentinel_${'s'.repeat(51)}`;
const DECOY = 'zz_decoy';

/** Names meant to break out of a quoted identifier, or that are not plain names at all. */
const hostile: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    `"; DROP TABLE ${SENTINEL}; --`,
    `x"; DELETE FROM ${SENTINEL}; --`,
    `x" WHERE 1=1; --`,
    `${DECOY} --`,
    `${DECOY};`,
    `${DECOY}"`,
    `"${DECOY}"`,
    `${DECOY}'`,
    `\`${DECOY}\``,
    `[${DECOY}]`,
    ` ${DECOY}`,
    `${DECOY} `,
    `${DECOY}\n`,
    `${DECOY}\u0000`,
    'événements',
    '事件',
    'ｅvents',
    `${DECOY}.x.y`,
    `.${DECOY}`,
    `${DECOY}.`,
    '1events',
    '',
    '*',
    `${DECOY} OR 1=1`,
    `${SENTINEL}zzz`,
    `${SENTINEL}_archive`,
  ),
  nastyString,
  fc.string({ unit: fc.constantFrom(...'a_Z0"\';-. \t\n`[]()*/\\é'), minLength: 1, maxLength: 20 }),
  fc.nat({ max: 300 }).map((n) => `t${'x'.repeat(63 + n)}`),
);

/** Plain names, some qualified, some reserved words, some at and past the 63-character limit. */
const plain: fc.Arbitrary<string> = fc.oneof(
  fc.stringMatching(/^[A-Za-y_][A-Za-z0-9_]{0,40}$/),
  fc.constantFrom('select', 'order', 'rowid', 'Events', 'main.t1', 'public.t2', 'audit.Log', '_'),
  fc.nat({ max: 5 }).map((n) => `t${'x'.repeat(60 + n)}`),
  fc.nat({ max: 5 }).map((n) => `main.c${'x'.repeat(60 + n)}`),
).filter((name) => !name.toLowerCase().split('.').some((part) => part.startsWith('zz')));

const name: fc.Arbitrary<string> = fc.oneof(hostile, plain);

/** A double-quoted identifier, written by the test (not the code under test). */
const quote = (part: string) => `"${part.replace(/"/g, '""')}"`;
const qualified = (table: string) => table.split('.').map(quote).join('.');

const options = (database: { sqlite: string } | { postgres: string }, table: string, column: string) => ({ database, table, column, olderThan: '1d' });

describe('SQL identifiers at the factories (fast-check)', () => {
  it('sql-retention, orphan-cleanup and db-maintenance take a name as written, or refuse it naming the option', () => {
    fc.assert(
      fc.property(name, name, (table, column) => {
        const plainName = (n: string, qualifiedOk: boolean) => n.split('.').length <= (qualifiedOk ? 2 : 1) && n.split('.').every((p) => /^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(p));
        const factories = {
          sqlRetention: () => sqlRetention(options({ sqlite: '/nonexistent.db' }, table, column)),
          orphanCleanup: () => orphanCleanup({ database: { sqlite: '/nonexistent.db' }, table, pathColumn: column, idColumn: column }),
          dbMaintenance: () => dbMaintenance({ database: { sqlite: '/nonexistent.db' }, operations: ['analyze'], tables: [table] }),
        };
        for (const [factory, make] of Object.entries(factories)) {
          const error = optionError(make, factory);
          const expected = [...(plainName(table, true) ? [] : [factory === 'dbMaintenance' ? 'tables.0' : 'table']), ...(plainName(column, false) || factory === 'dbMaintenance' ? [] : factory === 'orphanCleanup' ? ['pathColumn', 'idColumn'] : ['column'])];
          assert.deepEqual(error?.issues.map((i) => i.path) ?? [], expected, `${factory}(${JSON.stringify(table)}, ${JSON.stringify(column)}): ${error?.message}`);
        }
      }),
      fuzz(500, 0x5a1001),
    );
  });
});

/** One database under attack: how to run SQL on it from the test, and the target to hand the task. */
interface Db {
  readonly target: { sqlite: string } | { postgres: string };
  exec(sql: string): Promise<void>;
  rows(table: string): Promise<string[]>;
  /** Whether `table` names the same table as `other` in this dialect (SQLite folds case). */
  same(table: string, other: string): boolean;
}

/** Runs retention with hostile or plain names against real tables, and checks what is left. */
async function attack(db: Db, table: string, column: string): Promise<void> {
  const sentinelBefore = await db.rows(SENTINEL);
  const decoyBefore = await db.rows(DECOY);
  const made = attempt(() => sqlRetention(options(db.target, table, column)), 'sqlRetention');
  if ('error' in made) {
    for (const issue of made.error.issues) assert.ok(['table', 'column'].includes(issue.path), made.error.message);
  } else {
    // Accepted: the names are literal identifiers. Make that table, old and new rows in it.
    const schema = table.includes('.') ? table.split('.')[0] : undefined;
    if (schema !== undefined && !('sqlite' in db.target)) await db.exec(`CREATE SCHEMA IF NOT EXISTS ${quote(schema)}`);
    // Not for names past 63 characters: PostgreSQL would truncate the test's own statements too.
    const fits = [...table.split('.'), column].every((part) => part.length <= 63);
    const created = fits && (await db.exec(`DROP TABLE IF EXISTS ${qualified(table)}; CREATE TABLE ${qualified(table)} (${quote(column)} TEXT, keep TEXT)`).then(
      () => true,
      () => false,
    ));
    if (created) await db.exec(`INSERT INTO ${qualified(table)} VALUES ('${OLD}', 'old'), ('${OLD}', 'old'), ('${NEW}', 'new')`);
    const outcome = await Promise.resolve(made.value(fakeContext())).then(
      (result: unknown) => result as SqlRetentionResult,
      (error: Error) => error,
    );
    if (created && !(outcome instanceof Error)) {
      assert.equal(outcome.rowsDeleted, 2, `${table}.${column}`);
      assert.deepEqual(await db.rows(table), [`${NEW}|new`]);
    } else if (created) {
      assert.fail(`${table}.${column}: the run failed on a table that exists: ${outcome instanceof Error ? outcome.message : ''}`);
    }
  }
  if (!db.same(table, SENTINEL)) assert.deepEqual(await db.rows(SENTINEL), sentinelBefore, `${JSON.stringify(table)}: the sentinel changed`);
  if (!db.same(table, DECOY)) assert.deepEqual(await db.rows(DECOY), decoyBefore, `${JSON.stringify(table)}: the decoy changed`);
}

/** Sentinel and decoy: old rows in a column named like the ones the attack uses. */
async function seed(db: Db, columns: readonly string[]): Promise<void> {
  for (const table of [SENTINEL, DECOY]) {
    await db.exec(`CREATE TABLE ${quote(table)} (${columns.map((c) => `${quote(c)} TEXT`).join(', ')}, keep TEXT)`);
    await db.exec(`INSERT INTO ${quote(table)} VALUES (${columns.map(() => `'${OLD}'`).join(', ')}, '${table}')`);
  }
}

const COLUMNS = ['created_at', 'select'];
const attackArb = fc.tuple(name, fc.oneof(fc.constantFrom(...COLUMNS), name));

describe('SQL identifiers against SQLite (fast-check)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let sqlite: DatabaseSync;
  let db: Db;
  before(async () => {
    dir = await tempDir('caretaker-fuzz-sql-');
    const file = path.join(dir.dir, 'app.db');
    sqlite = new DatabaseSync(file);
    db = {
      target: { sqlite: file },
      exec: async (sql) => void sqlite.exec(sql),
      rows: async (table) => sqlite.prepare(`SELECT * FROM ${qualified(table)}`).all().map((r) => Object.values(r).slice(-2).join('|')),
      same: (a, b) => a.toLowerCase().replace(/^main\./, '') === b.toLowerCase(),
    };
    await seed(db, COLUMNS);
  });
  after(async () => {
    sqlite.close();
    await dir.cleanup();
  });

  it('hostile names are refused before any SQL; plain ones touch only their own table', async () => {
    await fc.assert(
      fc.asyncProperty(attackArb, async ([table, column]) => attack(db, table, column)),
      fuzz(200, 0x5a1002),
    );
  });
});

describe('SQL identifiers against PostgreSQL (fast-check)', { skip: await postgresSkip() }, () => {
  let client: pg.Client;
  let drop: () => Promise<void>;
  let db: Db;
  before(async () => {
    const made = await testDatabase();
    drop = made.drop;
    client = new pg.Client({ connectionString: made.url });
    await client.connect();
    db = {
      target: { postgres: made.url },
      exec: async (sql) => void (await client.query(sql)),
      rows: async (table) => (await client.query(`SELECT * FROM ${qualified(table)}`)).rows.map((r: Record<string, unknown>) => Object.values(r).slice(-2).join('|')),
      same: (a, b) => a.replace(/^public\./, '') === b,
    };
    await seed(db, COLUMNS);
  });
  after(async () => {
    await client?.end();
    await drop?.();
  });

  it('hostile names are refused before any SQL; plain ones touch only their own table', async () => {
    await fc.assert(
      fc.asyncProperty(attackArb, async ([table, column]) => attack(db, table, column)),
      // Found: a name longer than 63 characters was truncated by PostgreSQL to the sentinel's.
      { ...fuzz(150, 0x5a1003), examples: [[[`${SENTINEL}zzz`, 'created_at']]] },
    );
  });
});
