import picomatch from 'picomatch';
import { z } from 'zod';
import { durationField } from '../engine/task-options.ts';
import { describeValue, InvalidOptionError, type OptionIssue } from '../util/errors.ts';
import { sizeField } from '../util/size.ts';
import { toOptionIssues } from '../util/zod-issues.ts';

export { durationField, sizeField };

/** A duration that must be longer than zero (a zero cutoff or timeout is always a mistake). */
export const positiveDurationField = durationField.pipe(z.number().min(1, { message: 'must be longer than 0; use a duration like "30d" or "10s"' }));


/**
 * One non-empty string or a non-empty list of them, read as a list. `check` returns the fix for
 * an item it rejects; the issue names the item's index when a list was given.
 */
export function stringListField(check: (item: string) => string | undefined = () => undefined) {
  return z.unknown().transform((value, ctx): string[] => {
    const list = typeof value === 'string' ? [value] : value;
    if (!Array.isArray(list) || list.length === 0 || !list.every((item) => typeof item === 'string' && item !== '')) {
      ctx.addIssue({ code: 'custom', message: 'expected a non-empty string or a non-empty array of non-empty strings' });
      return z.NEVER;
    }
    list.forEach((item: string, index) => {
      const fix = check(item);
      if (fix !== undefined) ctx.addIssue({ code: 'custom', message: fix, ...(Array.isArray(value) ? { path: [index] } : {}) });
    });
    return list as string[];
  });
}

/**
 * The fix for a glob picomatch cannot compile (it refuses patterns over 64 KiB), checked at the
 * factory call so the mistake is an option error and not a crash of the factory or of every run.
 */
export function globFix(pattern: string): string | undefined {
  try {
    picomatch.makeRe(pattern);
    return undefined;
  } catch (error) {
    return `is not a usable glob (${(error as Error).message}); use a shorter pattern, or several`;
  }
}

/** One {@link OptionIssue}, with the value rendered for the message. */
export function optionIssue(path: string, value: unknown, fix: string): OptionIssue {
  return { path, received: describeValue(value), fix };
}

/**
 * Validates a task factory's options at the call, so a mistake fails at start-up and not at
 * the first tick. Throws one {@link InvalidOptionError} listing every problem; `check` adds
 * the rules that involve several fields and runs once the fields themselves are valid.
 */
export function parseOptions<S extends z.ZodType>(factory: string, schema: S, input: unknown, check?: (options: z.output<S>) => OptionIssue[]): z.output<S> {
  const subject = `${factory} options`;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidOptionError(subject, [optionIssue('options', input, `pass an options object to ${factory}({ ... })`)]);
  }
  const result = schema.safeParse(input);
  if (!result.success) throw new InvalidOptionError(subject, toOptionIssues(result.error, input, schema));
  const issues = check?.(result.data) ?? [];
  if (issues.length > 0) throw new InvalidOptionError(subject, issues);
  return result.data;
}
