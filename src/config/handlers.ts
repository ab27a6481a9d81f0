import { pathToFileURL } from 'node:url';
import type { TaskDefinition, TaskHandler } from '../engine/task.ts';
import { parseDuration } from '../util/duration.ts';
import { describeValue, InvalidOptionError, type OptionIssue } from '../util/errors.ts';
import { builtinFactory } from './builtins.ts';
import { commandHandler } from './command-handler.ts';
import type { TaskSpec } from './load.ts';

async function handlerFor(spec: TaskSpec, fresh: boolean): Promise<TaskHandler> {
  const run = spec.run;
  switch (run.kind) {
    case 'builtin':
      return builtinFactory(run.name)(run.options);
    case 'command': {
      // Validated when the config was read; the daemon has merged the config's `defaults` in.
      const abortGraceMs = parseDuration(spec.options.abortGrace);
      return commandHandler(run, abortGraceMs !== undefined ? { abortGraceMs } : {});
    }
    case 'module': {
      const path = `tasks.${spec.name}.run.module`;
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
 * Turns config tasks into task definitions: imports modules, builds built-ins and commands.
 * Throws one {@link InvalidOptionError} naming every task whose handler cannot be built.
 */
export async function taskDefinitions(specs: readonly TaskSpec[], options: { readonly fresh?: boolean } = {}): Promise<TaskDefinition[]> {
  const out: TaskDefinition[] = [];
  const issues: OptionIssue[] = [];
  for (const spec of specs) {
    try {
      out.push({ ...(spec.options as Omit<TaskDefinition, 'name' | 'handler'>), name: spec.name, handler: await handlerFor(spec, options.fresh === true) });
    } catch (error) {
      if (!(error instanceof InvalidOptionError)) throw error;
      issues.push(...error.issues);
    }
  }
  if (issues.length > 0) throw new InvalidOptionError('config', issues);
  return out;
}
