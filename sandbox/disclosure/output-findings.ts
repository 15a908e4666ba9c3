import { z } from 'zod';
import { ruleReason, type DisclosureRules } from '../../desensitize/index.js';

/**
 * What the person-level checks of an export found, cell by cell (issue #11 item 2), kept apart from
 * the checks made of it so that a mitigated version (suppression, rounding) can re-run every check
 * on the statistics of the same data: `checkOutput` measures them once, in the tenant's process,
 * and the trusted process keeps them next to the snapshot (`export-files.ts`, never delivered).
 * Cells are [row, column] of the output (0-based), rows 0-based.
 */

const Cell = z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]);
const Rows = z.array(z.number().int().nonnegative());

export const OutputFindingsSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('aggregate'),
    /** Per output row, the distinct entities of its group (the smallest over the personal tables). */
    entities: z.array(z.number()),
    /** Output columns computed by an aggregate (the ones cells are judged on). */
    aggregateColumns: z.array(z.number().int().nonnegative()),
    /** Rows whose group describes fewer than the minimum of entities. */
    small: Rows,
    threshold: z.array(Cell),
    dominance: z.array(Cell),
    pRatio: z.array(Cell),
    singleValues: z.array(Cell),
    zeros: z.array(Cell),
  }),
  z.object({
    kind: z.literal('rows'),
    /** Per output row, the distinct entities sharing its quasi-identifiers. */
    entities: z.array(z.number()),
    identifiers: z.array(z.string()),
    /** Labels of the quasi-identifiers shown. */
    quasi: z.array(z.string()),
    /** Rows shared by fewer than k entities. */
    offending: Rows,
  }),
]);
export type OutputFindings = z.infer<typeof OutputFindingsSchema>;

/** One automated check of an output (issue #11 item 2), as export reports list them. */
export interface OutputCheck {
  name: string;
  status: 'pass' | 'review' | 'fail';
  reason: string;
  /** Affected cells, as [row, column] of the output (0-based). */
  cells?: [number, number][];
  /** Affected rows (0-based). */
  rows?: number[];
}

/** The person-level checks, in plain words, from what was found. */
export function outputChecks(findings: OutputFindings, rules: DisclosureRules): OutputCheck[] {
  const checks: OutputCheck[] = [];
  const check = (name: string, failing: { rows?: number[]; cells?: [number, number][] }, status: 'review' | 'fail', reason: string, passReason: string) => {
    const count = (failing.rows?.length ?? 0) + (failing.cells?.length ?? 0);
    checks.push(count > 0 ? { name, status, reason, ...failing } : { name, status: 'pass', reason: passReason });
  };
  if (findings.kind === 'rows') {
    checks.push(findings.identifiers.length > 0
      ? { name: 'identifiers', status: 'fail', reason: `columns ${findings.identifiers.join(', ')} identify people or enterprises (tokens, masks or recognized personal values)` }
      : { name: 'identifiers', status: 'pass', reason: 'no identifier columns' });
    const over = findings.quasi.length > 0 ? `on (${findings.quasi.join(', ')})` : 'in the selected population';
    check('k-anonymity', { rows: findings.offending }, 'fail', `${findings.offending.length} rows describe fewer than ${rules.k} people ${over}`, `every row is shared by at least ${rules.k} people ${over}`);
    return checks;
  }
  check('minimum-entities', { rows: findings.small }, 'fail', `${findings.small.length} rows describe fewer than ${rules.minEntities} people or enterprises`, `every row describes at least ${rules.minEntities} people or enterprises`);
  check('cell-threshold', { cells: findings.threshold }, 'fail', ruleReason('threshold', findings.threshold.length, rules), 'every filtered cell describes enough people or enterprises');
  check('dominance', { cells: findings.dominance }, 'fail', ruleReason('dominance', findings.dominance.length, rules), `no cell is dominated by its ${rules.dominanceN} largest contributors`);
  check('p-ratio', { cells: findings.pRatio }, 'fail', ruleReason('p-ratio', findings.pRatio.length, rules), 'no cell lets a contributor estimate another closely');
  check('single-values', { cells: findings.singleValues }, 'review', `${findings.singleValues.length} cells are a minimum, maximum, median or mode (one person's own value), or a spread one person's deviation can make up`, 'no cell is one person\'s own value');
  check('zeros', { cells: findings.zeros }, 'review', `${findings.zeros.length} cells are zero, which says that nobody in a group has a property`, 'no zero cells');
  return checks;
}

/** The failing rows and cells of the findings: what suppression withholds on its own account. */
export function failingOf(findings: OutputFindings): { rows: number[]; cells: [number, number][] } {
  if (findings.kind === 'rows') return { rows: findings.offending, cells: [] };
  return { rows: findings.small, cells: [...findings.threshold, ...findings.dominance, ...findings.pRatio] };
}

/**
 * The findings of a mitigated output, from those of the output it was made from: rows removed and
 * cells nulled no longer show anything, so they no longer fail (or need review); every other
 * finding stands, renumbered to the rows that remain. `zeros` are the caller's to measure again on
 * the new values (rounding makes zeros). The statistics are those of the same data: nothing is
 * re-measured, nothing is assumed to pass.
 */
export function mitigateFindings(findings: OutputFindings, removedRows: ReadonlySet<number>, nulled: ReadonlySet<string>, zeros: [number, number][]): OutputFindings {
  const renumber = rowRenumbering(findings.entities.length, removedRows);
  const rows = (list: number[]) => list.flatMap((r) => (removedRows.has(r) ? [] : [renumber[r]!]));
  const cells = (list: [number, number][]) => list.flatMap(([r, c]): [number, number][] => (removedRows.has(r) || nulled.has(cellKey(r, c)) ? [] : [[renumber[r]!, c]]));
  const entities = findings.entities.filter((_, r) => !removedRows.has(r));
  if (findings.kind === 'rows') return { ...findings, entities, offending: rows(findings.offending) };
  return {
    ...findings, entities, small: rows(findings.small), threshold: cells(findings.threshold), dominance: cells(findings.dominance), pRatio: cells(findings.pRatio),
    singleValues: cells(findings.singleValues), zeros,
  };
}

/** Per row of an output, its index once `removed` rows are taken out (-1 for removed ones). */
export function rowRenumbering(rowCount: number, removed: ReadonlySet<number>): number[] {
  const out: number[] = [];
  let next = 0;
  for (let r = 0; r < rowCount; r += 1) out.push(removed.has(r) ? -1 : next++);
  return out;
}

export function cellKey(row: number, column: number): string {
  return `${row}:${column}`;
}
