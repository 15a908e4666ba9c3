import { quoteIdentifier, sqlList, sqlString } from './sql.js';
import { addressSql, bankCardSql, mobileSql, nameSql, residentIdSql, usccSql } from './synthetic.js';

/** What the twin needs to know of a raw column: its profile, never its values (except top values of non-personal columns). */
export interface TwinColumn {
  name: string;
  type: string;
  nullShare: number;
  min: string | null;
  max: string | null;
  topValues: { value: string; count: number }[] | null;
  piiKind: string | null;
}

/**
 * A SELECT producing a synthetic table with the raw table's schema: personal-data columns from the
 * valid-format generators (no value of the real data can appear), other columns drawn from the
 * profile (category shares from top values, numbers and dates uniform between min and max), nulls
 * in the observed share. Seeded and reproducible. The same policy pipeline then turns it into a
 * tenant's dev file.
 */
export function twinSql(columns: readonly TwinColumn[], rows: number, seed: number): string {
  const list = columns.map((column, k) => {
    const value = twinValue(column, seed + k * 7919);
    const nulled = column.nullShare > 0
      ? `CASE WHEN hash(i, ${seed + k}, 'null') % 10000 < ${Math.round(column.nullShare * 10000)} THEN NULL ELSE ${value} END`
      : value;
    return `CAST(${nulled} AS ${column.type}) AS ${quoteIdentifier(column.name)}`;
  });
  return `SELECT ${list.join(', ')} FROM range(${rows}) t(i)`;
}

function twinValue(column: TwinColumn, seed: number): string {
  switch (column.piiKind) {
    case 'resident_id': return residentIdSql('i', seed);
    case 'mobile': return mobileSql('i', seed);
    case 'uscc': return usccSql('i', seed);
    case 'bank_card': return bankCardSql('i', seed);
    case 'name': return nameSql('i', seed);
    case 'address': return addressSql('i', seed);
    case null: break;
    // Other personal data (e-mail, plate, passport, fixed line) has no generator yet: left empty.
    default: return 'NULL';
  }
  if (column.topValues && column.topValues.length > 0 && /CHAR|TEXT|STRING|BOOL/i.test(column.type)) {
    // Categories in their observed proportions among the top values.
    const total = column.topValues.reduce((sum, v) => sum + v.count, 0);
    let cumulative = 0;
    const branches = column.topValues.map((v) => {
      cumulative += v.count;
      return `WHEN hash(i, ${seed}, 'cat') % ${total} < ${cumulative} THEN ${sqlString(v.value)}`;
    });
    return `CASE ${branches.join(' ')} END`;
  }
  const uniform = `(hash(i, ${seed}, 'u') % 1000000) / 1000000.0`;
  if (column.min !== null && column.max !== null && /INT|DOUBLE|DECIMAL|FLOAT|REAL|NUMERIC/i.test(column.type)) {
    const [lo, hi] = [Number(column.min), Number(column.max)];
    return /INT/i.test(column.type) ? `round(${lo} + ${uniform} * ${hi - lo})` : `${lo} + ${uniform} * ${hi - lo}`;
  }
  if (column.min !== null && column.max !== null && /DATE|TIMESTAMP/i.test(column.type)) {
    const [lo, hi] = [`CAST(${sqlString(column.min)} AS DATE)`, `CAST(${sqlString(column.max)} AS DATE)`];
    return `${lo} + CAST(${uniform} * (${hi} - ${lo}) AS INTEGER)`;
  }
  return column.topValues && column.topValues.length > 0 ? `${sqlList(column.topValues.map((v) => v.value))}[1 + CAST(hash(i, ${seed}, 'any') % ${column.topValues.length} AS BIGINT)]` : 'NULL';
}
