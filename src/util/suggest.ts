import { distance } from 'fastest-levenshtein';

/**
 * The candidate closest to `input` by edit distance, if it is close enough to be a plausible
 * typo (at most a third of the input's length, and at least 2 edits allowed).
 */
export function closestMatch(input: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(2, Math.floor(input.length / 3));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  const lower = input.toLowerCase();
  for (const candidate of candidates) {
    const d = distance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= limit ? best : undefined;
}

/** The fix for an unknown key: a "did you mean" when one is close, else the known keys. */
export function unknownKeyFix(key: string, known: readonly string[]): string {
  const guess = closestMatch(key, known);
  if (guess !== undefined) return `unknown option; did you mean "${guess}"?`;
  return `unknown option; remove it (known options: ${known.join(', ')})`;
}
