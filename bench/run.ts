/**
 * `npm run bench [-- --quick] [--only engine|quiet|cluster|burst|schedules|scale|stats]`: runs the benchmark suites, prints
 * their tables and writes bench/results/<suite>.json and .md; then prints one combined summary of
 * every suite that ran (the last thing on stdout) and writes it to bench/results/summary.json and .md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { burstSuite } from './burst/suite.ts';
import { clusterSuite } from './cluster/suite.ts';
import { engineSuite } from './engine/suite.ts';
import { quietSuite } from './quiet/suite.ts';
import type { Suite } from './lib/suite.ts';
import { type Headline, judge, summaryTable } from './lib/summary.ts';
import { renderMarkdown, renderText } from './lib/table.ts';
import { scaleSuite } from './scale/suite.ts';
import { schedulesSuite } from './schedules/suite.ts';
import { statsSuite } from './stats/suite.ts';

const SUITES: Record<string, Suite> = {
  engine: engineSuite,
  quiet: quietSuite,
  cluster: clusterSuite,
  burst: burstSuite,
  schedules: schedulesSuite,
  scale: scaleSuite,
  stats: statsSuite,
};

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, only: { type: 'string' } } });
const quick = values.quick === true;
const log = (line: string) => process.stderr.write(`${line}\n`);
if (values.only !== undefined && !(values.only in SUITES)) {
  log(`bench: unknown suite "${values.only}"; expected one of ${Object.keys(SUITES).join(', ')}`);
  process.exit(2);
}

const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const results = new URL('./results/', import.meta.url);
mkdirSync(results, { recursive: true });
const write = (name: string, json: object, markdown: string, date: string) => {
  writeFileSync(new URL(`${name}.json`, results), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(new URL(`${name}.md`, results), `${markdown}\n\n_${machine}; ${date}_\n`);
};

const headlines: { suite: string; headline: Headline }[] = [];
for (const [name, suite] of Object.entries(SUITES)) {
  if (values.only !== undefined && values.only !== name) continue;
  log(`suite ${name}${quick ? ' (quick)' : ''} on ${machine}`);
  const started = Date.now();
  const result = await suite({ quick, log });
  for (const table of result.tables) process.stdout.write(`\n${renderText(table)}\n`);
  const meta = { suite: name, quick, machine, date: new Date().toISOString(), seconds: Math.round((Date.now() - started) / 1000) };
  write(name, { ...meta, raw: result.raw }, result.tables.map(renderMarkdown).join('\n\n'), meta.date);
  for (const headline of result.headlines) headlines.push({ suite: name, headline });
  log(`suite ${name} done in ${meta.seconds} s; wrote bench/results/${name}.json and .md`);
}

const summary = summaryTable(headlines);
const date = new Date().toISOString();
const rows = headlines.map(({ suite, headline }) => ({ suite, ...headline, ...judge(headline) }));
write('summary', { quick, machine, date, suites: [...new Set(headlines.map((h) => h.suite))], rows }, renderMarkdown(summary), date);
log('wrote bench/results/summary.json and .md');
process.stdout.write(`\n${renderText(summary)}\n`);
