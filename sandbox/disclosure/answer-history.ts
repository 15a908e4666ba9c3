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

interface RememberedCell {
  answer: string;
  label: string;
  size: number;
}

export class AnswerHistory {
  /** Per entity, the remembered cells it is in (an inverted index: cost follows shared entities, not cells). */
  private readonly cellsOf = new Map<number, RememberedCell[]>();
  /** Answers in the order remembered, with their cells and members, for forgetting the oldest. */
  private readonly answers = new Map<string, { cells: RememberedCell[]; members: Map<RememberedCell, readonly number[]> }>();
  private memberships = 0;

  constructor(private readonly options: { threshold: number; maxMemberships: number }) {}

  /**
   * The pairs this answer's cells make with remembered cells of earlier answers (never its own),
   * then remembers it (in place of an earlier answer with the same id: a re-run of the same SQL).
   * Cells within one answer are the person-level checks' concern. Two cells with no entity in
   * common are never a pair (shown cells hold at least the threshold each), so only cells sharing
   * an entity are counted, through the inverted index.
   */
  compareAndRemember(answerId: string, cells: readonly AnsweredCell[]): DifferencingPair[] {
    const pairs: DifferencingPair[] = [];
    const sets = cells.map((cell) => [...new Set(cell.entities)]);
    cells.forEach((cell, i) => {
      const mine = sets[i]!;
      const shared = new Map<RememberedCell, number>();
      for (const entity of mine) for (const other of this.cellsOf.get(entity) ?? []) if (other.answer !== answerId) shared.set(other, (shared.get(other) ?? 0) + 1);
      for (const [earlier, common] of shared) {
        const difference = mine.length + earlier.size - 2 * common;
        if (difference >= 1 && difference < this.options.threshold) pairs.push({ earlier: earlier.answer, cell: cell.label, earlierCell: earlier.label, difference });
      }
    });
    this.remember(answerId, cells.map((cell, i) => [cell.label, sets[i]!] as const));
    return pairs;
  }

  private remember(id: string, cells: (readonly [string, number[]])[]): void {
    const size = cells.reduce((n, [, members]) => n + members.length, 0);
    const previous = this.answers.get(id);
    if (previous) this.forget(id, previous);
    if (size > this.options.maxMemberships) return;
    for (const [oldest, answer] of this.answers) {
      if (this.memberships + size <= this.options.maxMemberships) break;
      this.forget(oldest, answer);
    }
    const remembered = { cells: [] as RememberedCell[], members: new Map<RememberedCell, readonly number[]>() };
    for (const [label, members] of cells) {
      const cell: RememberedCell = { answer: id, label, size: members.length };
      remembered.cells.push(cell);
      remembered.members.set(cell, members);
      for (const entity of members) {
        const list = this.cellsOf.get(entity);
        if (list) list.push(cell);
        else this.cellsOf.set(entity, [cell]);
      }
    }
    this.answers.set(id, remembered);
    this.memberships += size;
  }

  private forget(id: string, answer: { cells: RememberedCell[]; members: Map<RememberedCell, readonly number[]> }): void {
    const gone = new Set(answer.cells);
    for (const [cell, members] of answer.members) {
      for (const entity of members) {
        const left = (this.cellsOf.get(entity) ?? []).filter((c) => !gone.has(c));
        if (left.length > 0) this.cellsOf.set(entity, left);
        else this.cellsOf.delete(entity);
      }
      this.memberships -= cell.size;
    }
    this.answers.delete(id);
  }
}
