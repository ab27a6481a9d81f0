/**
 * One burst, outside the suite: `node burst/one.ts PostgreSQL|SQLite <replicas> <tasks>` (from
 * bench/, after `npm run build`) prints its figures as JSON; progress and replica errors on stderr.
 */
import { measureBurst } from './suite.ts';

const [backend, replicas, tasks] = process.argv.slice(2);
if ((backend !== 'PostgreSQL' && backend !== 'SQLite') || !(Number(replicas) >= 1) || !(Number(tasks) >= 1)) {
  process.stderr.write('usage: node burst/one.ts PostgreSQL|SQLite <replicas> <tasks>\n');
  process.exit(2);
}
const figures = await measureBurst(backend, Number(replicas), Number(tasks), (line) => process.stderr.write(`${line}\n`));
process.stdout.write(`${JSON.stringify(figures, null, 1)}\n`);
