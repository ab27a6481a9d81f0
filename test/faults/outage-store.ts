import type { Store } from '../../src/index.ts';

/** A store whose every call fails while it is "down", as a database restart looks to a client. */
export interface OutageStore {
  readonly store: Store;
  /** Calls that failed because the store was down. */
  readonly failedCalls: Map<string, number>;
  down(): void;
  up(): void;
  /**
   * The next call of `method` reaches the store and commits, but its reply is lost (the
   * connection drops on the way back): the caller sees an error.
   */
  loseReplyOf(method: keyof Store): void;
}

/** Wraps `inner` so a test can take it down and bring it back; open and close always pass. */
export function outageStore(inner: Store): OutageStore {
  let isDown = false;
  const loseReply = new Set<string>();
  const failedCalls = new Map<string, number>();
  const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432 (injected outage)'), { code: 'ECONNREFUSED' });
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function' || property === 'open' || property === 'close' || property === 'subscribe') {
        return typeof value === 'function' ? value.bind(target) : value;
      }
      const name = String(property);
      return (...args: unknown[]) => {
        const count = () => failedCalls.set(name, (failedCalls.get(name) ?? 0) + 1);
        if (isDown) {
          count();
          return Promise.reject(refused());
        }
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!loseReply.delete(name)) return result;
        count();
        return Promise.resolve(result).then(() => Promise.reject(new Error('Connection terminated unexpectedly (injected)')));
      };
    },
  });
  return {
    store,
    failedCalls,
    down: () => void (isDown = true),
    up: () => void (isDown = false),
    loseReplyOf: (method) => void loseReply.add(method),
  };
}
