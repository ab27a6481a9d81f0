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
