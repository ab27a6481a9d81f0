import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, parseDuration } from '../../src/util/duration.ts';

describe('parseDuration', () => {
  it('reads unit strings, compound strings and fractions', () => {
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('1h 30m'), 5_400_000);
    assert.equal(parseDuration('7d'), 604_800_000);
    assert.equal(parseDuration('2w'), 1_209_600_000);
    assert.equal(parseDuration('1.5h'), 5_400_000);
    assert.equal(parseDuration(' 10m '), 600_000);
  });

  it('takes non-negative finite numbers as milliseconds', () => {
    assert.equal(parseDuration(0), 0);
    assert.equal(parseDuration(1500), 1500);
    assert.equal(parseDuration(1.6), 2);
  });

  it('rejects what is not a duration', () => {
    for (const bad of ['6 hours', '5', '', 'h', '1x', '-5m', '5m-', 'm5', NaN, -1, Infinity, null, undefined, {}, [], true]) {
      assert.equal(parseDuration(bad), undefined, `accepted ${String(bad)}`);
    }
  });
});

describe('formatDuration', () => {
  it('writes compact strings that parse back', () => {
    for (const ms of [0, 1, 999, 1000, 61_000, 5_400_000, 86_400_000 + 1, 604_800_000]) {
      assert.equal(parseDuration(formatDuration(ms)), ms, formatDuration(ms));
    }
    assert.equal(formatDuration(5_400_000), '1h30m');
    assert.equal(formatDuration(Number.POSITIVE_INFINITY), 'forever');
  });
});
