#!/usr/bin/env node
// The floor of package.json "engines": node:sqlite loads without a flag from 22.13 on. Checked
// before anything loads (hence the dynamic import below), so an older Node prints one line, not
// a stack of ERR_UNKNOWN_BUILTIN_MODULE.
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 13)) {
  process.stderr.write(`caretaker: Node.js 22.13 or newer is needed; this is Node.js ${process.version} (${process.execPath})\n`);
  process.exit(2);
}

// A reader that went away (a closed pipe, `caretaker history | head`) must neither crash the
// command nor, for the daemon, stop it or make it spin on write errors: output is dropped.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
  });
}

const { main } = await import('../dist/cli/main.js');
const code = await main(process.argv.slice(2));
process.exitCode = code;
// The command is done: exit once its output is written, even if something still holds the event
// loop (a handler abandoned at the stop deadline, or the stop a second signal cut short), and
// at the latest a second later (a write to a closed pipe never calls back).
setTimeout(() => process.exit(code), 1_000).unref();
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
