import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSize } from '../../src/util/size.ts';

describe('parseSize', () => {
  it('reads decimal and binary units, case-insensitively', () => {
    assert.equal(parseSize('500MB'), 500_000_000);
    assert.equal(parseSize('10GB'), 10_000_000_000);
    assert.equal(parseSize('10 gb'), 10_000_000_000);
    assert.equal(parseSize('1KiB'), 1024);
    assert.equal(parseSize('1.5GiB'), 1.5 * 2 ** 30);
    assert.equal(parseSize('2TB'), 2e12);
    assert.equal(parseSize('42B'), 42);
    assert.equal(parseSize('42'), 42);
    assert.equal(parseSize(' 3kb '), 3000);
  });

  it('takes non-negative finite numbers as bytes', () => {
    assert.equal(parseSize(0), 0);
    assert.equal(parseSize(1536), 1536);
    assert.equal(parseSize(1.6), 2);
  });

  it('rejects what is not a size', () => {
    for (const bad of ['', 'MB', '10 XB', '-5MB', '5MB5', '1e3', '10 megabytes', NaN, -1, Infinity, null, undefined, {}, [], true]) {
      assert.equal(parseSize(bad), undefined, `accepted ${String(bad)}`);
    }
  });
});
