/**
 * A process that runs the config task `tree` (a command) on a scheduler and, once the
 * command's grandchild is up, ends abruptly: argv `CONFIG TREE_DIR throw|exit`.
 */
import { readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { taskDefinitions } from '../../src/config/handlers.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createScheduler, memoryStore } from '../../src/index.ts';

const [file = '', dir = '', how = ''] = process.argv.slice(2);
const scheduler = createScheduler({ store: memoryStore() });
for (const definition of await taskDefinitions(loadConfig({ file, env: {} }).tasks)) scheduler.add(definition);
await scheduler.start();
const trees = () => readdirSync(dir).filter((name) => name.startsWith('tree-')).length;
const before = trees();
await scheduler.trigger('tree');
while (trees() === before) await sleep(10);
if (how === 'throw') {
  setImmediate(() => {
    throw new Error('an uncaught exception with a command running');
  });
} else {
  process.exit(3);
}
