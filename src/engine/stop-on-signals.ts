import type { StopReport } from './events.ts';

/** What {@link stopOnSignals} listens on: `process`, or a stand-in in tests. */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: () => void): unknown;
  off(signal: NodeJS.Signals, listener: () => void): unknown;
  exit(code: number): unknown;
}

/** Options of `scheduler.stopOnSignals()`. */
export interface StopOnSignalsOptions {
  /** @defaultValue ['SIGINT', 'SIGTERM'] */
  readonly signals?: readonly NodeJS.Signals[];
  /** How long running runs get. @defaultValue '30s' */
  readonly timeout?: number | string;
  /** Exit the process once stopped (code 0; a second signal exits at once with 130). @defaultValue true */
  readonly exit?: boolean;
  /** Called with the stop report, before the exit. */
  readonly onStopped?: (report: StopReport) => void | Promise<void>;
  /** @defaultValue process */
  readonly process?: SignalSource;
}

/**
 * Stops gracefully on the first signal; a second one exits at once. Returns a function that
 * removes the listeners. The only place the engine's surface reaches the host process, and only
 * when asked to.
 */
export function stopOnSignals(stop: (timeout: number | string) => Promise<StopReport>, options: StopOnSignalsOptions = {}): () => void {
  const host = options.process ?? process;
  const signals = options.signals ?? ['SIGINT', 'SIGTERM'];
  let stopping = false;
  const onSignal = () => {
    if (stopping) {
      if (options.exit !== false) host.exit(130);
      return;
    }
    stopping = true;
    void stop(options.timeout ?? '30s').then(async (report) => {
      await options.onStopped?.(report);
      remove();
      if (options.exit !== false) host.exit(0);
    });
  };
  const remove = () => {
    for (const signal of signals) host.off(signal, onSignal);
  };
  for (const signal of signals) host.on(signal, onSignal);
  return remove;
}
