import { expect } from 'vitest';
import type { CreatedExport } from './export-probes.js';

/** A check's status in an export's creation answer. */
export const checkStatus = (created: { checks: { name: string; status: string }[] }, name: string): string | undefined => created.checks.find((c) => c.name === name)?.status;
/** The first row's second cell of a prod answer as `twinProbes().prod` prints it, or null (withheld, or refused). */
export const firstCell = (body: string): string | number | null => (body.startsWith('[') ? (JSON.parse(body) as (string | number | null)[][])[0]?.[1] ?? null : null);
/** What `subtract` must see when the defence holds: the cell leaving out one row withheld in prod, and failing the export's threshold. */
export const SUBTRACTION_SAFE = { prodCell: null, exportCellThreshold: 'fail' } as const;

/** A district's total `amount` of `table`. */
export const districtTotal = (table: string, district: string): string => `SELECT district, sum(amount) AS total FROM ${table} WHERE district = '${district}' GROUP BY district`;
/** The same total leaving out the rows whose `refColumn` is `ref`. */
export const districtTotalWithout = (table: string, refColumn: string, ref: string, district: string): string =>
  `SELECT district, sum(amount) FILTER (WHERE ${refColumn} <> '${ref}') AS total FROM ${table} WHERE district = '${district}' GROUP BY district`;

/**
 * Red-team pass 28a's attack on a district, for the files that attack shared keys: its total, the
 * same total leaving out one row (`refColumn <> ref`, a FILTER) in prod, and an export of the latter;
 * `seen` is what they give (the difference of the two prod cells), `safe` what SUBTRACTION_SAFE
 * expects. The district total itself must be shown (the control).
 */
export function subtractionProbes(prod: (sql: string) => Promise<string>, exports: { create(sql: string): Promise<CreatedExport> }) {
  return async function subtract(table: string, refColumn: string, ref: string, district: string) {
    const whole = firstCell(await prod(districtTotal(table, district)));
    expect(whole, 'the control: the district total is shown').not.toBeNull();
    const body = await prod(districtTotalWithout(table, refColumn, ref, district));
    const part = firstCell(body);
    const created = await exports.create(districtTotalWithout(table, refColumn, ref, district));
    return {
      seen: { body, learned: part === null ? null : Number(whole) - Number(part), exportCheck: checkStatus(created, 'cell-threshold') ?? JSON.stringify(created.checks) },
      safe: { prodCell: part, exportCellThreshold: checkStatus(created, 'cell-threshold') },
    };
  };
}
