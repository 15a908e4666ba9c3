import { quoteIdentifier, sqlList, sqlString } from './sql.js';
import { addressSql, bankCardSql, drawSql, emailSql, fixedLineSql, mobileSql, nameSql, passportSql, plateSql, residentIdSql, usccSql } from './synthetic.js';

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

/** A column of the twin in two steps: a per-row draw or generated value, then the value from it. */
interface TwinParts {
  /** An expression over the row index `i`, computed in the inner projection. */
  draw: string;
  /** CASE branches (`WHEN … THEN …`) over the draw giving the value; without them the draw is the value. */
  branches?: string;
}

/**
 * A SELECT producing a synthetic table with the raw table's schema: personal-data columns from the
 * valid-format generators (no value of the real data can appear), other columns drawn from the
 * profile (category shares from top values, numbers and dates uniform between min and max), nulls
 * in the observed share. Seeded and reproducible. The same policy pipeline then turns it into a
 * tenant's dev file.
 *
 * Two projections: the inner one computes each column's draws and generated values, the outer one
 * applies nulls and category shares with CASE. DuckDB computes a sub-expression shared within a
 * generator once in a plain projection but recomputes it inside CASE (measured 1.4× slower for a
 * resident ID under a null CASE), and a category's CASE would otherwise hash once per branch tried.
 */
export function twinSql(columns: readonly TwinColumn[], rows: number, seed: number): string {
  const inner: string[] = [];
  const outer = columns.map((column, k) => {
    const drawn = `__v${k}`;
    const parts = twinParts(column, seed + k * 7919, drawn);
    inner.push(`${parts.draw} AS ${drawn}`);
    let nullBranch = '';
    if (column.nullShare > 0) {
      inner.push(`${drawSql('i', seed + k, 'null', 10_000)} < ${Math.round(column.nullShare * 10_000)} AS __n${k}`);
      nullBranch = `WHEN __n${k} THEN NULL `;
    }
    const value = parts.branches
      ? `CASE ${nullBranch}${parts.branches} END`
      : nullBranch ? `CASE ${nullBranch}ELSE ${drawn} END` : drawn;
    return `CAST(${value} AS ${column.type}) AS ${quoteIdentifier(column.name)}`;
  });
  return `SELECT ${outer.join(', ')} FROM (SELECT ${inner.join(', ')} FROM range(${rows}) t(i))`;
}

/** The parts of one column; `drawn` names its draw in the outer projection. */
function twinParts(column: TwinColumn, seed: number, drawn: string): TwinParts {
  const plain = (draw: string): TwinParts => ({ draw });
  switch (column.piiKind) {
    case 'resident_id': return plain(residentIdSql('i', seed));
    case 'mobile': return plain(mobileSql('i', seed));
    case 'uscc': return plain(usccSql('i', seed));
    case 'bank_card': return plain(bankCardSql('i', seed));
    case 'name': return plain(nameSql('i', seed));
    case 'address': return plain(addressSql('i', seed));
    case 'email': return plain(emailSql('i', seed));
    case 'plate': return plain(plateSql('i', seed));
    case 'passport': return plain(passportSql('i', seed));
    case 'fixed_line': return plain(fixedLineSql('i', seed));
    case null: break;
    // A personal-data kind without a generator is left empty rather than drawn from its profile.
    default: return plain('NULL');
  }
  const topValues = column.topValues ?? [];
  if (topValues.length > 0 && /CHAR|TEXT|STRING|BOOL/i.test(column.type)) {
    // Categories in their observed proportions among the top values.
    const total = topValues.reduce((sum, v) => sum + v.count, 0);
    let cumulative = 0;
    const branches = topValues.map((v) => {
      cumulative += v.count;
      return `WHEN ${drawn} < ${cumulative} THEN ${sqlString(v.value)}`;
    });
    return { draw: drawSql('i', seed, 'cat', total), branches: branches.join(' ') };
  }
  const uniform = `(${drawSql('i', seed, 'u', 1_000_000)} / 1000000.0)`;
  if (column.min !== null && column.max !== null && /INT|DOUBLE|DECIMAL|FLOAT|REAL|NUMERIC/i.test(column.type)) {
    const [lo, hi] = [Number(column.min), Number(column.max)];
    return plain(/INT/i.test(column.type) ? `round(${lo} + ${uniform} * ${hi - lo})` : `${lo} + ${uniform} * ${hi - lo}`);
  }
  if (column.min !== null && column.max !== null && /DATE|TIMESTAMP/i.test(column.type)) {
    const [lo, hi] = [`CAST(${sqlString(column.min)} AS DATE)`, `CAST(${sqlString(column.max)} AS DATE)`];
    return plain(`${lo} + CAST(${uniform} * (${hi} - ${lo}) AS INTEGER)`);
  }
  return topValues.length > 0
    ? plain(`${sqlList(topValues.map((v) => v.value))}[1 + ${drawSql('i', seed, 'any', topValues.length)}]`)
    : plain('NULL');
}
