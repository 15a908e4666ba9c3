import { DomainError } from '../../core/errors.js';
import type { AnswerShape } from './answer-shape.js';

/**
 * Cells of one row that give a few people away together (invariant 8). A row's counts and sums
 * are each a sum of what every person adds to it, so a combination of cells of one row (a
 * difference, A - B1 - B2 + C) can describe a few people even when every cell describes many:
 * `count(*)` beside `count(*) FILTER (WHERE NOT <one person>)`, or a total beside the totals of
 * parts that leave one person out. The rules here decide which cells of a row are shown so that no
 * such combination is left, and decide it the same way whether the few people are there or not
 * (a rule that withholds at "1 person apart" and shows at "0 apart" says which it is):
 *
 * - **Presence** (which cells count a row at all). Rows are grouped into atoms by the set of cells
 *   that count them, each atom as large as the people its rows belong to. An atom of fewer than
 *   `minimum` people is one a combination could single out, whether it holds one person or none,
 *   so only the large atoms are trusted: cells are shown only while their columns over the large
 *   atoms are linearly independent (taken in the order of the query, each dependent one withheld).
 *   Then every combination of shown cells includes some large atom (counts weigh rows, so atoms are
 *   of rows: count(*) beside the payments under 125 and those of 125 or more but one person's
 *   counts the same people in every cell, not the same rows). Cells that count the same large
 *   atoms are one column here (a class), and are told apart by:
 * - **Definition**. Two cells of one class whose FILTERs (or counted expressions) differ are not
 *   both shown, the later withheld: they differ on small atoms only, and cells of other columns
 *   (`sum(salary)` beside `sum(contribution) FILTER (WHERE NOT <one person>)`, a contribution that
 *   is a fixed share of the salary) can weigh those few people's rows apart.
 * - **Values** (what each person adds). Two cells that count the same people and differ for fewer
 *   than `minimum` of them (`count(CASE WHEN <one person> THEN NULL ELSE 1 END)` beside `count(*)`,
 *   a sum of weights a join steered), nobody included, are not both shown: the later is withheld.
 *
 * Not covered (docs/sandbox.md): combinations of cells of different classes over data whose values
 * are proportional across columns (a sum, mean or spread takes a personal table's column, so the
 * query cannot choose the values: `answer-shape.ts`).
 */

type Aggregate = Extract<AnswerShape, { kind: 'aggregate' }>;

/** Distinct measures compared person by person, at most this many (a wider answer is uncheckable: pairs grow as their square). */
const MAX_COMPARED_MEASURES = 24;

/** The measures of an answer compared within a row, in query order, and how the companion compares them. */
export interface ComparedMeasures {
  /** Per aggregate, the measure it shares (the first aggregate measuring the same per person). */
  measureOf: number[];
  /** Distinct measures compared (every aggregate but one person's own value), in query order. */
  measures: number[];
  /** Pairs of distinct measures, in the order the companion counts them. */
  pairs: { a: number; b: number }[];
  /** Per measure (by position in `measures`), what decides which rows it counts: its FILTER, and a counted expression. */
  definitions: string[];
  /** Whether the companion reads the row's atoms (three measures or more, or two of different definitions). */
  atoms: boolean;
}

/**
 * The measures of an aggregate answer compared within a row: every aggregate but those whose cell
 * can be one person's own value (`onePerson`: a minimum, maximum, median or mode, or a spread; never
 * shown in prod, reviewed in exports).
 */
export function rowMeasures(shape: Aggregate, measureOf: number[], onePerson: readonly boolean[]): ComparedMeasures {
  // SECURITY: invariant 8: by the aggregates shown, not by the measure's first aggregate: a count
  // sharing its measure with an earlier maximum (`max(amount)`, `count(amount)`) is compared too.
  const measures = [...new Set(measureOf.filter((_, i) => !onePerson[i]))];
  if (measures.length > MAX_COMPARED_MEASURES) throw new DomainError('DSC_ERR_UNCHECKABLE', `the answer has more than ${MAX_COMPARED_MEASURES} different aggregates to compare person by person: split it`);
  const definitions = measures.map((m) => definitionOf(shape.aggregates[m]!.node as Record<string, unknown>));
  return {
    measureOf,
    measures,
    pairs: measures.flatMap((a, i) => measures.slice(i + 1).map((b) => ({ a, b }))),
    definitions,
    atoms: measures.length >= 3 || new Set(definitions).size > 1,
  };
}

/** An aggregate's FILTER, and its argument when a count counts an expression (a column's nulls are the data's), as text. */
function definitionOf(call: Record<string, unknown>): string {
  const argument = ((call.children as Record<string, unknown>[] | undefined) ?? [])[0];
  // Sums take columns only (`answer-shape.ts`); a count may count an expression.
  const steered = argument && argument.class !== 'COLUMN_REF' ? argument : null;
  return JSON.stringify({ filter: call.filter ?? null, counted: steered }, (key, value: unknown) => (key === 'query_location' || key === 'alias' ? undefined : value));
}

/** How many statistics `rowStatistics` adds to a companion row. */
export function rowStatisticsWidth(compared: ComparedMeasures): number {
  return compared.pairs.length + (compared.atoms ? 1 : 0);
}

/**
 * The companion's statistics (over its inner rows, one per group and person, with `__r<m>` the rows
 * a person adds to measure m and `value(m)` what they add to its cell: their sum, or for a count
 * their rows): per pair, the people the two measures count differently, in rows or in value (a
 * count beside a sum of weights the query steered, `sum(r.range)` over `JOIN range(1, 3) r ON
 * r.range = CASE WHEN <one person> THEN 2 ELSE 1 END`, agrees with it for everyone else). With three
 * measures or more the row's atoms follow, read from the rows themselves (`atomsNode` in
 * `check-answer.ts`): per presence mask (which measures count a row), the people with such rows, as
 * DuckDB prints a histogram (`{mask=people, ...}`).
 */
export function rowStatistics(compared: ComparedMeasures, value: (m: number) => string): string[] {
  // A person in neither cell (no rows in either) does not differ: a count's 0 beside a sum's NULL is
  // no difference (counted as one, twenty people outside a FILTER lifted a pair past the minimum).
  // The rows without a key (`__e` NULL) may be anyone's, one person's or a keyed person's: the
  // fewest people a difference among them can be is one, and none beside a keyed difference.
  return compared.pairs.map(({ a, b }) => {
    const differ = `(__r${a} IS DISTINCT FROM __r${b} OR ((__r${a} > 0 OR __r${b} > 0) AND ${value(a)} IS DISTINCT FROM ${value(b)}))`;
    return `greatest(count(__e) FILTER (WHERE ${differ}), CASE WHEN bool_or(__e IS NULL AND ${differ}) THEN 1 ELSE 0 END)`;
  });
}

/**
 * The output columns of a row withheld by the rules above, from the row's companion statistics
 * (one list per personal table; `from` is where `rowStatistics` begins in each).
 */
export function withheldInRow(shape: Aggregate, compared: ComparedMeasures, stats: readonly (readonly unknown[])[], from: number, minimum: number): Set<number> {
  const withheld = new Set<number>();
  // Per companion, each measure's class (its presence column over the large atoms); without atoms
  // (at most two measures, of one definition) every measure is in one class.
  const classes: Map<number, string>[] = [];
  if (compared.atoms) {
    for (const s of stats) {
      const { dependent, classOf } = presenceClasses(compared.measures, atomsOf(s[from + compared.pairs.length]), minimum);
      // SECURITY: invariant 8: a cell that, over the large atoms, is a combination of cells shown
      // before it is withheld (a total beside its parts; A - B1 - B2 + C).
      for (const m of dependent) withheld.add(m);
      classes.push(classOf);
    }
  }
  const sameClass = (a: number, b: number) => classes.every((classOf) => classOf.get(a) === classOf.get(b));
  const definition = (m: number) => compared.definitions[compared.measures.indexOf(m)];
  const index = new Map(compared.pairs.map(({ a, b }, k) => [`${a}:${b}`, k]));
  const shown: number[] = [];
  for (const m of compared.measures) {
    if (withheld.has(m)) continue;
    // SECURITY: invariant 8: of two cells of one class whose definitions differ (they differ on small
    // atoms only), the later is withheld.
    const redefined = (a: number) => sameClass(a, m) && definition(a) !== definition(m);
    // SECURITY: invariant 8: of two cells counting the same people except fewer than `minimum` (none
    // included), the later is withheld: shown at 0 apart and withheld at 1, the rule would say which.
    const fewApart = (a: number) => stats.some((s) => Number(s[from + index.get(`${a}:${m}`)!] ?? 0) < minimum);
    if (shown.some((a) => redefined(a) || fewApart(a))) withheld.add(m);
    else shown.push(m);
  }
  const columns = new Set<number>();
  shape.aggregates.forEach((aggregate, i) => { if (withheld.has(compared.measureOf[i]!)) columns.add(aggregate.column); });
  return columns;
}

/** A companion's histogram of presence masks (`{3=120, 1=5}`) as [mask, people] pairs. */
function atomsOf(printed: unknown): [number, number][] {
  // SECURITY: fail closed: statistics that do not read as a histogram are not taken as "no atoms".
  if (typeof printed !== 'string' || !/^\{.*\}$/.test(printed)) throw new DomainError('DSC_ERR_UNCHECKABLE', 'the answer could not be checked person by person, so it is not shown in prod: simplify the query or develop it in dev');
  return [...printed.matchAll(/(\d+)=(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
}

/** A prime under 2^26: products of two residues stay exact in a double. */
const PRIME = 67_108_859;

/**
 * Per measure its class (its presence column over the atoms of `minimum` people or more), and the
 * measures whose column is in the span of the columns of the measures before them that were kept; a
 * measure that counts no large atom at all is such a column (zero). Measures of one class are
 * decided together (the definition and values rules tell them apart). Exact elimination modulo a
 * prime: it can only find a dependence that is not there over the rationals (more withheld), never
 * miss one.
 */
function presenceClasses(measures: number[], atoms: [number, number][], minimum: number): { dependent: number[]; classOf: Map<number, string> } {
  const large = atoms.filter(([mask, people]) => mask !== 0 && people >= minimum).map(([mask]) => mask);
  const columnOf = (j: number) => large.map((mask) => Math.floor(mask / 2 ** j) % 2);
  const basis: { pivot: number; vector: number[] }[] = [];
  const decided = new Map<string, boolean>();
  const classOf = new Map<number, string>();
  const dependent: number[] = [];
  measures.forEach((m, j) => {
    const column = columnOf(j);
    const key = column.join('');
    classOf.set(m, key);
    if (!decided.has(key)) decided.set(key, !reduceInto(basis, column));
    if (decided.get(key)) dependent.push(m);
  });
  return { dependent, classOf };
}

/** Adds `vector` to the echelon `basis` when independent of it (true), else leaves the basis as it was (false). */
function reduceInto(basis: { pivot: number; vector: number[] }[], vector: number[]): boolean {
  const v = vector.slice();
  for (const { pivot, vector: b } of basis) {
    const factor = v[pivot]!;
    if (factor === 0) continue;
    for (let i = 0; i < v.length; i++) v[i] = (((v[i]! - factor * b[i]!) % PRIME) + PRIME) % PRIME;
  }
  const pivot = v.findIndex((x) => x !== 0);
  if (pivot < 0) return false;
  const inverse = modularInverse(v[pivot]!);
  basis.push({ pivot, vector: v.map((x) => (x * inverse) % PRIME) });
  return true;
}

function modularInverse(a: number): number {
  // Fermat: a^(p-2) mod p, by squaring (each product stays below 2^53).
  let result = 1;
  let base = a % PRIME;
  for (let e = PRIME - 2; e > 0; e = Math.floor(e / 2)) {
    if (e % 2 === 1) result = (result * base) % PRIME;
    base = (base * base) % PRIME;
  }
  return result;
}
