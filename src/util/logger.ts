/**
 * The logging interface Caretaker writes to: a subset of pino's, so a pino logger can be passed
 * as is. Each method takes an object of fields and a message.
 */
export interface Logger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
  child(fields: object): Logger;
}

/** A logger that discards everything; the library default, since events carry the same facts. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
