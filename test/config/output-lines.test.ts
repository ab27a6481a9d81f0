import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { OutputLines } from '../../src/config/output-lines.ts';

describe('OutputLines', () => {
  it('any text cut into any chunks gives the lines of the whole, UTF-8 split across chunks included (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 30 }), fc.constantFrom('\n', '\r\n', 'é', '😀', '\n\n')), { maxLength: 30 }), fc.array(fc.nat(40), { maxLength: 10 }), (parts, cuts) => {
        const text = parts.join('');
        const bytes = Buffer.from(text, 'utf8');
        const lines: string[] = [];
        const out = new OutputLines((l) => lines.push(l));
        let at = 0;
        for (const cut of cuts) {
          const end = Math.min(bytes.length, at + cut);
          out.push(bytes.subarray(at, end));
          at = end;
        }
        out.push(bytes.subarray(at));
        out.end();
        const expected = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
        if (expected.at(-1) === '') expected.pop();
        assert.deepEqual(lines, expected);
      }),
      { numRuns: 300, seed: 20261207 },
    );
  });

  it('output without newlines comes out in 8 KiB pieces, never buffered whole', () => {
    const lines: string[] = [];
    const out = new OutputLines((l) => lines.push(l));
    for (let i = 0; i < 100; i++) out.push(Buffer.from('x'.repeat(1_000)));
    assert.equal(lines.length, 12);
    assert.ok(lines.every((l) => l.length === 8_192));
    out.end();
    assert.equal(lines.join('').length, 100_000);
  });
});
