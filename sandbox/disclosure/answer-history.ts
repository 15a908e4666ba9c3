/**
 * Differencing across a tenant's own prod answers (issue #11 item 3): "N against N-1". Two answers
 * can each pass every check (both cells describe thousands of people) and still give one person's
 * value by subtraction when their cells cover almost the same people: the total of 三区, and the
 * total of 三区 without one person. The checks of one answer cannot see that; this history of the
 * answers a tenant's process has given can. It does not withhold anything (the earlier answer was
 * already shown): it finds the pairs, and the control plane reports them to supervisors in the audit.
 *
 * Withheld cells are remembered too, because withholding answers a question: "the total of 三区
 * before 1 May" withheld (9 people) and "on or before 1 May" shown (10) say that someone was born
 * on 1 May, and a query over those nine plus "the person born on 1 May, if they earn above X" is
 * then shown or withheld by that person's income. The rows of row-level answers are cells too: a
 * shown row says only that its combination holds k people or more (no value), and a refused answer
 * that one of its rows holds fewer. A pair is two cells sharing at least one entity (subtraction
 * needs an overlap) whose sets differ by fewer than the threshold, and which together say something
 * neither says alone: a shown value against any cell, or a shown row against a withheld cell. Two
 * withheld cells, or two shown rows, are not pairs (each only repeats what its own answer said).
 *
 * Two shown values are compared on what each person contributes, not only on who is in them: the
 * total of 四区 and the same total without one person's payments above X count the same people,
 * and so does a total that counts one person's rows twice through a join; each is that person's
 * value by subtraction. Each member comes with a fingerprint of its contribution (its rows and
 * their sum), and two cells are close when their sets differ by 1 to threshold - 1 entities, or
 * their contributions do (a person whose share changed counts twice; cells of different aggregates,
 * a count and a sum, share no contribution). A withheld cell counts too: "withheld because one
 * person's share differs" is an answer.
 *
 * Exact on what it keeps: every cell's entity set and contributions, as 52-bit hashes (a collision
 * among a million entities has a chance of about 1 in 9,000, and can only hide a pair, never invent
 * one of a different size). Two cells are a pair when their symmetric difference is at least one
 * entity and fewer than the threshold. Bounded: the oldest answers are forgotten past
 * `maxMemberships` remembered (cell, entity) pairs, an answer larger than that is compared but not
 * remembered, and a re-run of the same SQL over exactly the same sets, showing the same, is its
 * earlier run (not compared again: it can make no pair that run did not; a re-run over other rows,
 * after a workspace table it reads changed, is compared with it and kept beside it); the history
 * lives in the tenant's engine process, which writes it down as it changes (`HistoryJournal`,
 * `engine/history-file.ts`) and reads it back when it starts.
 */

/**
 * What a cell put on the screen: its value (an aggregate's cell), only that it exists (a row of a
 * row-level answer: k people or more share it), or nothing (withheld or refused).
 */
export type CellShows = 'value' | 'existence' | 'nothing';

/** One cell of an answer, shown or withheld: a label for the report, and the entities it describes. */
export interface AnsweredCell {
  /** Where it is in its answer, for the report: `row 3, column total`. */
  label: string;
  /** The distinct entities behind the cell, as hashes (numbers below 2^52). */
  entities: readonly number[];
  /** Beside each entity, in the same order, a hash of its contribution to the cell; default: the entity itself. */
  contributions?: readonly number[];
  /** What it showed; default `value`. */
  shows?: CellShows;
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

/** A cell's members sorted by entity, each with its contribution's fingerprint. */
interface Members {
  entities: Float64Array;
  contributions: Float64Array;
}

interface RememberedCell {
  /** The answer's id (its SQL's hash), as reports name it. */
  answer: string;
  label: string;
  size: number;
  shows: CellShows;
  /** Other cells of the same answer over exactly these entities. */
  alike: number;
  /**
   * Scratch counters of the comparison under way (`compareAndRemember`): which new cell last
   * touched this one, and the entities, and the entities with the same contribution, they share
   * (fields of the cell, not maps per comparison: the comparison's cost is this counting).
   */
  touchedBy: number;
  common: number;
  same: number;
}

/** Index steps between two turns of the event loop. */
const YIELD_EVERY = 1_000_000;

const SHOWS_RANK: Record<CellShows, number> = { nothing: 0, existence: 1, value: 2 };

/** Whether two close cells together say more than each alone: a value against anything, or a shown row against a withheld cell. */
function tellsMore(a: CellShows, b: CellShows): boolean {
  return a === 'value' || b === 'value' || (a !== b);
}

/**
 * The order that sorts a list of entities, with each entity's first position only (an entity given
 * twice, by aggregates sharing one column, keeps its first contribution).
 */
function distinctOrder(entities: readonly number[]): Uint32Array {
  const order = Uint32Array.from(entities.keys()).sort((a, b) => entities[a]! - entities[b]! || a - b);
  let kept = 0;
  for (let i = 0; i < order.length; i++) if (kept === 0 || entities[order[kept - 1]!] !== entities[order[i]!]) order[kept++] = order[i]!;
  return order.subarray(0, kept);
}

/** The members in `order`, each with its contribution (the entity itself when none is given). */
function membersIn(order: Uint32Array, entities: readonly number[], contributions: readonly number[]): Members {
  const members: Members = { entities: new Float64Array(order.length), contributions: new Float64Array(order.length) };
  for (let i = 0; i < order.length; i++) {
    members.entities[i] = entities[order[i]!]!;
    members.contributions[i] = contributions[order[i]!] ?? entities[order[i]!]!;
  }
  return members;
}

/** A 32-bit digest of sorted members (low 32 bits of each hash: below 2^53, so `| 0` is exact arithmetic mod 2^32). */
function digestOf(members: Members): number {
  let digest = members.entities.length;
  for (let i = 0; i < members.entities.length; i++) digest = (Math.imul(digest, 31) + (members.entities[i]! | 0) + Math.imul(members.contributions[i]! | 0, 17)) | 0;
  return digest;
}

function sameMembers(a: Members, b: Members): boolean {
  if (a.entities.length !== b.entities.length) return false;
  for (let i = 0; i < a.entities.length; i++) if (a.entities[i] !== b.entities[i] || a.contributions[i] !== b.contributions[i]) return false;
  return true;
}

/** Whether a remembered run holds exactly these distinct cells, each showing what it showed then. */
function sameCells(remembered: Map<RememberedCell, Members>, cells: readonly { cell: RememberedCell; members: Members }[]): boolean {
  if (remembered.size !== cells.length) return false;
  const byDigest = new Map<number, [RememberedCell, Members][]>();
  for (const [cell, members] of remembered) {
    const digest = digestOf(members);
    byDigest.set(digest, [...(byDigest.get(digest) ?? []), [cell, members]]);
  }
  return cells.every(({ cell, members }) => (byDigest.get(digestOf(members)) ?? []).some(([other, otherMembers]) => other.shows === cell.shows && sameMembers(otherMembers, members)));
}

function labelOf(cell: RememberedCell): string {
  const withheld = cell.shows === 'nothing' ? ' (withheld)' : '';
  return cell.alike === 0 ? `${cell.label}${withheld}` : `${cell.label}${withheld} (and ${cell.alike} more cells alike)`;
}

/** The remembered cells holding one entity, each with that entity's contribution to it. */
interface Holders {
  cells: RememberedCell[];
  contributions: number[];
}

/** A remembered cell as it is kept on disk (`history-file.ts`): everything `AnswerHistory` needs to remember it again. */
export interface StoredCell {
  label: string;
  shows: CellShows;
  alike: number;
  /** Sorted distinct entities, and beside each its contribution's fingerprint. */
  entities: Float64Array;
  contributions: Float64Array;
}

/**
 * Where the history writes down what it remembers, so that a new engine process starts with it
 * (`history-file.ts`). Called synchronously, in the order of the history's own changes; forgetting
 * is not written: replaying the same runs under the same bound forgets the same ones.
 */
export interface HistoryJournal {
  /** A run was remembered, as run number `run`. */
  remembered(run: number, id: string, cells: readonly StoredCell[]): void;
  /** A run already remembered was made the newest (a re-run of the same text over the same cells). */
  touched(run: number): void;
}

export class AnswerHistory {
  /** Per entity, the remembered cells it is in (an inverted index: cost follows shared entities, not cells). */
  private readonly holdersOf = new Map<number, Holders>();
  /** Runs in the order remembered, with their answer's id, cells and members, for forgetting the oldest. */
  private readonly runs = new Map<number, { id: string; cells: Map<RememberedCell, Members> }>();
  private lastRun = 0;
  private memberships = 0;
  /** Numbers the comparisons of new cells (`RememberedCell.touchedBy`). */
  private comparison = 0;

  constructor(private readonly options: { threshold: number; maxMemberships: number; journal?: HistoryJournal }) {}

  /**
   * Remembers a run written down earlier (a new process reading its tenant's history file), in the
   * order written, without comparing it: its pairs were reported when it was given. Returns its run
   * number, or undefined when the bound no longer lets it be kept.
   */
  restore(id: string, cells: readonly StoredCell[]): number | undefined {
    const run = ++this.lastRun;
    const restored = cells.map((c) => ({
      cell: { answer: id, label: c.label, size: c.entities.length, shows: c.shows, alike: c.alike, touchedBy: 0, common: 0, same: 0 },
      members: { entities: c.entities, contributions: c.contributions },
    }));
    return this.remember(run, id, restored, false) ? run : undefined;
  }

  /** Makes a remembered run the newest (forgotten last), as a re-run of it did. */
  touch(run: number, journal = false): void {
    const remembered = this.runs.get(run);
    if (!remembered) return;
    this.runs.delete(run);
    this.runs.set(run, remembered);
    if (journal) this.options.journal?.touched(run);
  }

  /** The runs remembered, oldest first, as `restore` takes them (to write the history file afresh). */
  *storedRuns(): Iterable<{ run: number; id: string; cells: StoredCell[] }> {
    for (const [run, { id, cells }] of this.runs) {
      yield { run, id, cells: [...cells].map(([cell, members]) => ({ label: cell.label, shows: cell.shows, alike: cell.alike, ...members })) };
    }
  }

  /** (cell, entity) memberships remembered now. */
  get size(): number {
    return this.memberships;
  }

  /**
   * The pairs this answer's cells make with remembered cells of earlier answers, earlier runs of the
   * same id included (the same SQL text reads other rows once a workspace table it reads has
   * changed), then remembers it. A re-run of the same id over exactly the same cells, showing the
   * same, is the earlier run made newest: it adds nothing to compare with, and makes no pair.
   * Cells within one answer are the person-level checks' concern. Only cells sharing an entity are
   * counted, through the inverted index.
   */
  async compareAndRemember(answerId: string, cells: readonly AnsweredCell[]): Promise<DifferencingPair[]> {
    const run = ++this.lastRun;
    // SECURITY: cells of one answer over the same members (nine counts of one group) are one cell:
    // compared and remembered once, so copies neither pad an answer past the bound nor multiply the
    // work (a comparison that blocked the engine process past a query's limit got the process
    // stopped, and its history with it).
    const distinct: { cell: RememberedCell; members: Members }[] = [];
    // Buckets by a digest of the sorted members; equal cells are then found by comparing the members
    // themselves (a digest collision only costs a comparison, never merges two different cells).
    const byDigest = new Map<number, number[]>();
    // Cells handed the same list of entities (several aggregates over one group) are sorted once.
    const orderOf = new Map<readonly number[], Uint32Array>();
    for (const cell of cells) {
      const order = orderOf.get(cell.entities) ?? distinctOrder(cell.entities);
      orderOf.set(cell.entities, order);
      const members = membersIn(order, cell.entities, cell.contributions ?? cell.entities);
      const digest = digestOf(members);
      const bucket = byDigest.get(digest) ?? [];
      const seen = bucket.map((i) => distinct[i]!).find((other) => sameMembers(other.members, members));
      const shows = cell.shows ?? 'value';
      if (seen) {
        seen.cell.alike += 1;
        // SECURITY: a cell counts for the most any copy of it showed (a withheld copy cannot hide a shown one).
        if (SHOWS_RANK[shows] > SHOWS_RANK[seen.cell.shows]) Object.assign(seen.cell, { shows, label: cell.label });
        continue;
      }
      bucket.push(distinct.length);
      byDigest.set(digest, bucket);
      distinct.push({ cell: { answer: answerId, label: cell.label, size: members.entities.length, shows, alike: 0, touchedBy: 0, common: 0, same: 0 }, members });
    }
    // A re-run of the same text over exactly the same cells, showing the same, is the run already
    // remembered: every pair it could make was found when that run, or the later answer, was
    // compared. It is not compared again; the earlier run becomes the newest (forgotten last).
    for (const [earlier, remembered] of this.runs) {
      if (remembered.id !== answerId || !sameCells(remembered.cells, distinct)) continue;
      this.touch(earlier, true);
      return [];
    }
    const pairs: DifferencingPair[] = [];
    let work = 0;
    for (const { cell, members } of distinct) {
      // Per remembered cell: entities shared, and entities shared with the same contribution.
      const touch = ++this.comparison;
      const shared: RememberedCell[] = [];
      for (let i = 0; i < members.entities.length; i++) {
        const holders = this.holdersOf.get(members.entities[i]!);
        if (!holders) continue;
        for (let h = 0; h < holders.cells.length; h++) {
          const other = holders.cells[h]!;
          // Two sets whose sizes differ by the threshold or more differ by at least that many entities:
          // never a pair, so not counted (the common case: remembered cells of other sizes).
          // SECURITY: earlier runs of the same text are compared too: a re-run over changed rows is a new answer.
          if (Math.abs(other.size - cell.size) >= this.options.threshold) continue;
          if (other.touchedBy !== touch) {
            other.touchedBy = touch;
            other.common = 0;
            other.same = 0;
            shared.push(other);
          }
          other.common += 1;
          if (holders.contributions[h] === members.contributions[i]) other.same += 1;
        }
        work += holders.cells.length + 1;
        // Long comparisons give the engine's other tasks their turn (one JS thread runs them all).
        if (work >= YIELD_EVERY) {
          work = 0;
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      for (const earlier of shared) {
        // SECURITY: close on who is in them, or on what each contributes (a person whose share changed
        // counts as two differences; cells of different aggregates share nobody this way).
        const close = [cell.size + earlier.size - 2 * earlier.common, cell.size + earlier.size - 2 * earlier.same]
          .filter((difference) => difference >= 1 && difference < this.options.threshold);
        // SECURITY: bounded: past the cap the answer is already reported.
        if (close.length > 0 && tellsMore(cell.shows, earlier.shows) && pairs.length < MAX_PAIRS_PER_ANSWER) {
          pairs.push({ earlier: earlier.answer, cell: labelOf(cell), earlierCell: labelOf(earlier), difference: Math.min(...close) });
        }
      }
    }
    this.remember(run, answerId, distinct, true);
    return pairs;
  }

  /** Remembers a run (and writes it down when `journal`); false when it is larger than the bound. */
  private remember(run: number, id: string, cells: { cell: RememberedCell; members: Members }[], journal: boolean): boolean {
    const size = cells.reduce((n, c) => n + c.members.entities.length, 0);
    if (size > this.options.maxMemberships) return false;
    for (const oldest of this.runs.keys()) {
      if (this.memberships + size <= this.options.maxMemberships) break;
      this.forget(oldest);
    }
    const remembered = new Map<RememberedCell, Members>();
    for (const { cell, members } of cells) {
      remembered.set(cell, members);
      for (let i = 0; i < members.entities.length; i++) {
        // Appended in place: copying lists made an answer of many cells quadratic.
        const holders = this.holdersOf.get(members.entities[i]!);
        if (holders) {
          holders.cells.push(cell);
          holders.contributions.push(members.contributions[i]!);
        } else this.holdersOf.set(members.entities[i]!, { cells: [cell], contributions: [members.contributions[i]!] });
      }
    }
    this.runs.set(run, { id, cells: remembered });
    this.memberships += size;
    if (journal) this.options.journal?.remembered(run, id, cells.map(({ cell, members }) => ({ label: cell.label, shows: cell.shows, alike: cell.alike, ...members })));
    return true;
  }

  private forget(run: number): void {
    for (const [cell, members] of this.runs.get(run)?.cells ?? []) {
      for (const entity of members.entities) {
        // Removed in place (a holder list is short: the remembered cells holding one entity).
        const holders = this.holdersOf.get(entity);
        if (!holders) continue;
        const at = holders.cells.indexOf(cell);
        if (at >= 0) {
          holders.cells.splice(at, 1);
          holders.contributions.splice(at, 1);
        }
        if (holders.cells.length === 0) this.holdersOf.delete(entity);
      }
      this.memberships -= cell.size;
    }
    this.runs.delete(run);
  }
}
