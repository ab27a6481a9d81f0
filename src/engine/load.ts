/**
 * One reading of how busy the process and host are; null where the probe cannot tell.
 * What `defer` compares with its limits.
 */
export interface LoadSample {
  /** Event-loop delay (p99 over the sample), ms. */
  readonly eventLoopLagMs: number | null;
  /** Host CPU use, 0 to 1. */
  readonly cpu: number | null;
  /** Memory in use, 0 to 1: of the container's limit where there is one, else of the host's. */
  readonly memory: number | null;
  /** This process's resident set, bytes. */
  readonly rssBytes: number | null;
}

/** What a sample should measure: a probe measures only what some waiting run asks for. */
export interface LoadWanted {
  readonly eventLoopLag: boolean;
  readonly cpu: boolean;
  readonly memory: boolean;
}

/**
 * Where `defer` reads the load. `createScheduler` gives one that measures this process and host
 * only while a run asks (no background sampling); pass your own to `createScheduler({ loadProbe })`
 * to defer on other signals, such as a queue's depth.
 *
 * @example
 * const loadProbe = { sample: () => ({ eventLoopLagMs: null, cpu: queueDepth() / 1000, memory: null, rssBytes: null }) };
 */
export interface LoadProbe {
  sample(wanted: LoadWanted): LoadSample | Promise<LoadSample>;
}
