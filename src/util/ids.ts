/** Makes a new unique id. */
export type IdGenerator = () => string;

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

let lastMs = -1;
let counter = 0;

/** Random bytes are drawn 4 KB at a time: one system call per ~400 ids instead of one per id. */
const pool = new Uint8Array(4096);
let poolOffset = pool.length;

/** Fills the pool again when fewer than `n` bytes are left; returns the offset of `n` fresh bytes. */
function takeRandom(n: number): number {
  if (poolOffset + n > pool.length) {
    crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += n;
  return at;
}

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, a 12-bit counter, then random bits. Ids
 * made by one process strictly increase (the counter orders ids within a millisecond, as in the
 * RFC's method 1), so sorting by id is sorting by creation; across processes they sort by time.
 */
export function uuidv7(now: number = Date.now()): string {
  let ms = Math.max(0, Math.floor(now));
  if (ms > lastMs) {
    lastMs = ms;
    // Start low in the counter space so a burst within one millisecond rarely overflows.
    counter = Math.floor(Math.random() * 1024);
  } else {
    ms = lastMs;
    counter++;
    if (counter > 0xfff) {
      lastMs = ms = lastMs + 1;
      counter = 0;
    }
  }
  // Read from the pool in place and build the string in one expression: every run of a burst
  // makes an id, and views or partial strings per id are garbage collected right before handlers start.
  const r = takeRandom(8);
  const high = Math.floor(ms / 0x1000000);
  const low = ms % 0x1000000;
  const rnd = (i: number) => hex(pool[r + i] as number);
  return (
    hex(high >>> 16) + hex(high >>> 8) + hex(high) + hex(low >>> 16) + '-' + hex(low >>> 8) + hex(low) + '-' +
    hex(0x70 | (counter >> 8)) + hex(counter) + '-' + hex(((pool[r] as number) & 0x3f) | 0x80) + rnd(1) + '-' +
    rnd(2) + rnd(3) + rnd(4) + rnd(5) + rnd(6) + rnd(7)
  );
}

/** Two hex digits of a value's low byte. */
function hex(value: number): string {
  return HEX[value & 0xff] as string;
}
