/**
 * Edit distance for "did you mean" suggestions: the optimal-string-alignment form of
 * Damerau-Levenshtein (insertions, deletions, substitutions and transpositions of two adjacent
 * characters, each costing 1), so that `lenght` is one edit from `length`. Pure; compares code
 * points, case-insensitively, since SQL names are.
 */
export function damerauLevenshtein(a: string, b: string): number {
  const s = Array.from(a.toLowerCase());
  const t = Array.from(b.toLowerCase());
  // Three rows suffice: the transposition looks two rows back.
  let before: number[] = [];
  let previous = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const current = [i];
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let best = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) best = Math.min(best, before[j - 2]! + 1);
      current.push(best);
    }
    before = previous;
    previous = current;
  }
  return previous[t.length]!;
}

/**
 * The candidates closest to `name` (all at the smallest distance, alphabetical), at most `limit`, and
 * only those close enough to be a plausible typo: within a third of the name's length (at least 1,
 * at most 3 edits). Names longer than `maxLength` are not compared (the work is quadratic).
 */
export function nearestNames(name: string, candidates: Iterable<string>, limit = 3, maxLength = 64): string[] {
  if (name.length === 0 || name.length > maxLength) return [];
  const threshold = Math.min(3, Math.max(1, Math.floor(Array.from(name).length / 3)));
  const scored: { candidate: string; distance: number }[] = [];
  const seen = new Set<string>();
  for (const candidate of candidates) {
    const key = candidate.toLowerCase();
    if (seen.has(key) || candidate.length > maxLength || Math.abs(candidate.length - name.length) > threshold) continue;
    seen.add(key);
    const distance = damerauLevenshtein(name, candidate);
    if (distance <= threshold && key !== name.toLowerCase()) scored.push({ candidate, distance });
  }
  // Only the nearest: a second name one edit further away is noise.
  const best = Math.min(...scored.map((s) => s.distance));
  return scored.filter((s) => s.distance === best).sort((x, y) => x.candidate.localeCompare(y.candidate)).slice(0, limit).map((s) => s.candidate);
}
