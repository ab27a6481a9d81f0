import { styleText } from 'node:util';

type Style = Parameters<typeof styleText>[0];

/** Colours text only on a TTY, and never when NO_COLOR is set (https://no-color.org). */
export function painter(stream: NodeJS.WriteStream): (style: Style, text: string) => string {
  const enabled = stream.isTTY === true && (process.env.NO_COLOR ?? '') === '' && process.env.TERM !== 'dumb';
  return (style, text) => (enabled ? styleText(style, text) : text);
}
