import { datePrefixSql, trimSql } from './identifiers.js';
import { onText } from './policy.js';
import { quoteIdentifier, sqlString, twoStepSelect, type SqlRule } from './sql.js';
import { hmacSha256HexSql, isEntityKeySql, TOKEN_HEX_CHARS, tokenNormalization, type TokenNormalization } from './tokens.js';

/**
 * Entity keys that are no one person's for sure, judged over the whole domain. An entity key is the
 * domain's (one HMAC of the normalized identifier in every dataset), so a key shared by several
 * people anywhere is shared everywhere: publish makes its rows keyless in every table
 * (`splitEntityKeys`, sandbox/engine/publish.ts; docs/sandbox.md, "Rows without a key").
 *
 * What tells: things one person has only one of, its witnesses (witnessKindOf): a birth date (read
 * to the day, the month and the year), a resident ID or a passport number (for identifiers of
 * another kind), a gender, the row's person's name. An identifier is doubtful when the rows that
 * carry it, in any of its columns of any dataset, disagree on a witness of one kind or lack it on
 * one row: a clerk's mobile beside 12 walk-ins' birth dates, resident IDs, names (or beside 12
 * `未登记`), a market's credit code beside 12 stall holders' resident IDs.
 *
 * SECURITY: a clerk's own mobile written for 12 counter payers counted as one person, so a cell
 * leaving out one of them left out "no one" and a difference of two answers gave that payer's
 * amount (red-team passes 28a, 30a). Judged one dataset and one entity column at a time it still
 * did: in a second dataset whose birth dates agreed (filled from the account, pass 31a), with one
 * row there and another date elsewhere, beside 12 resident IDs in a dataset keyed by them, once a
 * later version of the dataset no longer showed it (pass 32a), with the dates beside a column that
 * was not the entity, the resident IDs beside the entity, in a dataset keyed by credit codes (32b);
 * and with birth dates only in passports, in a `tel` column, as year and month (`csny` 1985-06) or
 * as Oracle writes them (23-JUN-85), and a resident ID reused by people of other names (33a).
 */

/** A dataset version as the doubt reads it. */
export interface DoubtSource {
  /** Its raw table (an attached dataset file's `data`). */
  from: string;
  /**
   * Its identifier columns judged, with their kinds' normalization (entityNormalization): its entity
   * column and its other identifier columns of people (an enterprise's code beside a person's row,
   * an employer's, is no identifier of the row's entity).
   */
  identifiers: readonly IdentifierColumn[];
  /** Its columns that witness who a row's person is (witnessKindOf), shown or not. */
  witnesses: readonly WitnessColumn[];
  /** The day the version was ingested (YYYY-MM-DD): no one is born after it. */
  recordedOn: string;
}

export interface IdentifierColumn {
  column: string;
  normalization: TokenNormalization;
}

export type WitnessKind = 'birth_date' | 'resident_id' | 'passport' | 'gender' | 'name';

export interface WitnessColumn {
  column: string;
  kind: WitnessKind;
}

/**
 * What a column witnesses of its row's person, from its recognized kind and its header, or
 * undefined. A header alone makes a birth date (a `csny` of year and month, an Oracle `23-JUN-85`
 * that recognition does not take for a whole date) and a gender; a name must be recognized as one
 * and be the row's person's (`姓名`, `patient_name`; not a doctor's, a clerk's or a product's, whose
 * names differ from row to row of one person). A witness that is wrongly taken for one makes keys
 * keyless: fewer people counted, the safe side.
 */
export function witnessKindOf(column: { name: string; type: string; piiKind: string | null }): WitnessKind | undefined {
  const { name, type, piiKind } = column;
  if (piiKind === 'birth_date' || piiKind === 'resident_id' || piiKind === 'passport') return piiKind;
  if (piiKind === 'name') return PERSONS_NAME.test(name) ? 'name' : undefined;
  if (piiKind !== null || FRACTIONAL.test(type)) return undefined;
  if (BIRTH_DATE_HEADER.test(name) && !NOT_A_BIRTH_DATE.test(name)) return 'birth_date';
  return GENDER_HEADER.test(name) ? 'gender' : undefined;
}

const BIRTH_DATE_HEADER = /出生|生日|birth|(?:^|[^a-z])dob(?:[^a-z]|$)|csrq|csny|chusheng|shengri|bday|brth|born/i;
/** A birth's place, weight, certificate or order is not its date. */
const NOT_A_BIRTH_DATE = /地|籍|省|市|县|国|place|city|province|country|county|town|weight|体重|身长|cert|证|order|顺序|hospital|医院|院|编号|号码|number|(?:^|_)no$|_id$/i;
/** The row's person's, not a doctor's or a clerk's: bare, or after a word for the person the row is about. */
const PERSON = '(?:(?:患者|病人|客户|居民|申请人|本人|缴费人|参保人|patient|customer|client|resident|applicant|payer|insured|person)_?)?';
const GENDER_HEADER = new RegExp(`^${PERSON}(?:性别|xb|gender|sex)(?:_?(?:code|cd|dm|代码))?$`, 'i');
const PERSONS_NAME = new RegExp(`^${PERSON}(?:姓名|名字|xm|xingming|name|full_?name|real_?name)$`, 'i');
const FRACTIONAL = /^(?:DOUBLE|FLOAT|REAL|DECIMAL.*|BOOLEAN)$/i;

/**
 * The SQL of the doubtful keys (one column, `entity`, keyed like the entity keys with `key`), or
 * undefined when no source has an identifier beside a witness. Identifiers are compared normalized
 * (a mobile with +86, a 15-digit resident ID, a Gmail address with dots are the key they make) and
 * keyed at the end: an HMAC per doubtful value, not per row. A witness that is none (a missing,
 * unreadable or default birth date; a resident ID that is no key, such as `未登记`; a gender
 * `未知`) counts as disagreeing with the others, as the rows might be anyone's. A value that is no
 * identifier (a placeholder) may be judged too: it is keyless anyway.
 */
export function compileDoubtfulKeys(sources: readonly DoubtSource[], key: Buffer): string | undefined {
  const pairs: string[] = [];
  for (const source of sources.filter(canShowDoubt)) {
    const identifiers = source.identifiers.map((identifier, i) => ({ name: `i${i}`, column: quoteIdentifier(identifier.column), rule: onText(tokenNormalization(identifier.normalization)), how: identifier.normalization }));
    const readings = source.witnesses.flatMap((witness, i) => readingsOf(witness.kind, source.recordedOn)
      .map((reading, j) => ({ ...reading, name: `w${i}_${j}`, column: quoteIdentifier(witness.column), of: witness.kind })));
    // One struct per identifier and reading of the row: its value, the reading's kind and value.
    const structs = identifiers.flatMap((identifier) => readings.filter((reading) => witnesses(reading.of, identifier.how)).map((reading) => {
      const e = reading.partial ? `CASE WHEN ${reading.name} IS NOT NULL THEN ${identifier.name} END` : identifier.name;
      return `{e: ${e}, k: '${reading.kind}', w: ${reading.name}}`;
    }));
    pairs.push(`SELECT unnest([${structs.join(', ')}], recursive := true) FROM (${twoStepSelect([...identifiers, ...readings], source.from)})`);
  }
  if (pairs.length === 0) return undefined;
  const doubtful = `SELECT DISTINCT e FROM (${pairs.join('\nUNION ALL\n')}) WHERE e <> '' GROUP BY e, k HAVING count(*) > 1 AND (count(w) < count(*) OR min(w) <> max(w))`;
  return `SELECT substr(${hmacSha256HexSql(key, 'e')}, 1, ${TOKEN_HEX_CHARS}) AS entity FROM (${doubtful})`;
}

/** Whether a source has an identifier beside a witness of it (else it tells nothing of shared keys). */
export function canShowDoubt(source: Pick<DoubtSource, 'identifiers' | 'witnesses'>): boolean {
  return source.identifiers.some((identifier) => source.witnesses.some((witness) => witnesses(witness.kind, identifier.normalization)));
}

/** A resident ID does not witness resident IDs (a guardian's beside two children's), nor a passport passports and cards. */
function witnesses(kind: WitnessKind, identifier: TokenNormalization): boolean {
  if (kind === 'resident_id') return identifier !== 'resident_id';
  if (kind === 'passport') return identifier !== 'document';
  return true;
}

/**
 * How a witness column is read, as VARCHAR: one reading per kind compared (`kind`); a `partial`
 * reading leaves out the rows where it is NULL (a birth date of year and month says nothing of the
 * day) instead of counting them as none.
 */
interface Reading {
  kind: string;
  rule: SqlRule;
  partial: boolean;
}

function readingsOf(kind: WitnessKind, recordedOn: string): Reading[] {
  if (kind === 'birth_date') return birthDateReadings(recordedOn);
  if (kind === 'resident_id' || kind === 'passport') return [{ kind, rule: documentWitness(kind === 'passport' ? 'document' : kind), partial: false }];
  return [{ kind, rule: kind === 'gender' ? genderWitness : nameWitness, partial: false }];
}

/** A resident ID or passport number as a witness: normalized as its entity keys are, none when it is no key (`未登记`, a placeholder). */
function documentWitness(how: TokenNormalization): SqlRule {
  const normalization = tokenNormalization(how);
  return onText({
    prepare: normalization.prepare,
    finish: (prepared) => {
      const id = normalization.finish(prepared);
      return `CASE WHEN ${isEntityKeySql(id, how)} THEN ${id} END`;
    },
  });
}

/** 男/M/male/1 and 女/F/female/2 (GB/T 2261.1); anything else (未知, 0, 9) is none. */
const genderWitness: SqlRule = onText({
  prepare: (column) => `lower(${trimSql(column)})`,
  finish: (gender) => `CASE WHEN ${gender} IN ('男', '男性', 'm', 'male', '1') THEN 'M' WHEN ${gender} IN ('女', '女性', 'f', 'female', '2') THEN 'F' END`,
});

/** A name without spaces and dots (`阿依古丽·买买提`), lower case; none when empty or a placeholder. */
const NAME_PLACEHOLDERS = ['无', '未知', '不详', '未登记', '匿名', '某某', '测试', 'null', 'none', 'na', 'n/a', 'unknown', 'test', 'xxx'];
const nameWitness: SqlRule = onText({
  prepare: (column) => `lower(regexp_replace(${column}, '[\\s\\pZ\\pCf·•・.。]', '', 'g'))`,
  finish: (name) => `CASE WHEN ${name} <> '' AND ${name} NOT IN (${NAME_PLACEHOLDERS.map(sqlString).join(', ')}) THEN ${name} END`,
});

/**
 * A birth date read three ways: the day (whole dates only), the month (whole dates and year-month
 * forms: 1985-06, 198506, 1985年6月) and the year (those and a bare year); one person's date
 * written two ways is one date, and a year and month agree with a whole date of that month. Read in
 * the forms recognition knows and as Oracle writes dates (23-JUN-85, 23-Jun-1985; a two-digit year
 * after `recordedOn` is of the century before). None (NULL at every level): unreadable, or a form's
 * default for "unknown": 1 January (1985-01-01, 1985-01), 1970-01-01, a date before 1901 or after
 * the day the data was recorded (`recordedOn`, YYYY-MM-DD: fixed per dataset version, so that the
 * SQL, and the tables built with it, do not change from day to day). SECURITY: twelve walk-ins
 * under one clerk's mobile, all dated 1900-01-01 (pass 30a) or 9999-12-31 (pass 31a), agreed and
 * counted as one person.
 */
function birthDateReadings(recordedOn: string): Reading[] {
  const last = `DATE ${sqlString(recordedOn)}`;
  const usable = (date: string) => `${date} >= DATE '1901-01-01' AND ${date} <= ${last}`;
  // Whole dates (`d`) and year-month forms (`m`, as the month's first day) as DATE, the text (`t`) for bare years.
  const prepare = (column: string) => {
    const text = trimSql(`CAST(${column} AS VARCHAR)`);
    return `{t: ${text}, d: coalesce(${datePrefixSql(text)}, ${oracleDateSql(text, last)}), m: ${yearMonthSql(text)}}`;
  };
  const day = (p: string) => `CASE WHEN ${usable(`${p}['d']`)} AND ${p}['d'] <> DATE '1970-01-01' AND NOT (month(${p}['d']) = 1 AND day(${p}['d']) = 1) THEN ${p}['d'] END`;
  const month = (p: string) => `CASE WHEN ${p}['d'] IS NOT NULL THEN ${day(p)} WHEN ${usable(`${p}['m']`)} AND month(${p}['m']) <> 1 THEN ${p}['m'] END`;
  const bareYear = (p: string) => `CASE WHEN regexp_full_match(${p}['t'], '[1-9][0-9]{3}年?') AND left(${p}['t'], 4) BETWEEN '1901' AND ${sqlString(recordedOn.slice(0, 4))} THEN left(${p}['t'], 4) END`;
  return [
    { kind: 'birth date', rule: { prepare, finish: (p) => `CAST(${day(p)} AS VARCHAR)` }, partial: true },
    { kind: 'birth month', rule: { prepare, finish: (p) => `strftime(${month(p)}, '%Y-%m')` }, partial: true },
    { kind: 'birth year', rule: { prepare, finish: (p) => `CASE WHEN ${p}['d'] IS NOT NULL OR ${p}['m'] IS NOT NULL THEN CAST(year(${month(p)}) AS VARCHAR) ELSE ${bareYear(p)} END` }, partial: false },
  ];
}

/** `23-JUN-85`, `23-Jun-1985`, `23 JUN 85` at the start of `text` as a DATE (a two-digit year after `last` of the century before), or NULL. */
function oracleDateSql(text: string, last: string): string {
  const form = '^([0-9]{1,2})[-/ ]([A-Za-z]{3})[-/ ]([0-9]{4}|[0-9]{2})(?:[^0-9]|$)';
  const dashed = `regexp_extract(${text}, '${form}', ['d', 'b', 'y'])`;
  const parse = (format: string) => `CAST(try_strptime(concat_ws('-', ${dashed}.d, ${dashed}.b, ${dashed}.y), '${format}') AS DATE)`;
  return `(CASE WHEN NOT regexp_matches(${text}, '${form}') THEN NULL`
    + ` WHEN length(${dashed}.y) = 4 THEN ${parse('%d-%b-%Y')}`
    + ` WHEN ${parse('%d-%b-%y')} > ${last} THEN CAST(${parse('%d-%b-%y')} - INTERVAL 100 YEAR AS DATE) ELSE ${parse('%d-%b-%y')} END)`;
}

/** A whole text of a year and a month (1985-06, 1985/6, 198506, 1985年6月) as the month's first day, or NULL. */
function yearMonthSql(text: string): string {
  const form = '^([1-9][0-9]{3})(?:[-/.年]([0-9]{1,2})月?|([0-9]{2}))$';
  return `(CASE WHEN regexp_matches(${text}, '${form}') THEN CAST(try_strptime(regexp_replace(${text}, '${form}', '\\1-\\2\\3'), '%Y-%m') AS DATE) END)`;
}
