import { styleText } from 'node:util';

type Style = Parameters<typeof styleText>[0];

/** Colours text only on a TTY, and never when NO_COLOR is set (https://no-color.org). */
export function painter(stream: NodeJS.WriteStream): (style: Style, text: string) => string {
  const enabled = stream.isTTY === true && (process.env.NO_COLOR ?? '') === '' && process.env.TERM !== 'dumb';
  return (style, text) => (enabled ? styleText(style, text) : text);
}

/**
 * Text from whoever may write it (a pause note, a handler's log line) on one terminal line:
 * whitespace runs, control characters (escape sequences included) and bidirectional overrides,
 * which would reorder what the terminal shows, become one space.
 */
export function terminalText(text: string): string {
  return text.replace(/[\s\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]+/g, ' ');
}
