import type { TaskHandler } from '../engine/task.ts';
import * as tasks from '../tasks/index.ts';
import { describeValue, InvalidOptionError } from '../util/errors.ts';

type Factory = (options: unknown) => TaskHandler;

/** Built-in tasks by their config name (`run: { builtin: directory-cleanup }`). */
const BUILTINS: Readonly<Record<string, Factory>> = {
  'directory-cleanup': tasks.directoryCleanup as Factory,
  'log-rotation': tasks.logRotation as Factory,
  'sql-retention': tasks.sqlRetention as Factory,
  'orphan-cleanup': tasks.orphanCleanup as Factory,
  'db-maintenance': tasks.dbMaintenance as Factory,
  'http-check': tasks.httpCheck as Factory,
  'tcp-check': tasks.tcpCheck as Factory,
  'metrics-snapshot': (options) => {
    const extra = Object.entries((options ?? {}) as Record<string, unknown>);
    if (extra.length > 0) {
      throw new InvalidOptionError('metrics-snapshot', extra.map(([key, value]) => ({ path: key, received: describeValue(value), fix: 'unknown option; metrics-snapshot takes none' })));
    }
    return tasks.metricsSnapshot();
  },
};

export const BUILTIN_NAMES: readonly string[] = Object.keys(BUILTINS);

/** The factory of a built-in; the name must be one of {@link BUILTIN_NAMES}. */
export function builtinFactory(name: string): Factory {
  const factory = BUILTINS[name];
  if (factory === undefined) throw new Error(`unknown built-in ${name}`);
  return factory;
}
