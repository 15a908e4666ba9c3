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
 * - **Presence** (which cells count a person at all). People are grouped into atoms by the set of
 *   cells that count them. An atom of fewer than `minimum` people is one a combination could single
 *   out, whether it holds one person or none, so only the large atoms are trusted: cells are shown
 *   only while their columns over the large atoms are linearly independent (taken in the order of
 *   the query, each dependent one withheld). Then every combination of shown cells includes some
 *   large atom. Cells that count the same large atoms are one column here, and are told apart by:
 * - **Values** (what each person adds). Two cells that count the same people and differ for fewer
 *   than `minimum` of them (a FILTER dropping part of one person's rows, `count(CASE WHEN <one
 *   person> THEN NULL ELSE 1 END)`), nobody included, are not both shown: the later is withheld.
 *
 * Not covered (docs/sandbox.md): combinations weighing the same people's values differently
 * (`2 * sum(x)` against `sum(2 * x + <one person's value>)`); deciding those needs every person's
 * values in every cell, which the companions do not read.
 */

type Aggregate = Extract<AnswerShape, { kind: 'aggregate' }>;

/** Distinct measures compared person by person, at most this many (a wider answer is uncheckable: pairs grow as their square). */
const MAX_COMPARED_MEASURES = 24;

/** The additive measures of an answer, in query order, and the companion statistics that compare them. */
export interface ComparedMeasures {
  /** Per aggregate, the measure it shares (the first aggregate measuring the same per person). */
  measureOf: number[];
  /** Distinct measures compared (every aggregate but one person's own value), in query order. */
  measures: number[];
  /** Pairs of distinct measures, in the order the companion counts them. */
  pairs: { a: number; b: number }[];
  /** Whether the companion reads the row's atoms (three measures or more: with two, the pair says all). */
  atoms: boolean;
}

/**
 * The measures of an aggregate answer compared within a row: every aggregate but those whose cell
 * is one person's own value (`onePerson`: a minimum, maximum, median or mode, never shown). A spread
 * is not a sum of what each person adds, but two spreads over the same people except a few differ
 * by those few (`stddev(amount)` beside the same FILTERed to leave one person's rows out): it is
 * compared on the rows each person adds.
 */
export function rowMeasures(shape: Aggregate, measureOf: number[], onePerson: readonly boolean[]): ComparedMeasures {
  const measures = [...new Set(measureOf)].filter((m) => !onePerson[m]);
  if (measures.length > MAX_COMPARED_MEASURES) throw new DomainError('DSC_ERR_UNCHECKABLE', `the answer has more than ${MAX_COMPARED_MEASURES} different aggregates to compare person by person: split it`);
  return {
    measureOf,
    measures,
    pairs: measures.flatMap((a, i) => measures.slice(i + 1).map((b) => ({ a, b }))),
    atoms: measures.length >= 3,
  };
}

/** How many statistics `rowStatistics` adds to a companion row. */
export function rowStatisticsWidth(compared: ComparedMeasures): number {
  return compared.pairs.length + (compared.atoms ? 1 : 0);
}

/**
 * The companion's statistics (over its inner rows, one per group and person, with `__r<m>` the rows
 * a person adds to measure m and `contribution(m)` what they add to its sum): per pair, the people
 * the two measures count differently; then, with three measures or more, the row's atoms as
 * DuckDB prints a histogram of presence masks (`{mask=people, ...}`).
 */
export function rowStatistics(compared: ComparedMeasures, contribution: (m: number) => string): string[] {
  const differing = compared.pairs.map(({ a, b }) => `count(*) FILTER (WHERE __r${a} IS DISTINCT FROM __r${b} OR ${contribution(a)} IS DISTINCT FROM ${contribution(b)})`);
  if (!compared.atoms) return differing;
  const mask = compared.measures.map((m, j) => `(CASE WHEN __r${m} > 0 THEN ${2 ** j} ELSE 0 END)`).join(' + ');
  return [...differing, `CAST(histogram(${mask}) AS VARCHAR)`];
}

/**
 * The output columns of a row withheld by the rules above, from the row's companion statistics
 * (one list per personal table; `from` is where `rowStatistics` begins in each).
 */
export function withheldInRow(shape: Aggregate, compared: ComparedMeasures, stats: readonly (readonly unknown[])[], from: number, minimum: number): Set<number> {
  const withheld = new Set<number>();
  // SECURITY: invariant 8: a cell that, over the people in large atoms, is a combination of cells
  // shown before it is withheld (a total beside its parts; A - B1 - B2 + C).
  if (compared.atoms) {
    for (const s of stats) for (const m of dependentMeasures(compared.measures, atomsOf(s[from + compared.pairs.length]), minimum)) withheld.add(m);
  }
  // SECURITY: invariant 8: of two cells counting the same people except fewer than `minimum` (none
  // included), the later is withheld: shown at 0 apart and withheld at 1, the rule would say which.
  const shown: number[] = [];
  const index = new Map(compared.pairs.map(({ a, b }, k) => [`${a}:${b}`, k]));
  for (const m of compared.measures) {
    if (withheld.has(m)) continue;
    const close = shown.some((a) => stats.some((s) => Number(s[from + index.get(`${a}:${m}`)!] ?? 0) < minimum));
    if (close) withheld.add(m);
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
 * The measures (by position in `measures`) whose presence columns, over the atoms of `minimum`
 * people or more, are in the span of the columns of the measures before them that were kept; a
 * measure that counts no large atom at all is such a column (zero). Measures with the same column
 * are decided together (the values rule tells them apart). Exact elimination modulo a prime: it can
 * only find a dependence that is not there over the rationals (more withheld), never miss one.
 */
function dependentMeasures(measures: number[], atoms: [number, number][], minimum: number): number[] {
  const large = atoms.filter(([mask, people]) => mask !== 0 && people >= minimum).map(([mask]) => mask);
  const columnOf = (j: number) => large.map((mask) => Math.floor(mask / 2 ** j) % 2);
  const basis: { pivot: number; vector: number[] }[] = [];
  const decided = new Map<string, boolean>();
  const dependent: number[] = [];
  measures.forEach((m, j) => {
    const column = columnOf(j);
    const key = column.join('');
    if (!decided.has(key)) decided.set(key, !reduceInto(basis, column));
    if (decided.get(key)) dependent.push(m);
  });
  return dependent;
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
