import type { Store } from '../../store/port.ts';
import type { RunRecord } from '../../store/records.ts';
import { describeValue } from '../../util/errors.ts';
import { UsageError } from '../usage-error.ts';

/** The RUN argument of `show`, `cancel` and `retry`: one run id, as `history` prints it. */
export function runArgument(command: string, positionals: readonly string[]): string {
  if (positionals.length !== 1) throw new UsageError(`${command} takes one RUN argument (a run id), got ${positionals.length}; caretaker history lists run ids`);
  return positionals[0] as string;
}

/** The run with that id, or a usage error saying how to find one. */
export async function existingRun(store: Store, id: string): Promise<RunRecord> {
  const run = await store.getRun(id);
  if (run === null) throw new UsageError(`RUN: no run with id ${describeValue(id)} in the store; caretaker history lists run ids`, 'ERR_RUN_NOT_FOUND');
  return run;
}
