import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { captureError, toJsonOutput } from '../../src/util/json.ts';

describe('captureError', () => {
  it('keeps message, name, stack and code of Errors', () => {
    const error = Object.assign(new TypeError('bad thing'), { code: 'EBAD' });
    const captured = captureError(error);
    assert.equal(captured.message, 'bad thing');
    assert.equal(captured.name, 'TypeError');
    assert.equal(captured.code, 'EBAD');
    assert.match(captured.stack ?? '', /json\.test\.ts/);
  });

  it('captures thrown values of any type', () => {
    assert.equal(captureError('plain string').message, 'plain string');
    assert.equal(captureError('plain string').name, 'NonError');
    assert.equal(captureError(42).message, 'handler threw 42');
    assert.equal(captureError(undefined).message, 'handler threw undefined');
    assert.equal(captureError(null).message, 'handler threw null');
    assert.equal(captureError({ message: 'obj' }).message, 'obj');
    assert.equal(captureError({ reason: 'x' }).message, 'handler threw {"reason":"x"}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.equal(captureError(cyclic).message, 'handler threw [object Object]');
    assert.equal(captureError(new Error('')).message, 'Error');
  });
});

describe('toJsonOutput', () => {
  it('passes JSON through and maps undefined to null', () => {
    assert.deepEqual(toJsonOutput({ removed: 3, at: new Date(0) }, 1000), { ok: true, value: { removed: 3, at: '1970-01-01T00:00:00.000Z' } });
    assert.deepEqual(toJsonOutput(undefined, 1000), { ok: true, value: null });
  });

  it('reports values that cannot be stored', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const c = toJsonOutput(cyclic, 1000);
    assert.equal(c.ok, false);
    assert.equal(c.value, null);
    const big = toJsonOutput('x'.repeat(2000), 100);
    assert.equal(big.ok, false);
    assert.deepEqual((big.value as { truncated: boolean }).truncated, true);
    assert.equal(toJsonOutput(10n, 100).ok, false);
  });

  it('measures the limit in UTF-8 bytes, as stores and wires count them', () => {
    const emoji = '😀'.repeat(30); // 60 UTF-16 units, 120 bytes, 122 with the quotes
    assert.equal(toJsonOutput(emoji, 130).ok, true);
    const over = toJsonOutput(emoji, 100);
    assert.equal(over.ok, false);
    assert.equal((over.value as { bytes: number }).bytes, 122);
    assert.match((over as { problem: string }).problem, /^output of 122 bytes \(UTF-8 JSON\) exceeds the limit of 100/);
  });
});
