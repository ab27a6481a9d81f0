import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import type { CliIo } from '../../src/cli/context.ts';
import { main } from '../../src/cli/main.ts';

/** An empty working directory: no config file, no store. */
const dir = mkdtempSync(join(tmpdir(), 'caretaker-help-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function io(): CliIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l), cwd: dir, env: {}, stdout: process.stdout };
}

async function cli(...argv: string[]): Promise<{ code: number; out: string; errors: string[] }> {
  const c = io();
  const code = await main(argv, c);
  return { code, out: c.lines.join('\n'), errors: c.errors };
}

const COMMANDS = ['run', 'validate', 'list', 'trigger', 'history', 'pause', 'resume', 'set', 'reset', 'next', 'demo'] as const;
const DEMO_DATA = fileURLToPath(new URL('../../examples/demo/data', import.meta.url));

describe('caretaker --help', () => {
  for (const flag of ['--help', '-h', 'help']) {
    it(`caretaker ${flag} prints the usage and every command, exit 0`, async () => {
      const result = await cli(flag);
      assert.equal(result.code, 0);
      assert.deepEqual(result.errors, []);
      assert.match(result.out, /^Usage: caretaker <command> \[options\]$/m);
      for (const command of COMMANDS) assert.match(result.out, new RegExp(`^  ${command}\\b`, 'm'), `lists ${command}`);
      assert.match(result.out, /Every command takes --help/);
    });
  }

  it('caretaker with no command prints the same usage', async () => {
    const bare = await cli();
    const help = await cli('--help');
    assert.equal(bare.code, 0);
    assert.equal(bare.out, help.out);
  });

  it('--version prints the version from package.json', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.match(pkg.version, /^\d+\.\d+\.\d+/);
    for (const flag of ['--version', '-v']) {
      const result = await cli(flag);
      assert.equal(result.code, 0);
      assert.equal(result.out, pkg.version);
      assert.deepEqual(result.errors, []);
    }
  });
});

describe('caretaker <command> --help, with no config file or store in the working directory', () => {
  const demoDataExisted = existsSync(DEMO_DATA);

  for (const command of COMMANDS) {
    for (const flag of ['--help', '-h']) {
      it(`${command} ${flag}: exit 0 and a "Usage: caretaker ${command}" line`, async () => {
        const result = await cli(command, flag);
        assert.deepEqual(result.errors, [], 'nothing on stderr');
        assert.equal(result.code, 0);
        const usage = result.out.split('\n').filter((l) => l.startsWith('Usage: '));
        assert.equal(usage.length, 1, result.out);
        assert.match(usage[0] ?? '', new RegExp(`^Usage: caretaker ${command}( |$)`));
        assert.ok(result.out.split('\n').length > 2, 'more than the usage line');
      });
    }
  }

  it('help of a command that takes a TASK or SCHEDULE does not need one', async () => {
    for (const [command, arg] of [['trigger', 'TASK'], ['pause', 'TASK'], ['resume', 'TASK'], ['next', 'SCHEDULE']] as const) {
      const result = await cli(command, '--help');
      assert.equal(result.code, 0);
      assert.match(result.out, new RegExp(`^Usage: caretaker ${command} ${arg}\\b`, 'm'));
    }
  });

  it('help is the whole answer even with other options given', async () => {
    const result = await cli('history', 'some-task', '--limit', '5', '--help');
    assert.equal(result.code, 0);
    assert.match(result.out, /^Usage: caretaker history \[TASK\]/);
  });

  it('printing help created no config, store or other file in the working directory', () => {
    assert.deepEqual(readdirSync(dir), []);
  });

  it('demo --help does not create the demo data folder', async () => {
    const result = await cli('demo', '--help');
    assert.equal(result.code, 0);
    assert.deepEqual(result.errors, [], 'the demo did not start (it announces its config on stderr)');
    if (!demoDataExisted) assert.equal(existsSync(DEMO_DATA), false, `${DEMO_DATA} was created`);
  });
});

describe('usage mistakes', () => {
  it('an unknown option exits 2 with one stderr line naming it and where the options are', async () => {
    const result = await cli('history', '--bogus');
    assert.equal(result.code, 2);
    assert.equal(result.out, '');
    assert.deepEqual(result.errors, ['caretaker: unknown option --bogus; caretaker history --help lists the options']);
  });

  for (const command of COMMANDS.filter((c) => c !== 'demo')) {
    it(`${command}: an unknown option is refused before any config is read`, async () => {
      const result = await cli(command, '--frobnicate');
      assert.equal(result.code, 2);
      assert.deepEqual(result.errors.length, 1, result.errors.join('\n'));
      assert.match(result.errors[0] ?? '', /^caretaker: unknown option --frobnicate; /);
    });
  }

  it('a mistyped option or command gets a "did you mean", from the options the command\'s help names', async () => {
    const cases: readonly (readonly [readonly string[], string])[] = [
      [['history', '--limt', '5'], 'caretaker: unknown option --limt; did you mean --limit?'],
      [['list', '--jsn'], 'caretaker: unknown option --jsn; did you mean --json?'],
      [['run', '--log-levl', 'debug'], 'caretaker: unknown option --log-levl; did you mean --log-level?'],
      [['trigger', 'x', '--wiat'], 'caretaker: unknown option --wiat; did you mean --wait?'],
      [['next', '* * * * *', '--cout', '3'], 'caretaker: unknown option --cout; did you mean --count?'],
      [['--verison'], 'caretaker: unknown option --verison; did you mean --version?'],
      [['valdate'], 'caretaker: unknown command "valdate"; did you mean "validate"?'],
      [['histroy'], 'caretaker: unknown command "histroy"; did you mean "history"?'],
      [['list', 'extra'], 'caretaker: unexpected argument "extra"; caretaker list takes none (see caretaker list --help)'],
    ];
    for (const [argv, line] of cases) {
      const result = await cli(...argv);
      assert.equal(result.code, 2, argv.join(' '));
      assert.deepEqual(result.errors, [line]);
    }
  });

  it('an unknown command exits 2 and points to --help', async () => {
    const result = await cli('frobnicate');
    assert.equal(result.code, 2);
    assert.equal(result.out, '');
    assert.deepEqual(result.errors, ['caretaker: unknown command "frobnicate"; run caretaker --help for the list']);
  });

  it('a config command without a config file exits 2 and says which files it looked for', async () => {
    const result = await cli('list');
    assert.equal(result.code, 2);
    assert.deepEqual(result.errors, [
      'caretaker: a problem in --config:',
      `  --config: received nothing; no caretaker.config.yaml, caretaker.config.yml, caretaker.config.json in ${dir}; create one or pass --config FILE`,
    ]);
  });
});

describe('--json errors', () => {
  /** The one JSON document a --json run printed on stdout, with nothing on stderr. */
  async function jsonError(...argv: string[]): Promise<{ code: string; message: string; issues?: { path: string; fix: string }[] }> {
    const result = await cli(...argv);
    assert.equal(result.code, 2, argv.join(' '));
    assert.deepEqual(result.errors, [], `${argv.join(' ')}: nothing on stderr`);
    const doc = JSON.parse(result.out) as { error: { code: string; message: string; issues?: { path: string; fix: string }[] } };
    assert.deepEqual(Object.keys(doc), ['error']);
    return doc.error;
  }

  for (const command of COMMANDS.filter((c) => c !== 'demo')) {
    it(`${command} --json: a usage mistake is { error: { code, message } } on stdout`, async () => {
      const error = await jsonError(command, '--frobnicate', '--json');
      assert.deepEqual(error, { code: 'ERR_USAGE', message: `unknown option --frobnicate; caretaker ${command} --help lists the options` });
    });
  }

  for (const command of ['run', 'validate', 'list', 'history'] as const) {
    it(`${command} --json: a config problem carries the issues`, async () => {
      const error = await jsonError(command, '--json');
      assert.equal(error.code, 'ERR_INVALID_OPTION');
      assert.deepEqual(error.issues?.map((i) => i.path), ['--config']);
    });
  }

  it('an unknown command and an argument problem of next are JSON too', async () => {
    assert.deepEqual(await jsonError('frobnicate', '--json'), { code: 'ERR_USAGE', message: 'unknown command "frobnicate"; run caretaker --help for the list' });
    assert.equal((await jsonError('next', 'every soon', '--json')).code, 'ERR_USAGE');
  });
});
