import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
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

  it('carries exactly the millisecond it is given, for any increasing instants up to 2^48 − 1 (fast-check)', () => {
    // Above every instant the other tests used: the process-wide counter state only moves forward.
    const instants = fc.uniqueArray(fc.integer({ min: 2 ** 47, max: 2 ** 48 - 1 }), { minLength: 1, maxLength: 50 }).map((xs) => xs.sort((a, b) => a - b));
    let floor = 0;
    fc.assert(
      fc.property(instants, (xs) => {
        for (const ms of xs) {
          const id = uuidv7(ms);
          assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
          const carried = Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
          // An instant behind one already used keeps the newer millisecond (ids never go back).
          assert.equal(carried, Math.max(ms, floor));
          floor = carried;
        }
      }),
    );
  });
});
