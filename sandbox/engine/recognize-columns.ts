import type { DuckDBConnection } from '@duckdb/node-api';
import { quoteIdentifier, recognizeColumn, type PiiKind } from '../../desensitize/index.js';

/**
 * Which columns of `source` (a table or a parenthesized SELECT, trusted) hold personal data, by the
 * same recognizers as dataset ingest: a reservoir sample of `sampleSize` rows, topped up per column
 * where the shared sample holds too few of its values (a sparse column). Trusted code only: the
 * sampled values never leave this function.
 */
export async function recognizePersonalColumns(
  connection: DuckDBConnection,
  source: string,
  names: readonly string[],
  options: { sampleSize: number; today: string },
): Promise<Record<string, PiiKind>> {
  if (names.length === 0) return {};
  const sample = (await connection.runAndReadAll(
    `SELECT ${names.map((name) => `${quoteIdentifier(name)}::VARCHAR`).join(', ')} FROM ${source} USING SAMPLE reservoir(${options.sampleSize} ROWS) REPEATABLE (42)`,
  )).getRowsJS();
  const found: Record<string, PiiKind> = {};
  for (const [k, name] of names.entries()) {
    let values = sample.map((row) => row[k]).filter((v) => v !== null && v !== undefined).map(String);
    if (values.length < sample.length / 2) {
      const c = quoteIdentifier(name);
      values = (await connection.runAndReadAll(`SELECT ${c}::VARCHAR FROM ${source} WHERE ${c} IS NOT NULL USING SAMPLE reservoir(${options.sampleSize} ROWS) REPEATABLE (42)`))
        .getRowsJS().map((row) => String(row[0]));
    }
    const recognized = recognizeColumn(name, values, options.today);
    if (recognized) found[name] = recognized.kind;
  }
  return found;
}
