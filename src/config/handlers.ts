import { pathToFileURL } from 'node:url';
import type { ConditionCheck, WhenSpec } from '../engine/smart-options.ts';
import type { TaskContext, TaskDefinition, TaskHandler } from '../engine/task.ts';
import { CommandFailedError, commandHandler } from './command-handler.ts';
import type { RunSpec } from './run-spec.ts';
import { parseDuration } from '../util/duration.ts';
import { describeValue, InvalidOptionError, type OptionIssue } from '../util/errors.ts';
import { builtinFactory } from './builtins.ts';
import type { TaskSpec } from './load.ts';

async function handlerFor(spec: TaskSpec, fresh: boolean, run: RunSpec = spec.run, field = 'run'): Promise<TaskHandler> {
  switch (run.kind) {
    case 'builtin':
      return builtinFactory(run.name)(run.options);
    case 'command': {
      // Validated when the config was read; the daemon has merged the config's `defaults` in.
      const abortGraceMs = parseDuration(spec.options.abortGrace);
      return commandHandler(run, abortGraceMs !== undefined ? { abortGraceMs } : {});
    }
    case 'module': {
      const path = `tasks.${spec.name}.${field}.module`;
      let mod: Record<string, unknown>;
      try {
        const url = pathToFileURL(run.file);
        // A reload must see an edited module: a new query string makes a new module instance.
        if (fresh) url.searchParams.set('reload', String(Date.now()));
        mod = (await import(url.href)) as Record<string, unknown>;
      } catch (error) {
        throw new InvalidOptionError('config', [{ path, received: describeValue(run.file), fix: `cannot import it: ${(error as Error).message.split('\n')[0]}` }]);
      }
      const handler = mod[run.export];
      if (typeof handler !== 'function') {
        throw new InvalidOptionError('config', [{ path, received: describeValue(run.file), fix: `its ${run.export === 'default' ? 'default export' : `export "${run.export}"`} must be the handler function, got ${describeValue(handler)}` }]);
      }
      return handler as TaskHandler;
    }
  }
}

/**
 * A config `when`: a module's function answers as a library condition does; a command answers
 * with its exit status (0 = run; any other skips the tick, its last line of output the reason).
 * A command that cannot start, is killed or times out fails the run.
 */
async function conditionFor(spec: TaskSpec, when: NonNullable<TaskSpec['when']>, fresh: boolean): Promise<WhenSpec> {
  const timeout = when.timeoutMs === null ? {} : { timeout: when.timeoutMs };
  const fn = await handlerFor(spec, fresh, when.run, 'when');
  if (when.run.kind === 'module') return { check: fn as unknown as ConditionCheck, ...timeout };
  const check: ConditionCheck = async (ctx) => {
    // Only the last line is the reason: a chatty command must not fill memory with the rest.
    let last: string | null = null;
    try {
      await fn({ signal: ctx.signal, task: ctx.task, scheduledFor: ctx.scheduledFor, attempt: ctx.attempt, log: (line: string) => (last = line) } as unknown as TaskContext);
      return true;
    } catch (error) {
      const exit = error instanceof CommandFailedError ? error.output.exitCode : null;
      if (exit === null || exit === 0) throw error;
      return (last ?? `the condition command exited with ${exit}`).slice(0, 1_000);
    }
  };
  return { check, ...timeout };
}

/**
 * Turns config tasks into task definitions: imports modules, builds built-ins and commands.
 * Throws one {@link InvalidOptionError} naming every task whose handler cannot be built.
 */
export async function taskDefinitions(specs: readonly TaskSpec[], options: { readonly fresh?: boolean } = {}): Promise<TaskDefinition[]> {
  const out: TaskDefinition[] = [];
  const issues: OptionIssue[] = [];
  for (const spec of specs) {
    try {
      const when = spec.when === null ? {} : { when: await conditionFor(spec, spec.when, options.fresh === true) };
      out.push({ ...(spec.options as Omit<TaskDefinition, 'name' | 'handler'>), ...when, name: spec.name, handler: await handlerFor(spec, options.fresh === true) });
    } catch (error) {
      if (!(error instanceof InvalidOptionError)) throw error;
      issues.push(...error.issues);
    }
  }
  if (issues.length > 0) throw new InvalidOptionError('config', issues);
  return out;
}
