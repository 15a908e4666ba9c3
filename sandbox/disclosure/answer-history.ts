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
  compareAndRemember(answerId: string, cells: readonly AnsweredCell[]): DifferencingPair[] {
    const pairs: DifferencingPair[] = [];
    const sets = cells.map((cell) => new Set(cell.entities));
    cells.forEach((cell, i) => {
      const mine = sets[i]!;
      const size = mine.size;
      if (size === 0) return;
      // A symmetric difference below the threshold needs sizes closer than the threshold.
      for (let other = size - this.options.threshold + 1; other < size + this.options.threshold; other++) {
        for (const earlier of this.bySize.get(other) ?? []) {
          const difference = symmetricDifference(mine, earlier.entities);
          // SECURITY: bounded: past the cap the answer is already reported.
          if (difference >= 1 && difference < this.options.threshold && pairs.length < MAX_PAIRS_PER_ANSWER) pairs.push({ earlier: earlier.answer, cell: cell.label, earlierCell: earlier.label, difference });
        }
      }
    });
    this.remember(answerId, cells.map((cell, i) => ({ answer: answerId, label: cell.label, entities: sets[i]! })));
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

function symmetricDifference(a: Set<number>, b: Set<number>): number {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let shared = 0;
  for (const entity of small) if (large.has(entity)) shared += 1;
  return a.size + b.size - 2 * shared;
}
