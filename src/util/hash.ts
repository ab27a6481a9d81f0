/**
 * FNV-1a over UTF-16 code units, as an unsigned 32-bit integer. Not cryptographic: it only has
 * to be stable across processes and machines, so every replica derives the same value.
 */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  // A final avalanche so nearby inputs ("t@1000", "t@2000") spread evenly.
  return fmix32(hash) >>> 0;
}

/** murmur3's finaliser: every input bit flips about half the output bits. */
function fmix32(hash: number): number {
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  return hash ^ (hash >>> 16);
}

/** A stable pseudo-random fraction in [0, 1) for a string. */
export function stableFraction(text: string): number {
  return fnv1a32(text) / 0x1_0000_0000;
}

/**
 * Names a set of strings: the same for the same set in any order, on every machine. Each string
 * gets two 32-bit hashes (FNV-1a streams with different primes, each avalanched), summed over the
 * set, plus the count. A sum needs no sorting, so 100,000 task names cost one pass. Not
 * collision-resistant against names chosen to collide (a sum makes that cheap): a collision
 * only makes two instances take each other for peers, whose ticks left to each other then wait
 * for the grace check, about a second late. Task names are the operator's.
 */
export function setDigest(items: readonly string[]): string {
  let a = 0;
  let b = 0;
  for (let k = 0; k < items.length; k++) {
    const item = items[k] as string;
    let x = 0x811c9dc5;
    let y = 0x01000193;
    for (let i = 0; i < item.length; i++) {
      const c = item.charCodeAt(i);
      x = Math.imul(x ^ c, 0x01000193);
      y = Math.imul(y ^ c, 0x5bd1e995);
    }
    a = (a + fmix32(x)) | 0;
    b = (b + fmix32(y ^ item.length)) | 0;
  }
  return `${items.length}:${(a >>> 0).toString(36)}:${(b >>> 0).toString(36)}`;
}
