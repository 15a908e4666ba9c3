import type { DuckDBConnection } from '@duckdb/node-api';
import {
  FINGERPRINT_SCHEME, fingerprintKeys, markedNumberSql, MAX_MARK_DECIMALS, quoteIdentifier, rekeyTokenSql, TOKEN_HEX_CHARS, unitText, type MarkKind,
} from '../../desensitize/index.js';
import type { Fingerprint } from './protocol.js';

/**
 * Which columns of a snapshot carry the recipient's fingerprint, and the SELECT that applies it
 * (`desensitize/fingerprint.ts` has the scheme). Runs in the trusted engine process, on the rows
 * about to be delivered.
 *
 * - Token columns are found by their values: a text column whose every value is 32 hex digits, the
 *   shape of every token the refinery writes. Lineage is not needed: a token renamed, copied
 *   through workspace tables or cast keeps its shape. (A column of other 32-hex values, such as MD5
 *   digests, is re-keyed too: its values change, consistently, and the manifest names it.)
 * - Marked columns are DECIMAL columns with decimals, DOUBLE and FLOAT columns (a FLOAT went
 *   unmarked before red-team pass 36a): measures, not codes. Never
 *   integers: counts that passed the disclosure checks, years, ages, codes and identifiers stay
 *   exactly as checked (an aggregate is traced by its released cells instead), and dates stay as
 *   they are (often quasi-identifiers whose k-anonymity was checked).
 */
export async function planFingerprint(connection: DuckDBConnection, source: string, key: Buffer): Promise<{ select: string; fingerprint: Fingerprint }> {
  const keys = fingerprintKeys(key);
  const columns = await describeColumns(connection, source);
  const tokenColumns = await findTokenColumns(connection, source, columns);
  const markedColumns: Fingerprint['markedColumns'] = [];
  const select: string[] = [];
  for (const { name, type } of columns) {
    const column = quoteIdentifier(name);
    const mark = await markOf(connection, source, name, type);
    if (tokenColumns.includes(name)) select.push(`${rekeyTokenSql(keys, column)} AS ${column}`);
    else if (mark) {
      markedColumns.push({ column: name, unit: unitText(mark.decimals), decimals: mark.decimals, rounded: mark.rounded });
      select.push(`${markedNumberSql(keys, column, type, mark.kind, mark.decimals)} AS ${column}`);
    } else select.push(column);
  }
  return {
    select: select.join(', '),
    fingerprint: {
      scheme: FINGERPRINT_SCHEME,
      tokenColumns,
      markedColumns,
      tolerance: markedColumns.length === 0
        ? 'no value is changed beyond the re-keyed tokens'
        : 'each value of a marked column differs from the computed one by at most one unit of its last kept decimal (DOUBLE columns are first rounded to that decimal); every other column is exact',
    },
  };
}

async function describeColumns(connection: DuckDBConnection, source: string): Promise<{ name: string; type: string }[]> {
  const reader = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`);
  return (reader.getRowsJS() as [string, string][]).map(([name, type]) => ({ name, type }));
}

async function findTokenColumns(connection: DuckDBConnection, source: string, columns: { name: string; type: string }[]): Promise<string[]> {
  const text = columns.filter((c) => c.type === 'VARCHAR');
  if (text.length === 0) return [];
  const probes = text.map((c) => {
    const column = quoteIdentifier(c.name);
    return `count(${column}) > 0 AND bool_and(${column} IS NULL OR regexp_full_match(${column}, '[0-9a-fA-F]{${TOKEN_HEX_CHARS}}'))`;
  });
  const row = (await connection.runAndReadAll(`SELECT ${probes.join(', ')} FROM ${source}`)).getRowsJS()[0] ?? [];
  return text.filter((_, i) => row[i] === true).map((c) => c.name);
}

const DECIMAL_TYPE = /^DECIMAL\((\d+),\s*(\d+)\)$/;

/**
 * The unit a numeric column is marked in: a DECIMAL's own scale; for a DOUBLE or FLOAT, the fewest decimals
 * (up to MAX_MARK_DECIMALS) that hold every value, else MAX_MARK_DECIMALS with rounding.
 */
async function markOf(connection: DuckDBConnection, source: string, name: string, type: string): Promise<{ kind: MarkKind; decimals: number; rounded: boolean } | undefined> {
  const decimal = DECIMAL_TYPE.exec(type);
  if (decimal) return Number(decimal[2]) > 0 ? { kind: 'decimal', decimals: Number(decimal[2]), rounded: false } : undefined;
  if (type !== 'DOUBLE' && type !== 'FLOAT') return undefined;
  const column = quoteIdentifier(name);
  // A FLOAT (REAL) holds about 7 significant digits: its noise is 10^-7 of it, a DOUBLE's 10^-16.
  const noise = type === 'FLOAT' ? '1e-6' : '1e-15';
  const fits = Array.from({ length: MAX_MARK_DECIMALS + 1 }, (_, k) => {
    const scaled = `(${column} * 1${'0'.repeat(k)})`;
    // Within a few units in the last place (the type's noise), not a relative 1e-9: that took
    // 1234567890.37 for a whole number, delivered 1.37 off under a manifest of one unit (pass 35b).
    return `bool_and(${column} IS NULL OR NOT isfinite(${column}) OR abs(${scaled} - round(${scaled})) <= ${noise} * greatest(1, abs(${scaled})))`;
  });
  const row = (await connection.runAndReadAll(`SELECT ${fits.join(', ')} FROM ${source}`)).getRowsJS()[0] ?? [];
  const decimals = row.findIndex((fit) => fit === true);
  return decimals === -1 ? { kind: 'double', decimals: MAX_MARK_DECIMALS, rounded: true } : { kind: 'double', decimals, rounded: false };
}
