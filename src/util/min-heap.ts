/** An item that can live in a {@link MinHeap}; the heap keeps `heapIndex` current (-1 when absent). */
export interface HeapItem {
  heapIndex: number;
}

/**
 * A binary min-heap whose items know their own position, so removal and re-keying are
 * O(log n) without a side map. Items are compared with `less`.
 */
export class MinHeap<T extends HeapItem> {
  readonly #items: T[] = [];
  readonly #less: (a: T, b: T) => boolean;

  constructor(less: (a: T, b: T) => boolean) {
    this.#less = less;
  }

  get size(): number {
    return this.#items.length;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  has(item: T): boolean {
    return item.heapIndex >= 0 && this.#items[item.heapIndex] === item;
  }

  push(item: T): void {
    item.heapIndex = this.#items.length;
    this.#items.push(item);
    this.#up(item.heapIndex);
  }

  pop(): T | undefined {
    const top = this.#items[0];
    if (top !== undefined) this.remove(top);
    return top;
  }

  remove(item: T): boolean {
    if (!this.has(item)) return false;
    const index = item.heapIndex;
    const last = this.#items.pop() as T;
    item.heapIndex = -1;
    if (last !== item) {
      this.#items[index] = last;
      last.heapIndex = index;
      this.#down(index);
      this.#up(last.heapIndex);
    }
    return true;
  }

  /** Restores order after `item`'s key changed, or inserts it if absent. */
  update(item: T): void {
    if (!this.has(item)) {
      this.push(item);
      return;
    }
    this.#up(item.heapIndex);
    this.#down(item.heapIndex);
  }

  /** Restores order after many keys changed at once. */
  rebuild(): void {
    for (let i = (this.#items.length >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  clear(): void {
    for (const item of this.#items) item.heapIndex = -1;
    this.#items.length = 0;
  }

  /** The items in heap order (not sorted); for inspection and bulk re-keying. */
  items(): readonly T[] {
    return this.#items;
  }

  #up(index: number): void {
    const items = this.#items;
    const item = items[index] as T;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = items[parentIndex] as T;
      if (!this.#less(item, parent)) break;
      items[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    items[index] = item;
    item.heapIndex = index;
  }

  #down(index: number): void {
    const items = this.#items;
    const length = items.length;
    const item = items[index] as T;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      let child = left;
      if (right < length && this.#less(items[right] as T, items[left] as T)) child = right;
      const smaller = items[child] as T;
      if (!this.#less(smaller, item)) break;
      items[index] = smaller;
      smaller.heapIndex = index;
      index = child;
    }
    items[index] = item;
    item.heapIndex = index;
  }
}
