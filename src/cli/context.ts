import { findConfigFile, loadConfig, type DaemonConfig } from '../config/load.ts';
import { openStore } from '../config/open-store.ts';
import { userInfo } from 'node:os';
import type { Store } from '../store/port.ts';
import { uuidv7 } from '../util/ids.ts';
import type { JsonValue } from '../util/json.ts';
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

/** Who runs this command, for the audit: `cli:<OS user>`. */
export function cliActor(env: NodeJS.ProcessEnv): string {
  let user: string | undefined;
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (a container's arbitrary uid): the environment may still say.
  }
  return `cli:${user || env.USER || env.USERNAME || 'unknown'}`;
}

/**
 * Records a change this command made (it has been made): best effort, a store that refuses
 * the record does not undo it or fail the command.
 */
export async function recordCliChange(store: Store, io: CliIo, change: { readonly action: string; readonly task: string | null; readonly runId?: string | null; readonly detail?: JsonValue | null }): Promise<void> {
  try {
    await store.recordAudit({ id: uuidv7(), at: new Date(), actor: cliActor(io.env), source: 'cli', action: change.action, task: change.task, runId: change.runId ?? null, detail: change.detail ?? null });
  } catch (error) {
    io.err(`caretaker: the change was made, but its audit record was not written: ${error instanceof Error ? error.message : String(error)}`);
  }
}
