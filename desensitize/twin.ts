import { quoteIdentifier, sqlList, sqlString } from './sql.js';
import {
  addressSql, bankCardSql, birthDateSql, drawSql, emailSql, fixedLineSql, freeTextSql, mobileSql, nameSql, passportSql, plateSql, residentIdSql, usccSql,
} from './synthetic.js';
import type { JoinKind, TwinKeyPlan } from './twin-population.js';
import { isNumberType, isTemporalType } from './type-classes.js';

/** What the twin needs to know of a raw column: its profile, never its values (except top values of non-personal columns). */
export interface TwinColumn {
  name: string;
  type: string;
  nullShare: number;
  min: string | null;
  max: string | null;
  /** With `people` where the dataset has an identifier (profiles from before pass 20b have none). */
  topValues: { value: string; count: number; people?: number | undefined }[] | null;
  /** Deciles (10th to 90th percentile) of a numeric or date column, as text; absent in older profiles. */
  quantiles?: string[] | null | undefined;
  /** The fewest distinct people in any tenth the deciles cut, where the dataset has an identifier. */
  quantilePeople?: number | undefined;
  /** The values 10 people (rows, without personal data) reach at either end; null with fewer; absent in older profiles. */
  ends?: { low: string; high: string } | null | undefined;
  /** Non-null rows the profile was measured on; unknown in older profiles (deciles are then not used). */
  profiledRows?: number | undefined;
  piiKind: string | null;
}

/** A column of the twin in two steps: a per-row draw or generated value, then the value from it. */
interface TwinParts {
  /** An expression over the row index `i`, computed in the inner projection. */
  draw: string;
  /** The value as an expression over the draw's column, which it may mention freely; without it the draw is the value. */
  value?: (drawn: string) => string;
}

/** Rows a profiled value must appear in before the twin may use it (the disclosure threshold). */
export const TWIN_MIN_VALUE_ROWS = 10;

/**
 * The share of nulls the twin draws in a column. SECURITY: in a dataset about people it is a fact
 * about the people on either side: copied where each side holds TWIN_MIN_VALUE_ROWS people or more
 * (or none). Values held by fewer give an all-null column; nulls held by fewer, or people not
 * counted (an older profile, a dataset with no identifier), give none: one person's 100 HIV notes
 * were copied as a share (red-team pass 22a).
 */
export function twinNullShare(column: { nullShare: number; nullPeople?: { valued: number; nulls: number } | undefined }, personal: boolean): number {
  if (!personal || column.nullShare === 0 || column.nullShare === 1) return column.nullShare;
  const counted = column.nullPeople;
  if (counted && counted.valued < TWIN_MIN_VALUE_ROWS) return 1;
  return counted && counted.nulls >= TWIN_MIN_VALUE_ROWS ? column.nullShare : 0;
}

/**
 * A SELECT producing a synthetic table with the raw table's schema: personal-data columns from the
 * valid-format generators (no value of the real data can appear), other columns drawn from the
 * profile (category shares from top values, numbers and dates following the deciles between the
 * minimum and maximum rounded outwards), nulls
 * in the observed share. Seeded and reproducible. The same policy pipeline then turns it into a
 * tenant's dev file.
 *
 * `aboutPeople`: the dataset is about people whatever this version's columns say (the catalog's
 * isPersonalVersion over every version).
 *
 * Identifier columns of the join kinds named in `keys` (twin-population.ts) take their values from
 * the kinds' shared populations instead: the first plan lays out the rows (its entities, each with
 * its drawn number of rows), so `rows` is then only what the plan was sized for.
 *
 * Two projections: the inner one computes each column's draws and generated values, the outer one
 * turns draws into values (categories, points between deciles) and applies nulls with CASE. DuckDB computes a sub-expression shared within a
 * generator once in a plain projection but recomputes it inside CASE (measured 1.4× slower for a
 * resident ID under a null CASE), and a category's CASE would otherwise hash once per branch tried.
 */
export function twinSql(columns: readonly TwinColumn[], rows: number, seed: number, keys: readonly TwinKeyPlan[] = [], aboutPeople = false): string {
  const keyed = new Map(keys.map((plan, k) => [plan.column, k]));
  const primary = keys[0]?.column;
  // About people (any personal data recognized, or what the catalog knows of the dataset's other
  // versions and rows: `aboutPeople`): the profile's figures are judged in people, counted on the
  // dataset's identifier; without one (names and addresses only), nothing was counted and nothing is
  // copied (fail closed). SECURITY: judged on the version's own columns, a version without its IDs,
  // or rows of people keyed by codes, copied one person's rare diagnosis and age (red-team pass 41b).
  const personal = aboutPeople || columns.some((c) => c.piiKind !== null);
  const inner: string[] = [];
  const outer = columns.map((column, k) => {
    const drawn = `__v${k}`;
    const key = keyed.get(column.name);
    const parts = key === undefined ? twinParts(column, seed + k * 7919, personal) : { draw: `__key${key}` };
    inner.push(`${parts.draw} AS ${drawn}`);
    let nullBranch = '';
    // The primary key column's nulls are rows of their own (keyedRowsSql).
    if (column.nullShare > 0 && column.name !== primary) {
      inner.push(`${drawSql('i', seed + k, 'null', 10_000)} < ${Math.round(column.nullShare * 10_000)} AS __n${k}`);
      nullBranch = `WHEN __n${k} THEN NULL `;
    }
    const valued = parts.value ? parts.value(drawn) : drawn;
    const value = nullBranch ? `CASE ${nullBranch}ELSE ${valued} END` : valued;
    // TRY_CAST: a generated value that does not fit the column's type (an ID ending in X in a BIGINT
    // column) is a null, not a build that fails for good (red-team pass 23a).
    return `TRY_CAST(${value} AS ${column.type}) AS ${quoteIdentifier(column.name)}`;
  });
  if (keys.length === 0) return `SELECT ${outer.join(', ')} FROM (SELECT ${inner.join(', ')} FROM range(${rows}) t(i))`;
  const primaryNulls = columns.find((c) => c.name === primary)?.nullShare ?? 0;
  return `SELECT ${outer.join(', ')} FROM (SELECT ${inner.join(', ')} FROM (${keyedRowsSql(keys, primaryNulls)}) t)`;
}

/** The generators of the join kinds, over an entity index: entity `e` is the same value in every twin. */
const POPULATION: Record<JoinKind, (index: string, seed: number) => string> = {
  resident_id: residentIdSql, uscc: usccSql, mobile: mobileSql, bank_card: bankCardSql, email: emailSql, plate: plateSql, passport: passportSql, fixed_line: fixedLineSql,
};

/**
 * The rows of a keyed twin, as `i` (0, 1, …) and `__key<k>` per key plan: the primary plan's kept
 * entities each repeated as many times as its rows-per-key histogram draws (consecutive rows), plus
 * the primary column's null rows; every other plan's entities, repeated the same way and shuffled,
 * dealt out over the rows in turn. Each entity's value is generated once, not once per row.
 */
function keyedRowsSql(keys: readonly TwinKeyPlan[], primaryNullShare: number): string {
  const ctes = keys.map((plan, k) => {
    // SECURITY: identifier values come only from the generators at entity indexes; nothing here reads raw data.
    const keep = `${drawSql('e', plan.populationSeed, 'keep', 1_000_000)} < ${plan.keepPerMillion}`;
    return `__k${k} AS MATERIALIZED (SELECT e, ${POPULATION[plan.kind]('e', plan.populationSeed)} AS v, ${repsSql(plan)} AS reps FROM range(${plan.from}, ${plan.to}) t(e) WHERE ${keep})`;
  });
  const [first] = keys;
  const expectedRows = ((first!.to - first!.from) * first!.keepPerMillion / 1_000_000) * meanRowsPerKey(first!);
  const nullRows = primaryNullShare > 0 && primaryNullShare < 1 ? Math.round(expectedRows * primaryNullShare / (1 - primaryNullShare)) : 0;
  ctes.push(`__r AS MATERIALIZED (SELECT start + j AS i, v AS __key0 FROM (SELECT v, start, unnest(range(reps)) AS j FROM (SELECT v, reps, sum(reps) OVER (ORDER BY e ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - reps AS start FROM __k0))
    UNION ALL SELECT (SELECT coalesce(sum(reps), 0) FROM __k0) + j, NULL FROM range(${nullRows}) n(j))`);
  const joins: string[] = [];
  const positions: string[] = [];
  for (let k = 1; k < keys.length; k++) {
    ctes.push(`__s${k} AS MATERIALIZED (SELECT row_number() OVER (ORDER BY ${drawSql('e * 1048576 + j', keys[k]!.seed, 'order', 1_000_000_007)}, e, j) - 1 AS pos, v FROM (SELECT e, v, unnest(range(reps)) AS j FROM __k${k}))`);
    positions.push(`i % nullif((SELECT count(*) FROM __s${k}), 0) AS __p${k}`);
    joins.push(`LEFT JOIN __s${k} ON __s${k}.pos = __r.__p${k}`);
  }
  const keyColumns = keys.slice(1).map((_, j) => `__s${j + 1}.v AS __key${j + 1}`);
  return `WITH ${ctes.join(',\n')} SELECT __r.i, __r.__key0${keyColumns.map((c) => `, ${c}`).join('')} FROM (SELECT i, __key0${positions.map((p) => `, ${p}`).join('')} FROM __r) __r ${joins.join(' ')}`;
}

/** Rows of one entity, drawn from the histogram: a bucket by its share, then the bucket's mean as floor or ceiling. */
function repsSql(plan: TwinKeyPlan): string {
  const buckets = plan.rowsPerKey.filter((b) => b.share > 0 && b.mean >= 1);
  if (buckets.length === 0) return '1';
  const total = buckets.reduce((sum, b) => sum + b.share, 0);
  let cumulative = 0;
  const bounds = buckets.map((b) => Math.round(((cumulative += b.share) / total) * 1_000_000));
  const bucket = `CASE ${buckets.map((_, j) => `WHEN ${drawSql('e', plan.seed, 'bucket', 1_000_000)} < ${bounds[j]} THEN ${j + 1}`).join(' ')} ELSE ${buckets.length} END`;
  const means = `([${buckets.map((b) => b.mean).join(', ')}]::DOUBLE[])`;
  const mean = `${means}[${bucket}]`;
  return `CAST(floor(${mean}) + CASE WHEN ${drawSql('e', plan.seed, 'round', 1_000_000)} < (${mean} - floor(${mean})) * 1000000 THEN 1 ELSE 0 END AS BIGINT)`;
}

function meanRowsPerKey(plan: TwinKeyPlan): number {
  const buckets = plan.rowsPerKey.filter((b) => b.share > 0 && b.mean >= 1);
  const total = buckets.reduce((sum, b) => sum + b.share, 0);
  return total === 0 ? 1 : buckets.reduce((sum, b) => sum + b.share * b.mean, 0) / total;
}

/** The parts of one column. */
function twinParts(column: TwinColumn, seed: number, personal: boolean): TwinParts {
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
    // Birth dates are never profiled (min and max would be two people's): a plausible range instead.
    // Stored as YYYYMMDD integers, they stay integers.
    case 'birth_date': return /INT/i.test(column.type)
      ? { draw: birthDateSql('i', seed), value: (d) => `(year(${d}) * 10000 + month(${d}) * 100 + day(${d}))` }
      : plain(birthDateSql('i', seed));
    case 'free_text': return plain(freeTextSql('i', seed));
    case null: break;
    // A personal-data kind without a generator is left empty rather than drawn from its profile.
    default: return plain('NULL');
  }
  // SECURITY: a value held by fewer than TWIN_MIN_VALUE_ROWS people (rows, in a dataset without
  // people) may be one person's (a company name, a rare diagnosis, a salary): the twin never copies
  // it, whatever its type. Counted in people: one person's 40 rows made a diagnosis "frequent", and
  // a number column with a NaN, or a list column, copied five people's values (red-team pass 20b).
  // A profile from before people were counted copies nothing of a personal dataset.
  const text = /CHAR|TEXT|STRING/i.test(column.type);
  const holders = (v: { count: number; people?: number | undefined }) => (personal ? v.people ?? 0 : v.count);
  const topValues = (column.topValues ?? []).filter((v) => holders(v) >= TWIN_MIN_VALUE_ROWS);
  if (topValues.length === 0 && (column.topValues ?? []).length > 0 && text) {
    // Only rare values: synthetic labels in their place.
    return plain(`${sqlString(`${column.name}-`)} || ${drawSql('i', seed, 'label', 1_000)}`);
  }
  if (topValues.length > 0 && /CHAR|TEXT|STRING|BOOL/i.test(column.type)) {
    // Categories in their observed proportions among the top values.
    const total = topValues.reduce((sum, v) => sum + v.count, 0);
    let cumulative = 0;
    const bounds = topValues.map((v) => (cumulative += v.count));
    return {
      draw: drawSql('i', seed, 'cat', total),
      value: (d) => `CASE ${topValues.map((v, j) => `WHEN ${d} < ${bounds[j]} THEN ${sqlString(v.value)}`).join(' ')} END`,
    };
  }
  // Plain numbers and dates only: `BIGINT[]` or a STRUCT is neither, whatever names it holds.
  const numeric = isNumberType(column.type);
  const temporal = isTemporalType(column.type);
  // SECURITY: the range runs between the values 10 people reach at either end (`ends`), never the
  // minimum and maximum, which are one person's own: rounding 7 convictions to one significant
  // figure left 7, and a 1987 hiring date kept its year (red-team pass 21a). A dataset without
  // personal data may use its minimum and maximum (older profiles have no `ends`); a personal one
  // without `ends` (fewer than 10 people, or an older profile) gets no range.
  const range = column.ends !== undefined ? column.ends : personal || column.min === null || column.max === null ? null : { low: column.min, high: column.max };
  if (range && (numeric || temporal)) {
    // Inverse of the profile's distribution: piecewise linear through the ends, the deciles and
    // back (uniform between the ends when the profile has no deciles). Dates as days since 1970.
    // The ends are rounded outwards (one significant figure; whole years for dates), and deciles are
    // used only where each tenth of the column holds at least TWIN_MIN_VALUE_ROWS people (rows, in
    // a dataset without people): a tenth of one person's rows made two deciles their income (pass
    // 20b), and only where they lie within the ends (a decile outside would put a point mass there).
    const position = (p: string) => (numeric ? Number(p) : Math.round(Date.parse(p.slice(0, 10)) / 86_400_000));
    const ends = clampToType(personal ? outwardEnds(range, position, numeric) : roundedRange(range, position, numeric), column.type);
    const enough = personal ? (column.quantilePeople ?? 0) >= TWIN_MIN_VALUE_ROWS : (column.profiledRows ?? 0) >= 10 * TWIN_MIN_VALUE_ROWS;
    const within = (column.quantiles ?? []).every((q) => position(q) >= ends[0]! && position(q) <= ends[1]!);
    const deciles = column.quantiles?.length === 9 && enough && within ? column.quantiles : [];
    const points = [ends[0]!, ...deciles.map(position), ends[1]!];
    if (points.every(Number.isFinite)) return quantileParts(points, drawSql('i', seed, 'u', 1_000_000), /INT/i.test(column.type), temporal);
  }
  return topValues.length > 0
    ? plain(`${sqlList(topValues.map((v) => v.value))}[1 + ${drawSql('i', seed, 'any', topValues.length)}]`)
    : plain('NULL');
}

/**
 * The twin's range in a dataset without people (its minimum and maximum), rounded outwards: one
 * significant figure for numbers, whole years for dates.
 */
function roundedRange(range: { low: string; high: string }, position: (p: string) => number, numeric: boolean): [number, number] {
  if (!numeric) return [position(`${range.low.slice(0, 4)}-01-01`), position(`${range.high.slice(0, 4)}-12-31`)];
  const round = (x: number, to: (v: number) => number) => {
    if (x === 0 || !Number.isFinite(x)) return x;
    const magnitude = 10 ** Math.floor(Math.log10(Math.abs(x)));
    return to(x / magnitude) * magnitude;
  };
  return [round(Number(range.low), Math.floor), round(Number(range.high), Math.ceil)];
}

/**
 * The twin's ends in a dataset about people: each moved strictly past the measured one (`low` down,
 * `high` up), never across zero, to a multiple of a step of one significant figure of its size
 * (dates: of a tenth of the days between the ends) and of at least 10 units of its own precision (a
 * whole number: 10; 2000.55: 0.1; dates: 10 days). SECURITY: the measured ends are the 10th person's
 * own values, and rounding 7 to one figure kept 7 (a 1987 date kept its year): the twin's end must
 * stand for at least 10 possible values, never be one (red-team passes 21a, 22a, 23a).
 */
function outwardEnds(range: { low: string; high: string }, position: (p: string) => number, numeric: boolean): [number, number] {
  // The last significant digit written (7.0: units; 3.25e-05: 1e-07); days for dates.
  const precision = (text: string) => {
    if (!numeric) return 1;
    const [, decimals = '', exponent = '0'] = /^-?\d*(?:\.(\d*?)0*)?(?:e([+-]?\d+))?$/i.exec(text.trim()) ?? [];
    return 10 ** (Number(exponent) - decimals.length);
  };
  const step = (x: number, text: string) => Math.max(x === 0 ? 0 : 10 ** Math.floor(Math.log10(Math.abs(x))), 10 * precision(text));
  // Quotients and products tidied to 12 figures: 3e-05 / 1e-05 is 3.0000000000000004, whose ceiling
  // would give the value itself back (red-team pass 23a).
  const tidy = (x: number) => Number(x.toPrecision(12));
  const low = position(range.low);
  const high = position(range.high);
  // Dates (in days) have no size of their own: they move by one figure of a tenth of the days
  // between the ends (2015 to 2023: 100 days), at least 10.
  const lowStep = step(numeric ? low : (high - low) / 10, range.low);
  const highStep = step(numeric ? high : (high - low) / 10, range.high);
  const below = tidy((Math.ceil(tidy(low / lowStep)) - 1) * lowStep);
  const above = tidy((Math.floor(tidy(high / highStep)) + 1) * highStep);
  return [numeric && low >= 0 ? Math.max(below, 0) : below, numeric && high <= 0 ? Math.min(above, 0) : above];
}

/** What the integer types hold (the 64-bit ones rounded inwards to what a double can say). */
const INTEGER_RANGES: Record<string, [number, number]> = {
  TINYINT: [-128, 127], SMALLINT: [-32_768, 32_767], INTEGER: [-(2 ** 31), 2 ** 31 - 1], BIGINT: [-(2 ** 63), 2 ** 63 - 1024],
  UTINYINT: [0, 255], USMALLINT: [0, 65_535], UINTEGER: [0, 2 ** 32 - 1], UBIGINT: [0, 2 ** 64 - 2048],
};

/** Ends clamped to what the column's type holds: an end rounded past it failed the twin's cast (a TINYINT's 200, pass 22a). */
function clampToType([low, high]: [number, number], type: string): [number, number] {
  const decimal = /^DECIMAL\((\d+),\s*(\d+)\)$/i.exec(type);
  // DECIMAL(p, s) holds up to 10^(p-s) - 10^-s either way.
  const largest = decimal ? 10 ** (Number(decimal[1]) - Number(decimal[2])) - 10 ** -Number(decimal[2]) : undefined;
  const span = largest !== undefined ? [-largest, largest] : INTEGER_RANGES[type.toUpperCase()];
  return span ? [Math.max(low, span[0]!), Math.min(high, span[1]!)] : [low, high];
}

/**
 * A value from a piecewise-linear inverse distribution through `points` (equally spaced in
 * probability): the draw picks a segment and a place in it.
 */
function quantileParts(points: number[], draw: string, integer: boolean, temporal: boolean): TwinParts {
  const segments = points.length - 1;
  const list = `([${points.join(', ')}]::DOUBLE[])`;
  return {
    // Position in [0, segments): the segment is its integer part.
    draw: `(${draw} * ${segments} / 1000000.0)`,
    value(d) {
      const k = `CAST(floor(${d}) AS INTEGER)`;
      const x = `(${list}[${k} + 1] + (${d} - floor(${d})) * (${list}[${k} + 2] - ${list}[${k} + 1]))`;
      if (temporal) return `(DATE '1970-01-01' + CAST(round(${x}) AS INTEGER))`;
      return integer ? `round(${x})` : x;
    },
  };
}
