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
  // Written as character codes and made into one flat string: ids are kept (as keys, in records)
  // for every run, and a string concatenated piece by piece is a tree of partial strings that
  // stays behind it, several times its size, and that each young-generation collection copies.
  const r = takeRandom(8);
  const high = Math.floor(ms / 0x1000000);
  const low = ms % 0x1000000;
  putHex(0, high >>> 16);
  putHex(2, high >>> 8);
  putHex(4, high);
  putHex(6, low >>> 16);
  putHex(9, low >>> 8);
  putHex(11, low);
  putHex(14, 0x70 | (counter >> 8));
  putHex(16, counter);
  putHex(19, ((pool[r] as number) & 0x3f) | 0x80);
  putHex(21, pool[r + 1] as number);
  for (let i = 2; i < 8; i++) putHex(24 + 2 * (i - 2), pool[r + i] as number);
  return String.fromCharCode.apply(null, chars as unknown as number[]);
}

/** The id being written, as character codes; the dashes never change. */
const chars = new Uint8Array(36).fill(0x2d);
/** ASCII codes of the two hex digits of every byte. */
const HEX_CODES = Uint8Array.from(HEX.join(''), (c) => c.charCodeAt(0));

/** Writes the two hex digits of a value's low byte at `at`. */
function putHex(at: number, value: number): void {
  const i = (value & 0xff) * 2;
  chars[at] = HEX_CODES[i] as number;
  chars[at + 1] = HEX_CODES[i + 1] as number;
}
