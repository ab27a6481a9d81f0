/** Makes a new unique id. */
export type IdGenerator = () => string;

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

let lastMs = -1;
let counter = 0;

/** Random bytes are drawn 4 KB at a time: one system call per ~400 ids instead of one per id. */
const pool = new Uint8Array(4096);
let poolOffset = pool.length;

function randomBytes(n: number): Uint8Array {
  if (poolOffset + n > pool.length) {
    crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  const bytes = pool.subarray(poolOffset, poolOffset + n);
  poolOffset += n;
  return bytes;
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
  const random = randomBytes(8);
  let time = '';
  let rest = ms;
  for (let i = 0; i < 6; i++) {
    time = (HEX[rest % 256] as string) + time;
    rest = Math.floor(rest / 256);
  }
  const hex = (i: number) => HEX[random[i] ?? 0] as string;
  return (
    `${time.slice(0, 8)}-${time.slice(8)}-${HEX[0x70 | (counter >> 8)]}${HEX[counter & 0xff]}-` +
    `${HEX[((random[0] ?? 0) & 0x3f) | 0x80]}${hex(1)}-${hex(2)}${hex(3)}${hex(4)}${hex(5)}${hex(6)}${hex(7)}`
  );
}
