import { StringDecoder } from 'node:string_decoder';
import { cutText } from '../engine/run-log.ts';

/** A line longer than this is passed on in pieces: output without newlines must not grow a buffer. */
const MAX_LINE_CHARS = 8_192;

/**
 * Splits a program's output stream into lines as it arrives (UTF-8 split across chunks kept
 * whole, `\r\n` read as one end), so each can go to the run's log while the program runs.
 */
export class OutputLines {
  readonly #decoder = new StringDecoder('utf8');
  readonly #emit: (line: string) => void;
  #partial = '';

  constructor(emit: (line: string) => void) {
    this.#emit = emit;
  }

  push(chunk: Buffer): void {
    this.#take(this.#decoder.write(chunk));
  }

  /** The stream ended: what is left is the last line. */
  end(): void {
    this.#take(this.#decoder.end());
    if (this.#partial !== '') this.#emit(this.#partial);
    this.#partial = '';
  }

  #take(text: string): void {
    const parts = (this.#partial + text).split('\n');
    this.#partial = parts.pop() ?? '';
    for (const line of parts) this.#pieces(line.endsWith('\r') ? line.slice(0, -1) : line, true);
    this.#partial = this.#pieces(this.#partial, false);
  }

  /** Emits `line` in pieces of at most {@link MAX_LINE_CHARS} (a pair of surrogates kept whole); returns what is left unless `all`. */
  #pieces(line: string, all: boolean): string {
    let rest = line;
    while (rest.length > MAX_LINE_CHARS) {
      const piece = cutText(rest, MAX_LINE_CHARS);
      this.#emit(piece);
      rest = rest.slice(piece.length);
    }
    if (all) this.#emit(rest);
    return all ? '' : rest;
  }
}
