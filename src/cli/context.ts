import { findConfigFile, loadConfig, type DaemonConfig } from '../config/load.ts';
import { openStore } from '../config/open-store.ts';
import type { Store } from '../store/port.ts';
import { UsageError } from './usage-error.ts';

/** Output channels of a command; tests pass their own. */
export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: NodeJS.WriteStream;
}

/** The options every config-reading command shares. */
export const CONFIG_OPTIONS = {
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Loads the config a command was pointed at (`--config`, else the default file names in cwd). */
export function commandConfig(given: string | undefined, io: CliIo): DaemonConfig {
  return loadConfig({ file: findConfigFile(given, io.cwd), env: io.env });
}

/** Opens the configured store for one command and closes it afterwards. */
export async function withStore<T>(config: DaemonConfig, work: (store: Store) => Promise<T>): Promise<T> {
  if (config.store.kind === 'memory') {
    throw new UsageError('the store is "memory": only the daemon process can see it; configure sqlite or postgres to use this command');
  }
  const store = openStore(config.store);
  await store.open();
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}
