import { describeValue, InvalidOptionError } from '../util/errors.ts';

/** Longest pause note, in characters: a sentence and a ticket number, not a log. */
export const MAX_PAUSE_NOTE_CHARS = 500;

/** Options of `scheduler.pause`. */
export interface PauseOptions {
  /** Why the task is paused, shown wherever its state is (at most 500 characters). */
  readonly note?: string | null;
}

/**
 * The note a pause keeps: trimmed, null when absent or blank. Refuses anything else with an
 * error naming `note`: a note no store can keep must fail before the pause is stored, not after.
 */
export function pauseNote(options: PauseOptions | { readonly note?: unknown }, subject = 'pause'): string | null {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError(subject, [{ path: 'options', received: describeValue(options), fix: 'pass { note } or nothing' }]);
  }
  const note: unknown = options.note;
  if (note === undefined || note === null) return null;
  if (typeof note !== 'string') {
    throw new InvalidOptionError(subject, [{ path: 'note', received: describeValue(note), fix: 'use a string, or leave it out' }]);
  }
  // A lone surrogate cannot be stored as UTF-8 (SQLite and PostgreSQL would each write U+FFFD):
  // made well-formed here, every store keeps the same note.
  const trimmed = wellFormed(note).trim();
  if (trimmed.includes('\u0000')) {
    throw new InvalidOptionError(subject, [{ path: 'note', received: describeValue(note), fix: 'remove the NUL character (no store can keep it)' }]);
  }
  if (trimmed.length > MAX_PAUSE_NOTE_CHARS) {
    throw new InvalidOptionError(subject, [
      { path: 'note', received: `a string of ${trimmed.length} characters`, fix: `shorten it to at most ${MAX_PAUSE_NOTE_CHARS} characters` },
    ]);
  }
  return trimmed === '' ? null : trimmed;
}

/** `String.prototype.toWellFormed` (Node 20+; not in this project's ES2023 library types). */
export const wellFormed = (text: string): string => (text as unknown as { toWellFormed(): string }).toWellFormed();
