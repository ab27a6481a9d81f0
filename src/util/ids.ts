/** Makes a new unique id. */
export type IdGenerator = () => string;

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

let lastMs = -1;
let counter = 0;

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
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  let rest = ms;
  for (let i = 5; i >= 0; i--) {
    bytes[i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  bytes[6] = 0x70 | (counter >> 8);
  bytes[7] = counter & 0xff;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  let out = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out += '-';
    out += HEX[bytes[i] ?? 0];
  }
  return out;
}
