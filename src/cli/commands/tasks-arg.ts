import type { DaemonConfig } from '../../config/load.ts';
import { closestMatch } from '../../util/suggest.ts';
import { UsageError } from '../usage-error.ts';

/** The TASK argument: one configured task name, with a "did you mean" when it is not. */
export function taskArgument(command: string, positionals: readonly string[], config: DaemonConfig): string {
  if (positionals.length !== 1) throw new UsageError(`${command} takes one TASK argument, got ${positionals.length}; run caretaker list for the names`);
  const name = positionals[0] as string;
  const names = config.tasks.map((t) => t.name);
  if (!names.includes(name)) {
    const guess = closestMatch(name, names);
    throw new UsageError(`TASK: no task "${name}" in ${config.file}; ${guess !== undefined ? `did you mean "${guess}"?` : `known tasks: ${names.join(', ') || '(none)'}`}`, 'ERR_TASK_NOT_FOUND');
  }
  return name;
}
