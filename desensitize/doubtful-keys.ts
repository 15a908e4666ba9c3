import { datePrefix, datePrefixSql, foldDateTextSql, foldIdentifier, trimSql, trimText } from './identifiers.js';
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
  /** Its recognized kind (`mobile`, `passport`, ...): a witness of the same kind witnesses nothing of it. */
  kind: string;
  normalization: TokenNormalization;
}

export type WitnessKind = 'birth_date' | 'resident_id' | 'passport' | 'gender' | 'name';

export interface WitnessColumn {
  column: string;
  kind: WitnessKind;
}

/**
 * What a column witnesses of its row's person, from its recognized kind, its header and what ingest
 * profiled of its values, or undefined. A header makes a birth date (a `csny` of year and month, an
 * Oracle `23-JUN-85` that recognition does not take for a whole date, a float year) when some of the
 * profiled values read as one (a header alone took `cost_borne_by` of 本人/单位 for a date: red-team
 * pass 34a); a header makes a gender; a name is any name recognized as one whose header does not say
 * it is someone else's (a doctor's, a clerk's, a product's, a guardian's: they differ from row to
 * row of one person), and any text under a person's name's header (`name`, `姓名`: pinyin names,
 * which recognition does not know). A column wrongly taken for a witness makes keys keyless: fewer people counted, the
 * safe side; one missed lets several people count as one.
 */
export function witnessKindOf(column: { name: string; type: string; piiKind: string | null; values?: readonly (string | null)[] }): WitnessKind | undefined {
  const { type, piiKind } = column;
  const name = column.name.replace(/([a-z])([A-Z])/g, '$1_$2');
  if (piiKind === 'birth_date' || piiKind === 'resident_id' || piiKind === 'passport') return piiKind;
  if (piiKind === 'name') return SOMEONE_ELSE.test(name) ? undefined : 'name';
  if (piiKind !== null || /^BOOLEAN$/i.test(type)) return undefined;
  if (BIRTH_DATE_HEADER.test(name) && !NOT_A_BIRTH_DATE.test(name) && (column.values ?? []).some(readsAsBirthDate)) return 'birth_date';
  if (GENDER_HEADER.test(name)) return 'gender';
  return NAME_HEADER.test(name) && !SOMEONE_ELSE.test(name) && /^VARCHAR$/i.test(type) ? 'name' : undefined;
}

const BIRTH_DATE_HEADER = /出生|生日|birth|(?:^|[^a-z])(?:dob|born|bday|brth|csrq|csny|chusheng|shengri)(?:[^a-z]|$)/i;
/** A birth's place, weight, certificate, order or flag is not its date. */
const NOT_A_BIRTH_DATE = /地|籍|省|市|县|国|place|city|province|country|county|town|weight|体重|身长|cert|证|order|顺序|hospital|医院|院|编号|号码|number|(?:^|_)no$|_id$|flag|verified|valid|check|是否|标志|券|礼|gift|coupon|status|状态|type|类型/i;
const GENDER_HEADER = /^(?:(?:患者|病人|客户|居民|申请人|本人|缴费人|参保人|patient|customer|client|resident|applicant|payer|insured|person)_?)?(?:性别|xb|gender|sex)(?:_?(?:code|cd|dm|代码))?$/i;
/** A person's name by its header alone (a thing's name is `名称`, `diagnosis_name`: not these). */
const NAME_HEADER = /姓名|^xm$|xingming|^(?:(?:patient|customer|client|resident|applicant|payer|insured|person)_)?(?:full_|real_)?name$/i;
/** Whose name it is, when not the row's person's. */
const SOMEONE_ELSE = /doctor|医|nurse|护士|clerk|经办|操作|收费|录入|审核|负责|operator|staff|员工|teacher|教师|老师|agent|代理|经理|manager|sales|业务|product|商品|产品|药|company|公司|企业|单位|机构|org|shop|店|商户|merchant|hospital|院|school|学校|bank|银行|course|课程|item|项目|project|department|部门|科室|guardian|监护|父|母|parent|spouse|配偶|家属|relative|referr|推荐|file|文件|brand|品牌|street|road|路|街|village|村|city|城市|district|区/i;

/** Whether a profiled value reads as a birth date at some level (day, month or year), as birthDateReadings reads it. */
function readsAsBirthDate(value: string | null): boolean {
  if (value === null) return false;
  const text = foldIdentifier(trimText(value)).replace(/^([0-9]+)[.]0+$/, '$1');
  return datePrefix(text) !== null || /^[0-9]{1,2}[-/ ][A-Z]{3}[-/ ]([0-9]{4}|[0-9]{2})/.test(text) || YEAR_MONTH.test(text) || /^[1-9][0-9]{3}年?$/.test(text);
}
const YEAR_MONTH = /^([1-9][0-9]{3})(?:[-/.年]([0-9]{1,2})月?|([0-9]{2}))$/;

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
    const identifiers = source.identifiers.map((identifier, i) => ({ name: `i${i}`, column: quoteIdentifier(identifier.column), rule: onText(tokenNormalization(identifier.normalization)), kind: identifier.kind }));
    const witnessed = source.witnesses.map((witness, i) => ({ ...witness, name: `w${i}`, reading: readingOf(witness.kind, source.recordedOn) }));
    const outputs = witnessed.flatMap(({ column, name, reading }) => [reading.required, ...reading.optional]
      .flatMap((rule, j) => (rule ? [{ name: `${name}_${j}`, column: quoteIdentifier(column), rule }] : [])));
    // One struct per identifier and witness column of the row: its value, the witness's kind, its required reading (w) and optional ones (a, b).
    const structs = identifiers.flatMap((identifier) => witnessed.filter((witness) => witnesses(witness.kind, identifier.kind)).map(({ name, reading }) => {
      const [a, b] = reading.optional.map((_, j) => `${name}_${j + 1}`);
      return `{e: ${identifier.name}, k: '${reading.kind}', w: ${reading.required ? `${name}_0` : "''"}, a: ${a ?? 'NULL::VARCHAR'}, b: ${b ?? 'NULL::VARCHAR'}}`;
    }));
    pairs.push(`SELECT unnest([${structs.join(', ')}], recursive := true) FROM (${twoStepSelect([...identifiers, ...outputs], source.from)})`);
  }
  if (pairs.length === 0) return undefined;
  const disagree = 'count(w) < count(*) OR min(w) <> max(w) OR min(a) <> max(a) OR min(b) <> max(b)';
  const doubtful = `SELECT DISTINCT e FROM (${pairs.join('\nUNION ALL\n')}) WHERE e <> '' GROUP BY e, k HAVING count(*) > 1 AND (${disagree})`;
  return `SELECT substr(${hmacSha256HexSql(key, 'e')}, 1, ${TOKEN_HEX_CHARS}) AS entity FROM (${doubtful})`;
}

/** Whether a source has an identifier beside a witness of it (else it tells nothing of shared keys). */
export function canShowDoubt(source: Pick<DoubtSource, 'identifiers' | 'witnesses'>): boolean {
  return source.identifiers.some((identifier) => source.witnesses.some((witness) => witnesses(witness.kind, identifier.kind)));
}

/** A resident ID does not witness resident IDs (a guardian's beside two children's), nor a passport passports. */
function witnesses(kind: WitnessKind, identifier: string): boolean {
  return kind !== identifier || (kind !== 'resident_id' && kind !== 'passport');
}

/**
 * How a witness column is read, as VARCHAR, compared with every column of its `kind`: `required`,
 * whose NULL is none (the row may be anyone's: it disagrees), and up to two `optional` readings,
 * whose NULL says nothing (a year and month say nothing of the day; most people have no passport).
 * Rows agree when each reading has one value over the rows that have one.
 */
interface Reading {
  kind: string;
  required?: SqlRule;
  optional: SqlRule[];
}

function readingOf(kind: WitnessKind, recordedOn: string): Reading {
  if (kind === 'birth_date') return birthDateReading(recordedOn);
  if (kind === 'passport') return { kind, optional: [documentWitness('document')] };
  return { kind, required: kind === 'resident_id' ? documentWitness(kind) : kind === 'gender' ? genderWitness : nameWitness, optional: [] };
}

/** A resident ID or passport number as a witness: normalized as its entity keys are, NULL when it is no key (`未登记`, a placeholder). */
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

/** 男/M/male/1 and 女/F/female/2 (GB/T 2261.1; a float's `1.0` too); anything else (未知, 0, 9) is none. */
const genderWitness: SqlRule = onText({
  prepare: (column) => `regexp_replace(lower(${trimSql(column)}), '^([0-9])[.]0+$', '\\1')`,
  finish: (gender) => `CASE WHEN ${gender} IN ('男', '男性', 'm', 'male', '1') THEN 'M' WHEN ${gender} IN ('女', '女性', 'f', 'female', '2') THEN 'F' END`,
});

/**
 * A name without spaces and dots (`阿依古丽·买买提`), lower case; none when it holds no letter, is one
 * character, says what the person is instead of who (`散客`, a walk-in; `王先生`) or is a placeholder.
 * SECURITY: twelve walk-ins all written `散客` agreed on their name (red-team pass 34a).
 */
const NAME_PLACEHOLDERS = ['无', '未知', '不详', '未登记', '匿名', '某某', '测试', '散客', '散户', '客户', '顾客', '现金', '临时', '个人', '本人', '代缴', '患者', '游客', '访客', '会员', '用户', '先生', '女士',
  'null', 'none', 'na', 'n/a', 'unknown', 'test', 'xxx', 'guest', 'customer', 'anonymous', 'cash', 'walkin', 'visitor', 'user'];
const nameWitness: SqlRule = onText({
  prepare: (column) => `lower(regexp_replace(${column}, '[\\s\\pZ\\pCf·•・.。]', '', 'g'))`,
  finish: (name) => `CASE WHEN length(${name}) > 1 AND regexp_matches(${name}, '[\\pL]') AND NOT regexp_matches(${name}, '先生|女士|小姐|师傅|老板|同志|客户|散客') AND ${name} NOT IN (${NAME_PLACEHOLDERS.map(sqlString).join(', ')}) THEN ${name} END`,
});

/**
 * A birth date read three ways: the year (required: a bare year, a year and month, a whole date),
 * the month (optional: year-month forms such as 1985-06, 198506, 1985年6月, and whole dates) and the
 * day (optional: whole dates only). One person's date written two ways is one date, and a year
 * and month agree with a whole date of that month. Read in the forms recognition knows and as Oracle writes dates (23-JUN-85, 23-Jun-1985; a two-digit year
 * after `recordedOn` is of the century before). None (NULL at every level): unreadable, or a form's
 * default for "unknown": 1 January (1985-01-01, 1985-01), 1970-01-01, a date before 1901 or after
 * the day the data was recorded (`recordedOn`, YYYY-MM-DD: fixed per dataset version, so that the
 * SQL, and the tables built with it, do not change from day to day). SECURITY: twelve walk-ins
 * under one clerk's mobile, all dated 1900-01-01 (pass 30a) or 9999-12-31 (pass 31a), agreed and
 * counted as one person.
 */
function birthDateReading(recordedOn: string): Reading {
  const last = `DATE ${sqlString(recordedOn)}`;
  const usable = (date: string) => `${date} >= DATE '1901-01-01' AND ${date} <= ${last}`;
  // Whole dates (`d`) and year-month forms (`m`, as the month's first day) as DATE, the text (`t`) for bare years.
  // The text folded once (a lambda over a one-element list), a float's zero fraction dropped (`1950.0`).
  const prepare = (column: string) => {
    const text = `regexp_replace(${foldDateTextSql(trimSql(`CAST(${column} AS VARCHAR)`))}, '^([0-9]+)[.]0+$', '\\1')`;
    return `list_transform([${text}], __b -> {t: __b, d: coalesce(${datePrefixSql('__b')}, ${oracleDateSql('__b', last)}), m: ${yearMonthSql('__b')}})[1]`;
  };
  const day = (p: string) => `CASE WHEN ${usable(`${p}['d']`)} AND ${p}['d'] <> DATE '1970-01-01' AND NOT (month(${p}['d']) = 1 AND day(${p}['d']) = 1) THEN ${p}['d'] END`;
  const month = (p: string) => `CASE WHEN ${p}['d'] IS NOT NULL THEN ${day(p)} WHEN ${usable(`${p}['m']`)} AND month(${p}['m']) <> 1 THEN ${p}['m'] END`;
  const bareYear = (p: string) => `CASE WHEN regexp_full_match(${p}['t'], '[1-9][0-9]{3}年?') AND left(${p}['t'], 4) BETWEEN '1901' AND ${sqlString(recordedOn.slice(0, 4))} THEN left(${p}['t'], 4) END`;
  return {
    kind: 'birth date',
    required: { prepare, finish: (p) => `CASE WHEN ${p}['d'] IS NOT NULL OR ${p}['m'] IS NOT NULL THEN CAST(year(${month(p)}) AS VARCHAR) ELSE ${bareYear(p)} END` },
    optional: [{ prepare, finish: (p) => `strftime(${month(p)}, '%Y-%m')` }, { prepare, finish: (p) => `CAST(${day(p)} AS VARCHAR)` }],
  };
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
  const form = YEAR_MONTH.source;
  return `(CASE WHEN regexp_matches(${text}, '${form}') THEN CAST(try_strptime(regexp_replace(${text}, '${form}', '\\1-\\2\\3'), '%Y-%m') AS DATE) END)`;
}
