import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { uuidv7 } from '../../src/util/ids.ts';

describe('uuidv7', () => {
  it('is an RFC 9562 version 7 UUID carrying the millisecond', () => {
    const id = uuidv7(Date.parse('2026-01-01T00:00:00.000Z'));
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16) >= Date.parse('2026-01-01T00:00:00.000Z'), true);
  });

  it('strictly increases within a process, also within one millisecond and across a backwards clock', () => {
    const ids: string[] = [];
    const t = Date.parse('2030-06-01T00:00:00Z');
    for (let i = 0; i < 10_000; i++) ids.push(uuidv7(t + Math.floor(i / 5000)));
    ids.push(uuidv7(t - 60_000));
    for (let i = 1; i < ids.length; i++) assert.ok((ids[i - 1] as string) < (ids[i] as string), `${ids[i - 1]} !< ${ids[i]}`);
    assert.equal(new Set(ids).size, ids.length);
  });
});
