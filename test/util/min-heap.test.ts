import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MinHeap } from '../../src/util/min-heap.ts';

interface Item {
  heapIndex: number;
  key: number;
}
const item = (key: number): Item => ({ heapIndex: -1, key });

describe('MinHeap', () => {
  it('pops in key order whatever the insertion order, with removals and updates', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 200 }), fc.array(fc.nat()), (keys, removals) => {
        const heap = new MinHeap<Item>((a, b) => a.key < b.key);
        const items = keys.map(item);
        for (const it of items) heap.push(it);
        const removed = new Set<Item>();
        for (const r of removals) {
          const victim = items[r % Math.max(1, items.length)];
          if (victim !== undefined && heap.remove(victim)) removed.add(victim);
        }
        // Re-key a few survivors to check update().
        for (const it of items.filter((i) => !removed.has(i)).slice(0, 10)) {
          it.key = -it.key;
          heap.update(it);
        }
        const expected = items.filter((i) => !removed.has(i)).map((i) => i.key).sort((a, b) => a - b);
        const popped: number[] = [];
        for (let x = heap.pop(); x !== undefined; x = heap.pop()) {
          assert.equal(x.heapIndex, -1);
          popped.push(x.key);
        }
        assert.deepEqual(popped, expected);
      }),
    );
  });

  it('knows membership and rebuilds after bulk re-keying', () => {
    const heap = new MinHeap<Item>((a, b) => a.key < b.key);
    const a = item(3);
    const b = item(1);
    const c = item(2);
    heap.push(a);
    heap.push(b);
    heap.push(c);
    assert.equal(heap.has(b), true);
    a.key = 0;
    c.key = 10;
    heap.rebuild();
    assert.equal(heap.peek(), a);
    heap.clear();
    assert.equal(heap.size, 0);
    assert.equal(heap.has(a), false);
    assert.equal(heap.remove(a), false);
  });
});
