/**
 * Differencing across a tenant's own prod answers (issue #11 item 3): "N against N-1". Two answers
 * can each pass every check (both cells describe thousands of people) and still give one person's
 * value by subtraction when their cells cover almost the same people: the total of 三区, and the
 * total of 三区 without one person. The checks of one answer cannot see that; this history of the
 * answers a tenant's process has given can. It does not withhold anything (the earlier answer was
 * already shown): it finds the pairs, and the control plane reports them to supervisors in the audit.
 *
 * Exact on what it keeps: every cell's entity set, as 53-bit hashes of the entity keys (a collision
 * among a million entities has a chance of about 1 in 20,000, and can only hide a pair, never invent
 * one of a different size). Two cells are a pair when their symmetric difference is at least one
 * entity and fewer than the threshold. Bounded: the oldest answers are forgotten past
 * `maxMemberships` remembered (cell, entity) pairs, and an answer larger than that is compared but
 * not remembered; the history lives in the tenant's engine process and starts empty when it starts.
 */

/** One shown cell of an answer: a label for the report, and the entities it describes. */
export interface AnsweredCell {
  /** Where it is in its answer, for the report: `row 3, column total`. */
  label: string;
  /** The distinct entities behind the cell, as hashes (numbers below 2^53). */
  entities: readonly number[];
}

/** An answer whose cell covers almost the same entities as a cell of an earlier answer. */
export interface DifferencingPair {
  /** The earlier answer's id (as given to `compareAndRemember`). */
  earlier: string;
  cell: string;
  earlierCell: string;
  /** Entities in one cell and not the other (1 to threshold - 1). */
  difference: number;
}

/**
 * Pairs reported per answer: enough for a supervisor to find both queries, and a bound on the
 * event (one answer of thousands of cells against thousands of remembered ones made millions of
 * pairs, one IPC message that could exhaust the engine process and end the history with it).
 */
export const MAX_PAIRS_PER_ANSWER = 1_000;

interface RememberedCell {
  answer: string;
  label: string;
  entities: Set<number>;
  /** Other cells of the same answer over exactly these entities. */
  alike: number;
}

/** Set lookups between two turns of the event loop. */
const YIELD_EVERY = 1_000_000;

function labelOf(cell: RememberedCell): string {
  return cell.alike === 0 ? cell.label : `${cell.label} (and ${cell.alike} more cells alike)`;
}

export class AnswerHistory {
  /** Remembered cells by their entity count: only cells of nearly equal size can be a pair. */
  private readonly bySize = new Map<number, RememberedCell[]>();
  /** Answers in the order remembered, with their cells, for forgetting the oldest. */
  private readonly answers: { id: string; cells: RememberedCell[] }[] = [];
  private memberships = 0;

  constructor(private readonly options: { threshold: number; maxMemberships: number }) {}

  /**
   * The pairs this answer's cells make with remembered cells of earlier answers (never its own),
   * then remembers it. Cells within one answer are the person-level checks' concern.
   */
  async compareAndRemember(answerId: string, cells: readonly AnsweredCell[]): Promise<DifferencingPair[]> {
    const pairs: DifferencingPair[] = [];
    // SECURITY: cells of one answer over the same entities (nine counts of one group) are one set:
    // compared and remembered once, so copies neither pad an answer past the bound nor make the
    // comparison quadratic in them (it blocked the engine process past a query's limit, and the
    // process was stopped, its history with it).
    const distinct = new Map<string, RememberedCell>();
    for (const cell of cells) {
      const entities = new Set(cell.entities);
      const key = [...entities].sort((a, b) => a - b).join(',');
      const seen = distinct.get(key);
      if (seen) seen.alike += 1;
      else distinct.set(key, { answer: answerId, label: cell.label, entities, alike: 0 });
    }
    let work = 0;
    for (const cell of distinct.values()) {
      const size = cell.entities.size;
      if (size === 0) continue;
      // A symmetric difference below the threshold needs sizes closer than the threshold.
      for (let other = size - this.options.threshold + 1; other < size + this.options.threshold; other++) {
        for (const earlier of this.bySize.get(other) ?? []) {
          const difference = symmetricDifferenceBelow(cell.entities, earlier.entities, this.options.threshold);
          // SECURITY: bounded: past the cap the answer is already reported.
          if (difference >= 1 && difference < this.options.threshold && pairs.length < MAX_PAIRS_PER_ANSWER) pairs.push({ earlier: earlier.answer, cell: labelOf(cell), earlierCell: labelOf(earlier), difference });
          work += Math.min(size, other);
          // Long comparisons give the engine's other tasks their turn (one JS thread runs them all).
          if (work >= YIELD_EVERY) {
            work = 0;
            await new Promise((resolve) => setImmediate(resolve));
          }
        }
      }
    }
    this.remember(answerId, [...distinct.values()]);
    return pairs;
  }

  private remember(id: string, cells: RememberedCell[]): void {
    const size = cells.reduce((n, c) => n + c.entities.size, 0);
    if (size > this.options.maxMemberships) return;
    while (this.memberships + size > this.options.maxMemberships && this.answers.length > 0) this.forget(this.answers.shift()!);
    this.answers.push({ id, cells });
    this.memberships += size;
    for (const cell of cells) {
      // Appended in place: copying the list per cell made an answer of many equal-sized cells quadratic.
      const same = this.bySize.get(cell.entities.size);
      if (same) same.push(cell);
      else this.bySize.set(cell.entities.size, [cell]);
    }
  }

  private forget(answer: { cells: RememberedCell[] }): void {
    for (const cell of answer.cells) {
      const left = (this.bySize.get(cell.entities.size) ?? []).filter((c) => c !== cell);
      if (left.length > 0) this.bySize.set(cell.entities.size, left);
      else this.bySize.delete(cell.entities.size);
      this.memberships -= cell.entities.size;
    }
  }
}

/**
 * The symmetric difference of two sets, exact below `threshold`; at or above it, some number at
 * least `threshold` (it stops as soon as the difference cannot be smaller).
 */
function symmetricDifferenceBelow(a: Set<number>, b: Set<number>, threshold: number): number {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let missing = 0;
  for (const entity of small) {
    if (large.has(entity)) continue;
    missing += 1;
    // Each entity of the smaller set missing from the larger adds itself and one unmatched of the larger.
    if (large.size - small.size + 2 * missing >= threshold) return threshold;
  }
  return large.size - small.size + 2 * missing;
}
