import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createScheduler, DuplicateTaskError, InvalidOptionError, type TaskDefinition } from '../../../src/index.ts';
import { harness } from '../../helpers.ts';

const ok = { name: 'good', schedule: { every: '1m' }, handler: () => {} };

/** The error add() throws, asserting it is an InvalidOptionError. */
function addError(definition: unknown): InvalidOptionError {
  const { scheduler } = harness();
  try {
    scheduler.add(definition as TaskDefinition);
  } catch (error) {
    assert.ok(error instanceof InvalidOptionError, `expected InvalidOptionError, got ${String(error)}`);
    assert.equal(error.code, 'ERR_INVALID_OPTION');
    assert.equal(scheduler.tasks().length, 0, 'nothing was registered');
    return error;
  }
  assert.fail('add() accepted a bad definition');
}

describe('bad input to the public API', () => {
  it('names an unknown option, with a "did you mean"', () => {
    const e = addError({ ...ok, timout: '5m' });
    assert.equal(e.message, 'task "good": timout: received "5m"; unknown option; did you mean "timeout"?');
    assert.match(addError({ ...ok, zzzz: 1 }).message, /zzzz: received 1; unknown option; remove it \(known options: .*timeout/);
    assert.match(addError({ ...ok, retry: { attemps: 3 } }).message, /retry\.attemps: received 3; unknown option; did you mean "attempts"\?/);
  });

  it('names a bad duration', () => {
    assert.equal(addError({ ...ok, timeout: '10 minutes' }).message, 'task "good": timeout: received "10 minutes"; is not a duration; use milliseconds as a number or a string like "90s", "5m", "1h30m" or "7d"');
    assert.match(addError({ ...ok, schedule: { every: -5 } }).message, /schedule\.every: received -5; is not a duration/);
    assert.match(addError({ ...ok, retry: { backoff: 'soon' } }).message, /retry\.backoff: received "soon"; is not a duration/);
  });

  it('names a bad cron expression and a bad time zone', () => {
    assert.match(addError({ ...ok, schedule: { cron: '0 25 * * *' } }).message, /schedule\.cron: received "0 25 \* \* \*"; hour must be 0-23 \(field 2\)$/);
    assert.match(addError({ ...ok, schedule: { cron: '0 2 * * *', timezone: 'Europe/Berln' } }).message, /schedule\.timezone: received "Europe\/Berln"; is not an IANA time zone; use e\.g\. "Europe\/Berlin"/);
  });

  it('names bad names, enums and numbers, all at once', () => {
    const e = addError({ name: 'Cache Cleanup', schedule: { every: '1m' }, handler: 'nope', overlap: 'sometimes', priority: 'urgent', retry: { attempts: 0 } });
    const paths = e.issues.map((i) => i.path).sort();
    assert.deepEqual(paths, ['handler', 'name', 'overlap', 'priority', 'retry.attempts']);
    assert.match(e.message, /^task "Cache Cleanup": 5 problems\n/);
    assert.match(e.message, /name: received "Cache Cleanup"; use lowercase letters, digits/);
    assert.match(e.message, /overlap: received "sometimes"; use one of "skip", "queue", "allow", "replace"/);
    assert.match(e.message, /handler: received "nope"; expected a function/);
    assert.match(e.message, /retry\.attempts: received 0; must be at least 1/);
    assert.match(addError({ ...ok, jitter: '2m' }).message, /jitter: received "2m"; must be shorter than the interval \(every 1m\)/);
    assert.match(addError({ ...ok, maxConcurrent: 3 }).message, /maxConcurrent: received 3; only applies with overlap: "allow"/);
    assert.match(addError({ schedule: { every: '1m' }, handler: () => {} }).message, /name: received nothing; is required/);
    assert.match(addError(null).message, /expected object/);
  });

  it('never registers a name or handler a getter changed after it was checked', () => {
    // Each getter answers a valid value and a bad one by turns: whatever add() made of the
    // definition, it holds a valid name and a function, or nothing and an error naming the field.
    for (let offset = 0; offset < 4; offset++) {
      let names = offset;
      let handlers = offset >> 1;
      const definition = {
        get name(): string {
          return names++ % 2 === 0 ? 'good-name' : 'bad name!';
        },
        schedule: { every: '1m' },
        get handler(): unknown {
          return handlers++ % 2 === 0 ? () => {} : 'not a function';
        },
      };
      const { scheduler } = harness();
      try {
        scheduler.add(definition as unknown as TaskDefinition);
      } catch (error) {
        assert.ok(error instanceof InvalidOptionError, String(error));
        assert.deepEqual(scheduler.tasks(), []);
        continue;
      }
      assert.deepEqual(scheduler.tasks().map((t) => t.name), ['good-name']);
    }
  });

  it('refuses a duplicate name', () => {
    const { scheduler } = harness();
    scheduler.add(ok);
    assert.throws(() => scheduler.add(ok), (e: unknown) => e instanceof DuplicateTaskError && e.code === 'ERR_DUPLICATE_TASK' && /task "good" is already registered; .*update\("good"/.test(e.message));
  });

  it('validates scheduler options', () => {
    assert.throws(() => createScheduler({ lease: '500ms' }), /createScheduler: lease: received "500ms"; must be at least 1s/);
    assert.throws(() => createScheduler({ concurency: 2 } as never), /concurency: received 2; unknown option; did you mean "concurrency"\?/);
    assert.throws(() => createScheduler({ defaults: { timeout: 'x' } } as never), /defaults\.timeout: received "x"; is not a duration/);
    assert.throws(() => createScheduler({ store: {} as never }), /store: received an object; expected a store/);
    assert.throws(() => createScheduler({ history: { maxAge: '1s' } }), /history\.maxAge: received "1s"; must be at least 1m/);
  });

  it('refuses commands that need a started scheduler, and bad history queries', async () => {
    const { scheduler } = harness();
    scheduler.add(ok);
    await assert.rejects(scheduler.trigger('good'), /trigger\(\) needs a started scheduler; it is idle \(call start\(\) first\)/);
    await scheduler.start();
    await assert.rejects(scheduler.history({ status: 'done' as never }), /history query: status: received "done"; use one of running, succeeded/);
    await assert.rejects(scheduler.history({ limit: 0 }), /limit: received 0; use a whole number from 1 to 1000/);
    assert.throws(() => scheduler.stop({ timeout: 'later' }), /stop: timeout: received "later"/);
    await scheduler.stop();
  });
});
