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
  // A final avalanche (murmur3 fmix32) so nearby inputs ("t@1000", "t@2000") spread evenly.
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** A stable pseudo-random fraction in [0, 1) for a string. */
export function stableFraction(text: string): number {
  return fnv1a32(text) / 0x1_0000_0000;
}

/**
 * Names a set of strings: the same for the same set in any order, on every machine. Two FNV-1a
 * streams with different seeds over the sorted strings, plus their count; a collision would only
 * make two different sets look alike, so 64 bits are plenty.
 */
export function setDigest(items: readonly string[]): string {
  const sorted = [...items].sort();
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (let k = 0; k < sorted.length; k++) {
    const item = sorted[k] as string;
    for (let i = 0; i < item.length; i++) {
      const c = item.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
    }
    // A separator no name can end with, so ["ab", "c"] and ["a", "bc"] differ.
    a = Math.imul(a ^ 0xffff, 0x01000193);
    b = Math.imul(b ^ 0xffff, 0x5bd1e995);
  }
  return `${sorted.length}:${(a >>> 0).toString(36)}:${(b >>> 0).toString(36)}`;
}
