/**
 * What a DuckDB column type holds, in the few classes the rest of the code cares about: one table
 * for the policy matrix, recognition, profiling, the dev twin and export files, so that `DECIMAL.*`
 * in one place and `DECIMAL(p,s)` in another cannot disagree on a list such as `DECIMAL(10,2)[]`
 * (which used to be profiled as a number and broke the ingest). Pure.
 */

/** What a DuckDB type holds, as far as the rules care. */
export type TypeClass = 'text' | 'integer' | 'decimal' | 'date' | 'timestamp' | 'boolean' | 'other';
export const TYPE_CLASSES: readonly TypeClass[] = ['text', 'integer', 'decimal', 'date', 'timestamp', 'boolean', 'other'];

/**
 * The class of a DuckDB type as the catalog stores it (`VARCHAR`, `BIGINT`, `DECIMAL(18,3)`,
 * `TIMESTAMP WITH TIME ZONE`, `VARCHAR[]` …). A DECIMAL with scale 0 holds integers and prints
 * like one (`13812345678`), so it counts as an integer; lists, structs, maps, blobs, times and
 * intervals are `other`.
 */
export function typeClassOf(duckdbType: string): TypeClass {
  const type = duckdbType.trim().toUpperCase();
  if (/[[\]]|^(STRUCT|MAP|UNION|LIST|ARRAY)\b/.test(type)) return 'other';
  const decimal = /^(DECIMAL|NUMERIC)\s*\(\s*\d+\s*,\s*(\d+)\s*\)$/.exec(type);
  if (decimal) return decimal[2] === '0' ? 'integer' : 'decimal';
  if (/^(VARCHAR|CHAR|BPCHAR|TEXT|STRING|ENUM)\b/.test(type)) return 'text';
  if (/^U?(TINYINT|SMALLINT|INTEGER|INT|BIGINT|HUGEINT)\d*$|^(INT[1248]|LONG|SHORT|SIGNED)$/.test(type)) return 'integer';
  if (/^(DOUBLE|FLOAT|REAL|DECIMAL|NUMERIC|FLOAT[48])$/.test(type)) return 'decimal';
  if (type === 'DATE') return 'date';
  if (/^(TIMESTAMP|DATETIME)/.test(type)) return 'timestamp';
  if (/^(BOOLEAN|BOOL|LOGICAL)$/.test(type)) return 'boolean';
  return 'other';
}

/** Integers and decimals: values whose text is a number. */
export function isNumberType(duckdbType: string): boolean {
  const typeClass = typeClassOf(duckdbType);
  return typeClass === 'integer' || typeClass === 'decimal';
}

/** Dates and timestamps (with or without time zone, any precision); not times of day or intervals. */
export function isTemporalType(duckdbType: string): boolean {
  const typeClass = typeClassOf(duckdbType);
  return typeClass === 'date' || typeClass === 'timestamp';
}
