/**
 * `npm run bench [-- --quick] [--only engine|cluster]`: runs the benchmark suites, prints their tables
 * and writes bench/results/<suite>.json and .md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { clusterSuite } from './cluster/suite.ts';
import { engineSuite } from './engine/suite.ts';
import { renderMarkdown, renderText, type Table } from './lib/table.ts';

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, only: { type: 'string' } } });
const quick = values.quick === true;
const log = (line: string) => process.stderr.write(`${line}\n`);

const SUITES: Record<string, (o: { quick: boolean; log: (l: string) => void }) => Promise<{ tables: Table[]; raw: object }>> = {
  engine: engineSuite,
  cluster: clusterSuite,
};

const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const results = new URL('./results/', import.meta.url);
mkdirSync(results, { recursive: true });
for (const [name, suite] of Object.entries(SUITES)) {
  if (values.only !== undefined && values.only !== name) continue;
  log(`suite ${name}${quick ? ' (quick)' : ''} on ${machine}`);
  const started = Date.now();
  const { tables, raw } = await suite({ quick, log });
  for (const table of tables) process.stdout.write(`\n${renderText(table)}\n`);
  const meta = { suite: name, quick, machine, date: new Date().toISOString(), seconds: Math.round((Date.now() - started) / 1000) };
  writeFileSync(new URL(`${name}.json`, results), `${JSON.stringify({ ...meta, raw }, null, 2)}\n`);
  writeFileSync(new URL(`${name}.md`, results), `${tables.map(renderMarkdown).join('\n\n')}\n\n_${machine}; ${meta.date}_\n`);
  log(`suite ${name} done in ${meta.seconds} s; wrote bench/results/${name}.json and .md`);
}
