#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

const code = await main(process.argv.slice(2));
process.exitCode = code;
// The command is done: exit once its output is written, even if something still holds the event
// loop (a handler abandoned at the stop deadline, or the stop a second signal cut short).
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
