import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import type { TaskHandler } from '../engine/task.ts';
import type { OptionIssue } from '../util/errors.ts';
import { type Connection, type DatabaseTarget, databaseField, withConnection } from './database.ts';
import { quoteName, tableField } from './identifiers.ts';
import { optionIssue, parseOptions } from './options.ts';

/** A maintenance operation; `optimize` and `wal_checkpoint` exist on SQLite only. */
export type MaintenanceOperation = 'optimize' | 'vacuum' | 'wal_checkpoint' | 'analyze' | 'reindex';

/** Options of {@link dbMaintenance}. */
export interface DbMaintenanceOptions {
  readonly database: DatabaseTarget;
  /**
   * Run in this order. SQLite: `optimize` (`PRAGMA optimize`), `vacuum` (rewrites the file to
   * return free pages), `wal_checkpoint` (`PRAGMA wal_checkpoint(TRUNCATE)`), `analyze`, `reindex`.
   * PostgreSQL: `vacuum` (`VACUUM (ANALYZE)`), `analyze`, `reindex` (`REINDEX TABLE`, which
   * blocks writes to the table while it runs, so it needs `tables`).
   */
  readonly operations: readonly MaintenanceOperation[];
  /** Limit `vacuum` (PostgreSQL), `analyze` and `reindex` to these tables. @defaultValue the whole database */
  readonly tables?: readonly string[];
  /** List the statements and run none. @defaultValue false */
  readonly dryRun?: boolean;
}

/** One statement a maintenance run executed (or, in a dry run, would execute). */
export interface MaintenanceStep {
  readonly operation: MaintenanceOperation;
  readonly table: string | null;
  readonly statement: string;
  /** null in a dry run. */
  readonly durationMs: number | null;
  /** SQLite `vacuum`: file size before and after; `wal_checkpoint`: SQLite's counters. */
  readonly details?: Readonly<Record<string, number>>;
}

export interface DbMaintenanceResult {
  readonly dryRun: boolean;
  readonly steps: readonly MaintenanceStep[];
  readonly totalMs: number;
}

const OPERATIONS = ['optimize', 'vacuum', 'wal_checkpoint', 'analyze', 'reindex'] as const;
const SQLITE_ONLY: ReadonlySet<MaintenanceOperation> = new Set(['optimize', 'wal_checkpoint']);

const schema = z.strictObject({
  database: databaseField,
  operations: z.array(z.enum(OPERATIONS)).min(1, { message: `name at least one of ${OPERATIONS.join(', ')}` }),
  tables: z.array(tableField).min(1, { message: 'name at least one table, or leave tables out for the whole database' }).optional(),
  dryRun: z.boolean().optional(),
});

type Parsed = z.output<typeof schema>;

/**
 * A handler that runs database upkeep and reports how long each statement took, so a slow
 * `VACUUM` shows up in run history before it becomes a problem.
 *
 * @example
 * import { dbMaintenance } from 'caretaker/tasks';
 * scheduler.add({
 *   name: 'sqlite-upkeep',
 *   schedule: { cron: '0 4 * * 0' },
 *   handler: dbMaintenance({ database: { sqlite: './app.db' }, operations: ['wal_checkpoint', 'optimize', 'vacuum'] }),
 * });
 */
export function dbMaintenance(options: DbMaintenanceOptions): TaskHandler {
  const o = parseOptions('dbMaintenance', schema, options, checkOperations);
  const dryRun = o.dryRun ?? false;
  return async (ctx) => {
    const started = performance.now();
    const steps = await withConnection(o.database, async (db) => {
      const plan = planSteps(db.dialect, o);
      const done: MaintenanceStep[] = [];
      for (const [i, step] of plan.entries()) {
        ctx.signal.throwIfAborted();
        ctx.progress(i / plan.length, `${step.operation}${step.table === null ? '' : ` ${step.table}`}`);
        if (dryRun) {
          done.push({ ...step, durationMs: null });
          continue;
        }
        const t0 = performance.now();
        const details = await execute(db, step);
        done.push({ ...step, durationMs: Math.round(performance.now() - t0), ...(details === undefined ? {} : { details }) });
      }
      return done;
    });
    ctx.progress(1, `${steps.length} maintenance statements ${dryRun ? 'planned' : 'done'}`);
    return { dryRun, steps, totalMs: Math.round(performance.now() - started) } satisfies DbMaintenanceResult;
  };
}

function checkOperations(o: Parsed): OptionIssue[] {
  const issues: OptionIssue[] = [];
  const seen = new Set<string>();
  for (const [i, operation] of o.operations.entries()) {
    if (seen.has(operation)) issues.push(optionIssue(`operations.${i}`, operation, 'is listed twice; name each operation once'));
    seen.add(operation);
    if ('postgres' in o.database && SQLITE_ONLY.has(operation)) {
      issues.push(optionIssue(`operations.${i}`, operation, 'exists on SQLite only; on PostgreSQL use vacuum, analyze or reindex'));
    }
  }
  if ('postgres' in o.database && o.operations.includes('reindex') && o.tables === undefined) {
    issues.push(optionIssue('tables', undefined, 'is required for reindex on PostgreSQL: REINDEX TABLE blocks writes, so name the tables it may lock'));
  }
  return issues;
}

type PlannedStep = Omit<MaintenanceStep, 'durationMs' | 'details'>;

/** The statements, in the order given; table names were validated and are quoted here. */
function planSteps(dialect: Connection['dialect'], o: Parsed): PlannedStep[] {
  const perTable = (operation: MaintenanceOperation, verb: string): PlannedStep[] =>
    o.tables === undefined ? [{ operation, table: null, statement: verb }] : o.tables.map((table) => ({ operation, table, statement: `${verb} ${quoteName(table)}` }));
  return o.operations.flatMap((operation): PlannedStep[] => {
    switch (operation) {
      case 'optimize':
        return [{ operation, table: null, statement: 'PRAGMA optimize' }];
      case 'wal_checkpoint':
        return [{ operation, table: null, statement: 'PRAGMA wal_checkpoint(TRUNCATE)' }];
      case 'vacuum':
        // SQLite vacuums the whole file; there is no per-table VACUUM.
        return dialect === 'sqlite' ? [{ operation, table: null, statement: 'VACUUM' }] : perTable(operation, 'VACUUM (ANALYZE)');
      case 'analyze':
        return perTable(operation, 'ANALYZE');
      case 'reindex':
        return perTable(operation, dialect === 'sqlite' ? 'REINDEX' : 'REINDEX TABLE');
    }
  });
}

async function execute(db: Connection, step: PlannedStep): Promise<Record<string, number> | undefined> {
  if (db.dialect === 'sqlite' && step.operation === 'vacuum') {
    const bytesBefore = await fileBytes(db);
    await db.run(step.statement);
    return { bytesBefore, bytesAfter: await fileBytes(db) };
  }
  if (step.operation === 'wal_checkpoint') {
    const [row] = await db.all(step.statement);
    return { busy: Number(row?.busy ?? 0), log: Number(row?.log ?? 0), checkpointed: Number(row?.checkpointed ?? 0) };
  }
  // all() rather than run(): PRAGMA optimize may return rows, and both read them fine.
  await db.all(step.statement);
  return undefined;
}

async function fileBytes(db: Connection): Promise<number> {
  const [row] = await db.all('SELECT page_count * page_size AS bytes FROM pragma_page_count(), pragma_page_size()');
  return Number(row?.bytes ?? 0);
}
