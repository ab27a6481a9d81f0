import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { inConfigTerms } from '../../src/config/units.ts';
import { channelsFor, checkNotify, DEFAULT_NOTIFY_RETRY, notifyRetryDelay, resolveNotify, shownUrl } from '../../src/notify/config.ts';
import { NOTIFY_KINDS } from '../../src/notify/event.ts';
import { requiringUnits } from '../../src/util/duration.ts';
import { InvalidOptionError, type OptionIssue } from '../../src/util/errors.ts';
import { seededRandom } from '../helpers.ts';

const SLACK = 'https://hooks.slack.com/services/T000/B000/SECRETSECRETSECRET';
const TOKEN = 'tok-4f9a8b7c6d5e';

/** The example section of issue 15. */
const EXAMPLE = {
  channels: {
    'ops-slack': { webhook: { url: SLACK, format: 'slack', headers: { 'X-Token': TOKEN }, timeout: '10s' } },
    pager: { command: ['/usr/local/bin/page', '--team', 'ops'], timeout: '30s' },
  },
  defaults: { on: ['failed', 'recovered'], channels: ['ops-slack'] },
  tasks: {
    'db-backup': { on: ['failed', 'stale', 'missed'], channels: ['ops-slack', 'pager'] },
    'noisy-task': false,
  },
  retry: { attempts: 5, backoff: '10s', maxBackoff: '10m' },
};

/** The issues resolveNotify throws for `input`; fails when it does not throw. */
function issuesOf(input: unknown): OptionIssue[] {
  try {
    resolveNotify(input);
  } catch (error) {
    assert.ok(error instanceof InvalidOptionError, String(error));
    assert.equal(error.code, 'ERR_INVALID_OPTION');
    return [...error.issues];
  }
  return assert.fail('expected resolveNotify to throw');
}

/** The one issue at `path`. */
function issueAt(issues: readonly OptionIssue[], path: string): OptionIssue {
  const found = issues.filter((i) => i.path === path);
  assert.equal(found.length, 1, `one issue at ${path}; got ${JSON.stringify(issues, null, 1)}`);
  return found[0] as OptionIssue;
}

/** EXAMPLE with one channel replaced. */
const withChannel = (name: string, channel: unknown) => ({ ...EXAMPLE, channels: { ...EXAMPLE.channels, [name]: channel } });

describe('resolveNotify: the section of issue 15', () => {
  it('resolves channels, rules and retry with durations in milliseconds', () => {
    const notify = requiringUnits(() => resolveNotify(EXAMPLE));
    assert.deepEqual(notify.channels.get('ops-slack'), { kind: 'webhook', url: SLACK, format: 'slack', headers: { 'X-Token': TOKEN }, timeoutMs: 10_000 });
    assert.deepEqual(notify.channels.get('pager'), { kind: 'command', argv: ['/usr/local/bin/page', '--team', 'ops'], timeoutMs: 30_000 });
    assert.deepEqual(notify.defaults, { on: ['failed', 'recovered'], channels: ['ops-slack'] });
    assert.deepEqual(notify.tasks.get('db-backup'), { on: ['failed', 'stale', 'missed'], channels: ['ops-slack', 'pager'] });
    assert.equal(notify.tasks.get('noisy-task'), false);
    assert.deepEqual(notify.retry, { attempts: 5, backoffMs: 10_000, maxBackoffMs: 600_000, factor: 2 });
  });

  it('defaults: format json, timeouts 10s (webhook, custom) and 30s (command), retry 5 × 10s..10m, factor 2', () => {
    const send = async () => {};
    const notify = resolveNotify({ channels: { hook: { webhook: { url: 'http://127.0.0.1:8080/alerts' } }, run: { command: ['page'] }, mine: { send } } });
    assert.deepEqual(notify.channels.get('hook'), { kind: 'webhook', url: 'http://127.0.0.1:8080/alerts', format: 'json', headers: {}, timeoutMs: 10_000 });
    assert.deepEqual(notify.channels.get('run'), { kind: 'command', argv: ['page'], timeoutMs: 30_000 });
    assert.deepEqual(notify.channels.get('mine'), { kind: 'custom', send, timeoutMs: 10_000 });
    assert.equal(notify.defaults, null);
    assert.equal(notify.tasks.size, 0);
    assert.deepEqual(notify.retry, DEFAULT_NOTIFY_RETRY);
    assert.deepEqual(DEFAULT_NOTIFY_RETRY, { attempts: 5, backoffMs: 10_000, maxBackoffMs: 600_000, factor: 2 });
  });

  it('in code, durations may be milliseconds', () => {
    const notify = resolveNotify({ channels: { run: { command: ['page'], timeout: 2_500 } }, retry: { backoff: 500, maxBackoff: '1m', factor: 3, attempts: 2 } });
    assert.equal(notify.channels.get('run')?.timeoutMs, 2_500);
    assert.deepEqual(notify.retry, { attempts: 2, backoffMs: 500, maxBackoffMs: 60_000, factor: 3 });
  });

  it('kinds and channels listed twice count once', () => {
    const notify = resolveNotify({ ...EXAMPLE, defaults: { on: ['failed', 'failed', 'missed'], channels: ['pager', 'pager'] } });
    assert.deepEqual(notify.defaults, { on: ['failed', 'missed'], channels: ['pager'] });
  });
});

describe('resolveNotify: every problem at once, each naming its path and the fix', () => {
  it('a bad field in each part of the section gives one issue per problem, all in one error', () => {
    const issues = issuesOf({
      channels: {
        'ops-slack': { webhook: { url: 'ftp://files.example.com/in', format: 'slak', timeout: 'soon' } },
        pager: { command: 'page --team ops' },
      },
      defaults: { on: ['failed', 'crashed'], channels: ['ops-slack'] },
      tasks: { 'db-backup': { on: ['failed'], channels: ['pagr'] } },
      retry: { attempts: 0, backoff: '10 secs' },
      rety: {},
    });
    assert.deepEqual(issues.map((i) => i.path).sort(), [
      'notify.channels.ops-slack.webhook.format',
      'notify.channels.ops-slack.webhook.timeout',
      'notify.channels.ops-slack.webhook.url',
      'notify.channels.pager.command',
      'notify.defaults.on.1',
      'notify.retry.attempts',
      'notify.retry.backoff',
      'notify.rety',
      'notify.tasks.db-backup.channels.0',
    ]);
    assert.match(issueAt(issues, 'notify.channels.ops-slack.webhook.url').fix, /use an http:\/\/ or https:\/\/ URL \(not ftp:\)/);
    assert.match(issueAt(issues, 'notify.channels.ops-slack.webhook.format').fix, /use one of "json", "slack"/);
    assert.match(issueAt(issues, 'notify.channels.ops-slack.webhook.timeout').fix, /is not a duration/);
    assert.match(issueAt(issues, 'notify.channels.pager.command').fix, /list of strings/);
    assert.match(issueAt(issues, 'notify.defaults.on.1').fix, /use one of "failed", "recovered", "stale", "missed"/);
    assert.match(issueAt(issues, 'notify.retry.attempts').fix, /at least 1/);
    assert.match(issueAt(issues, 'notify.rety').fix, /did you mean "retry"/);
  });

  it('the error message has one line per problem', () => {
    assert.throws(
      () => resolveNotify({ channels: { a: { command: [] } }, defaults: { on: ['failed'], channels: ['b'] } }),
      (error: unknown) => error instanceof InvalidOptionError && /^option "notify": 2 problems\n {2}notify\.channels\.a\.command: .*\n {2}notify\.defaults\.channels\.0: /.test(error.message),
    );
  });

  it('a rule naming an unknown channel: the rule\'s path, a "did you mean" and the known channels', () => {
    const issues = issuesOf({ ...EXAMPLE, tasks: { 'db-backup': { on: ['failed'], channels: ['ops-slack', 'pagr'] } }, defaults: { on: ['failed'], channels: ['email'] } });
    assert.deepEqual(issueAt(issues, 'notify.tasks.db-backup.channels.1'), {
      path: 'notify.tasks.db-backup.channels.1',
      received: '"pagr"',
      fix: 'no channel named "pagr"; did you mean "pager"? (channels: ops-slack, pager)',
    });
    assert.equal(issueAt(issues, 'notify.defaults.channels.0').fix, 'no channel named "email"; use one of the channels defined (channels: ops-slack, pager)');
  });

  it('a rule naming a channel that has problems of its own is not a second problem', () => {
    const issues = issuesOf(withChannel('pager', { command: 42 }));
    assert.deepEqual(issues.map((i) => i.path), ['notify.channels.pager.command']);
  });

  it('non-http URLs and URLs with credentials are refused, naming the field', () => {
    for (const [url, fix] of [
      ['file:///etc/passwd', /not file:/],
      ['javascript:alert(1)', /not javascript:/],
      ['hooks.slack.com/services/x', /not a URL/],
      ['https://user:pass@hooks.example.com/x', /credentials in headers/],
    ] as const) {
      const issue = issueAt(issuesOf(withChannel('ops-slack', { webhook: { url } })), 'notify.channels.ops-slack.webhook.url');
      assert.match(issue.fix, fix, url);
      assert.ok(!issue.received.includes('pass') && !issue.received.includes('services/x'), issue.received);
    }
  });

  it('secrets stay out of errors: the URL shows its origin only, header values their size only, misspelt keys too', () => {
    const issues = issuesOf(
      withChannel('ops-slack', {
        webhook: { url: SLACK, format: 'xml', headers: { Authorization: 7, 'X-Api-Key': `bad\n${TOKEN}`, 'Bad Name': TOKEN, Host: 'x' }, uri: SLACK },
      }),
    );
    const text = JSON.stringify(issues);
    assert.ok(!text.includes('SECRET'), text);
    assert.ok(!text.includes(TOKEN), text);
    assert.equal(issueAt(issues, 'notify.channels.ops-slack.webhook.uri').received, '"https://hooks.slack.com/…"');
    assert.equal(issueAt(issues, 'notify.channels.ops-slack.webhook.headers.X-Api-Key').received, `a value of ${TOKEN.length + 4} characters (not shown)`);
    assert.match(issueAt(issues, 'notify.channels.ops-slack.webhook.headers.X-Api-Key').fix, /line breaks/);
    assert.match(issueAt(issues, 'notify.channels.ops-slack.webhook.headers.Authorization').fix, /must be a string/);
    assert.deepEqual(issueAt(issues, 'notify.channels.ops-slack.webhook.headers.Bad Name').received, '"Bad Name"');
    assert.match(issueAt(issues, 'notify.channels.ops-slack.webhook.headers.Host').fix, /sets itself/);
  });

  it('bad kinds: not in the list, an empty list, not a list', () => {
    const issues = issuesOf({ ...EXAMPLE, defaults: { on: 'failed', channels: ['pager'] }, tasks: { a: { on: [], channels: ['pager'] }, b: { on: ['fail'], channels: ['pager'] } } });
    assert.match(issueAt(issues, 'notify.defaults.on').fix, /list at least one of failed, recovered, stale, missed, or write false/);
    assert.match(issueAt(issues, 'notify.tasks.a.on').fix, /list at least one of/);
    assert.match(issueAt(issues, 'notify.tasks.b.on.0').fix, /use one of "failed"/);
  });

  it('bad durations: not a duration, zero or too long a timeout; in a config file a bare number names the unit to write', () => {
    const issues = issuesOf({ channels: { a: { command: ['x'], timeout: 'a while' }, b: { command: ['x'], timeout: 0 }, c: { command: ['x'], timeout: '2h' } }, retry: { maxBackoff: -5 } });
    assert.match(issueAt(issues, 'notify.channels.a.timeout').fix, /is not a duration/);
    assert.match(issueAt(issues, 'notify.channels.b.timeout').fix, /more than 0/);
    assert.match(issueAt(issues, 'notify.channels.c.timeout').fix, /at most 10m/);
    assert.match(issueAt(issues, 'notify.retry.maxBackoff').fix, /is not a duration/);
    const inFile: OptionIssue[] = [];
    assert.equal(requiringUnits(() => checkNotify({ channels: { a: { command: ['x'], timeout: 30 } } }, inFile)), null);
    assert.match(issueAt(inConfigTerms(inFile), 'notify.channels.a.timeout').fix, /needs a unit; write "30s"/);
  });

  it('a channel must be exactly one of webhook, command or send', () => {
    const issues = issuesOf({ channels: { none: {}, two: { command: ['x'], webhook: { url: SLACK } }, text: 'https://x', list: ['x'] } });
    assert.match(issueAt(issues, 'notify.channels.none').fix, /give one of \{ webhook/);
    assert.match(issueAt(issues, 'notify.channels.two').fix, /give only one of webhook, command/);
    assert.match(issueAt(issues, 'notify.channels.text').fix, /give one of/);
    assert.match(issueAt(issues, 'notify.channels.list').fix, /give one of/);
  });

  it('a custom channel needs a function; unknown keys get a "did you mean"', () => {
    const issues = issuesOf({ channels: { mine: { send: 'not a function', timout: '1s' }, cmd: { command: ['x'], tiemout: '1s' } } });
    assert.match(issueAt(issues, 'notify.channels.mine.send').fix, /expected a function/);
    assert.match(issueAt(issues, 'notify.channels.mine.timout').fix, /did you mean "timeout"/);
    assert.match(issueAt(issues, 'notify.channels.cmd.tiemout').fix, /did you mean "timeout"/);
  });

  it('channel and task names are checked', () => {
    const issues = issuesOf({ channels: { 'has space': { command: ['x'] }, ok: { command: ['x'] } }, tasks: { 'Not A Task': false } });
    assert.match(issueAt(issues, 'notify.channels.has space').fix, /letters, digits/);
    assert.match(issueAt(issues, 'notify.tasks.Not A Task').fix, /not a task name/);
  });

  it('a missing or wrong section', () => {
    assert.match(issueAt(issuesOf({}), 'notify.channels').fix, /give channels by name/);
    assert.match(issueAt(issuesOf('yes'), 'notify').fix, /expected object/);
    assert.match(issueAt(issuesOf({ channels: {}, tasks: [] }), 'notify.tasks').fix, /give rules by task name/);
  });

  it('checkNotify adds to a list under any prefix and returns null on problems', () => {
    const issues: OptionIssue[] = [{ path: 'store', received: 'x', fix: 'y' }];
    assert.equal(checkNotify({ channels: { a: { command: [] } } }, issues, 'options.notify'), null);
    assert.deepEqual(issues.map((i) => i.path), ['store', 'options.notify.channels.a.command']);
    assert.ok(checkNotify({ channels: {} }, issues) !== null, 'problems found before do not fail this section');
  });

  it('shownUrl keeps the origin only', () => {
    assert.equal(shownUrl(SLACK), 'https://hooks.slack.com/…');
    assert.equal(shownUrl('http://127.0.0.1:8080'), 'http://127.0.0.1:8080');
    assert.equal(shownUrl('http://127.0.0.1:8080/?token=x'), 'http://127.0.0.1:8080/…');
    assert.equal(shownUrl('not a url'), null);
  });
});

describe('channelsFor', () => {
  const notify = resolveNotify(EXAMPLE);

  it('a task rule replaces the defaults whole', () => {
    assert.deepEqual(channelsFor(notify, 'db-backup', 'failed'), ['ops-slack', 'pager']);
    assert.deepEqual(channelsFor(notify, 'db-backup', 'missed'), ['ops-slack', 'pager']);
    // recovered is in the defaults, not in db-backup's own rule.
    assert.deepEqual(channelsFor(notify, 'db-backup', 'recovered'), []);
  });

  it('false sends nothing for the task', () => {
    for (const kind of NOTIFY_KINDS) assert.deepEqual(channelsFor(notify, 'noisy-task', kind), []);
  });

  it('a task absent from tasks uses the defaults', () => {
    assert.deepEqual(channelsFor(notify, 'cache-cleanup', 'failed'), ['ops-slack']);
    assert.deepEqual(channelsFor(notify, 'cache-cleanup', 'recovered'), ['ops-slack']);
    assert.deepEqual(channelsFor(notify, 'cache-cleanup', 'stale'), []);
  });

  it('without defaults a task absent from tasks sends nothing', () => {
    const { defaults: _, ...rest } = EXAMPLE;
    const bare = resolveNotify(rest);
    assert.deepEqual(channelsFor(bare, 'cache-cleanup', 'failed'), []);
    assert.deepEqual(channelsFor(bare, 'db-backup', 'stale'), ['ops-slack', 'pager']);
  });

  it('returns a fresh array (callers may change it)', () => {
    const list = channelsFor(notify, 'db-backup', 'failed');
    list.pop();
    assert.deepEqual(channelsFor(notify, 'db-backup', 'failed'), ['ops-slack', 'pager']);
  });
});

describe('notifyRetryDelay', () => {
  it('full jitter under an exponential bound: 10s, 20s, 40s, …, at most 10m; null after the last attempt', () => {
    const top = () => 0.999_999_999;
    assert.deepEqual([1, 2, 3, 4].map((a) => notifyRetryDelay(DEFAULT_NOTIFY_RETRY, a, top)), [9_999, 19_999, 39_999, 79_999]);
    assert.equal(notifyRetryDelay(DEFAULT_NOTIFY_RETRY, 5, top), null);
    assert.equal(notifyRetryDelay({ ...DEFAULT_NOTIFY_RETRY, attempts: 20 }, 15, top), 599_999);
    assert.equal(notifyRetryDelay(DEFAULT_NOTIFY_RETRY, 1, () => 0), 0);
  });

  it('always in [0, min(maxBackoff, backoff · factor^(attempt−1))) (fast-check)', () => {
    const random = seededRandom(3);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.nat(600_000), fc.nat(3_600_000), fc.double({ min: 1, max: 10, noNaN: true }), fc.integer({ min: 1, max: 100 }), (attempts, backoffMs, maxBackoffMs, factor, attempt) => {
        const delay = notifyRetryDelay({ attempts, backoffMs, maxBackoffMs, factor }, attempt, random);
        if (attempt >= attempts) return delay === null;
        const bound = Math.min(maxBackoffMs, backoffMs * factor ** (attempt - 1));
        return delay !== null && delay >= 0 && (bound === 0 ? delay === 0 : delay < bound);
      }),
      { numRuns: 500, seed: 5 },
    );
  });
});
