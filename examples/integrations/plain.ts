/**
 * Caretaker in a plain Node process: tasks run until SIGINT/SIGTERM, then stop gracefully and exit.
 * Run: node --conditions=caretaker-source examples/integrations/plain.ts
 */
import { createScheduler, sqliteStore } from 'caretaker';

const scheduler = createScheduler({ store: sqliteStore({ path: process.env.CARETAKER_DB ?? './caretaker.db' }) });
scheduler.add({ name: 'heartbeat', schedule: { every: '1s' }, handler: () => ({ at: new Date().toISOString() }) });
scheduler.on('run:finished', (run) => console.log(`${run.task} ${run.status}`));
await scheduler.start();
scheduler.stopOnSignals({ timeout: '10s', onStopped: (report) => console.log(`stopped; interrupted ${report.interrupted.length}`) });
console.log('running; Ctrl-C to stop');
