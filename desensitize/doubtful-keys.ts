import { datePrefix, datePrefixSql, foldDateTextSql, foldIdentifier, trimSql, trimText } from './identifiers.js';
import { onText } from './policy.js';
import { identity, quoteIdentifier, sqlString, twoStepSelect, type SqlRule } from './sql.js';
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
 * and with the proof only in passports, in a column of landlines, in birth dates as year and month
 * (`csny` 1985-06) or as Oracle writes them (23-JUN-85), and a resident ID reused by people of other
 * names (33a); in names under headers the rules did not know, walk-ins all `散客` or `无名氏`, float
 * years, mostly unknown birth dates, passports beside a bank card (34a, 34b); one row beside a
 * mother's and a child's birth date (34c); birth times stored as epochs, names on few rows (34d).
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
  /** Its entity column, the row's own person's (sameRole), when it has one. */
  entity?: string | undefined;
}

export interface IdentifierColumn {
  column: string;
  /** Its recognized kind (`mobile`, `passport`, ...): a witness of the same kind witnesses nothing of it. */
  kind: string;
  normalization: TokenNormalization;
  /** A free-text column: the identifiers of the kind written in it (IN_TEXT), each judged as the row's. */
  inText?: boolean;
}

/**
 * Identifiers as free text holds them, between anything but digits: a mobile (with +86, spaces or
 * dashes) and a resident ID. SECURITY: a clerk's mobile only in a `备注` beside 12 walk-ins' birth
 * dates witnessed nothing (red-team pass 34d).
 */
const IN_TEXT: Partial<Record<string, string>> = {
  mobile: '(?:^|[^0-9])((?:\\+?86[- ]?)?1[3-9][0-9](?:[- ]?[0-9]){8})(?:[^0-9]|$)',
  // Spaces or dashes between its digits too (`440106 19850612 123X`, as recognition reads it: ten
  // mobiles beside such a note were ten people, red-team pass 40b); the key's own checks (a real
  // birth date, the check character) tell an ID from other numbers.
  // The first generation's 15 digits too (`440106850612123`, upgraded as the keys are: pass 41a).
  resident_id: '(?:^|[^0-9])([1-9](?:[- ]?[0-9]){16}[- ]?[0-9Xx]|[1-9](?:[- ]?[0-9]){14})(?:[^0-9Xx]|$)',
};

/**
 * A passport number in free text, after a passport's word in either script (`护照号E51234567`,
 * `護照號碼 E6…`, `passport no. GA123457`): up to two letters and 6 to 9 digits. Codes alone are too
 * many things.
 */
const PASSPORT_IN_TEXT = '(?i)(?:护照|護照|passport)[^0-9a-z]{0,12}(?:no[.]?|nr[.]?|number)?[^0-9a-z]{0,4}([a-z]{0,2}[0-9]{6,9})(?:[^0-9]|$)';
export const IN_TEXT_KINDS = Object.keys(IN_TEXT);

/** A source whose free-text identifiers are rows of their own: one derived source per such identifier, its values unnested. */
function expandTextIdentifiers(source: DoubtSource): DoubtSource[] {
  const inText = source.identifiers.filter((identifier) => identifier.inText && IN_TEXT[identifier.kind]);
  const column = '__doubt_in_text';
  return [
    { ...source, identifiers: source.identifiers.filter((identifier) => !identifier.inText) },
    ...inText.map((identifier) => ({
      ...source,
      from: `(SELECT *, unnest(regexp_extract_all(CAST(${quoteIdentifier(identifier.column)} AS VARCHAR), '${IN_TEXT[identifier.kind]}', 1)) AS ${column} FROM ${source.from})`,
      identifiers: [{ column, kind: identifier.kind, normalization: identifier.normalization }],
    })),
  ];
}

export type WitnessKind = 'birth_date' | 'resident_id' | 'passport' | 'gender' | 'name';

export interface WitnessColumn {
  column: string;
  kind: WitnessKind;
}

/** A column as witnessKindOf reads it: its recognized kind and what ingest profiled of it. */
export interface WitnessCandidate {
  name: string;
  type: string;
  piiKind: string | null;
  /** Profiled values (least, greatest, most frequent; none for recognized personal data). */
  values?: readonly (string | null)[];
  /** Its distinct values (an estimate). */
  distinct?: number;
  /** The distinct people on its rows with a value, when some rows have none. */
  valuedPeople?: number;
}

/**
 * What a column witnesses of its row's person, from its recognized kind, its header and what ingest
 * profiled of it, or undefined. A column wrongly taken for a witness makes keys keyless: fewer people
 * counted, the safe side; one missed lets several people count as one, so the rules lean to taking.
 * - A birth date: recognized, or under a birth date's header (`出生日期`, `csny`, `patient_dob`,
 *   `出生年份`): a year and month, an Oracle `23-JUN-85`, a float year, a column of mostly `不详`
 *   that recognition does not take for dates (red-team passes 33a, 34b). Under a header that only
 *   mentions birth, when some profiled value reads as a date and the header is not of a birth's
 *   place, weight, certificate or flag (a header alone took `cost_borne_by` of 本人/单位: pass 34a).
 * - A gender, by header.
 * - A name: recognized, or text under a name's header (`guest_name` of pinyin names, which
 *   recognition does not know: 34a, 34b), unless the header says it is someone else's (a doctor's,
 *   a counterparty's, a product's: they differ from row to row of one person; whole words, so that
 *   `住院患者姓名` is the patient's: 34b), or there are fewer than a fifth as many names as people
 *   with a name (`people`, or `valuedPeople`; 50 or more): items, doctors, shops.
 */
export function witnessKindOf(column: WitnessCandidate, people?: number): WitnessKind | undefined {
  const { type, piiKind } = column;
  const name = headerWords(column.name);
  if (piiKind === 'birth_date' || piiKind === 'resident_id' || piiKind === 'passport') return piiKind;
  if (piiKind === 'name' || (piiKind === null && /^VARCHAR$/i.test(type) && NAME_HEADER.test(name))) {
    // Against the people with a name: a list of 400 members with 32 names is not 32 names for 400 people (red-team pass 34d).
    const named = column.valuedPeople ?? people;
    const fewNames = named !== undefined && named >= 50 && column.distinct !== undefined && column.distinct < named / 5;
    return SOMEONE_ELSE.test(name) || fewNames ? undefined : 'name';
  }
  if (piiKind !== null || /^BOOLEAN$/i.test(type)) return undefined;
  if (BIRTH_DATE_HEADER.test(name)) return 'birth_date';
  if (MENTIONS_BIRTH.test(name) && !NOT_A_BIRTH_DATE.test(name) && (column.values ?? []).some(readsAsBirthDate)) return 'birth_date';
  return GENDER_HEADER.test(name) ? 'gender' : undefined;
}

/** A header as the word lists read it: camelCase split, in lower case. */
export function headerWords(header: string): string {
  return header.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
}

/** Words of a header, in lower case: bounded by anything but a letter (`patient_dob`, `dob`; not `dobby`). */
export const word = (words: string): string => `(?:^|[^a-z])(?:${words})(?:[^a-z]|$)`;
const BIRTH_DATE_HEADER = new RegExp(`(?:出生日期|出生年月日?|出生年份|出生时间|出生|生日|csrq|csny|${word('birth_?date|birth_?day|birth_?time|birth_?ts|date_?of_?birth|dob|birth_?year|birth_?month|yob')})$`);
const MENTIONS_BIRTH = new RegExp(`出生|生日|birth|${word('dob|born|bday|brth|chusheng|shengri')}`);
/** A birth's place, weight, certificate, order or flag is not its date. */
const NOT_A_BIRTH_DATE = new RegExp(`出生地|籍贯|地点|国籍|体重|身长|证明|证号|顺序|医院|编号|号码|是否|标志|礼券|状态|类型|${word('place|city|province|country|county|town|weight|cert|certificate|order|hospital|number|no|id|flag|verified|valid|check|gift|coupon|status|type')}`);
const GENDER_HEADER = /^(?:(?:患者|病人|客户|居民|申请人|本人|缴费人|参保人|patient|customer|client|resident|applicant|payer|insured|person)_?)?(?:性别|xb|gender|sex)(?:_?(?:code|cd|dm|代码))?$/;
/** A name by its header alone: one that ends like a person's name (a thing's is `名称`). */
const NAME_HEADER = /(?:姓名|名字|户名|^xm|xingming|name)$/;
/** Whose name it is, when not the row's person's (whole words: 住院患者姓名 is the patient's). */
export const SOMEONE_ELSE = new RegExp(`医生|医师|主治|接诊|护士|经办|操作员|收费员|录入|审核|负责人|教师|老师|代理人|经理|业务员|商品|产品|药品|品名|公司|企业|单位|机构|商户|店名|医院|学校|课程|项目|部门|科室|监护|父亲|母亲|配偶|家属|推荐人|品牌|对方|收款|收件|收货|受益|户主|紧急|诊断|疾病|${
  word('doctor|physician|nurse|clerk|operator|teacher|agent|manager|sales|product|item|goods|company|org|organization|merchant|shop|store|hospital|school|course|project|department|dept|guardian|parent|father|mother|spouse|relative|referrer|brand|payee|recipient|beneficiary|counterparty|counterpart|receiver|consignee|emergency|diagnosis|disease|drug|plan|category|file|street|road|village|city|district')}`);

/** Whether a profiled value reads as a birth date at some level (day, month or year), as birthDateReading reads it. */
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
  const judged = sources.flatMap(expandTextIdentifiers).filter(canShowDoubt);
  if (judged.length === 0) return undefined;
  const kinds = [...new Set(judged.flatMap((source) => source.witnesses.map((witness) => witness.kind)))];
  const plans = judged.map((source) => planSource(source, kinds));
  const doubtful = `WITH repeated AS MATERIALIZED (${repeatedSql(plans)})
SELECT e FROM (${plans.map(witnessStructsSql).join('\nUNION ALL\n')}) WHERE e <> '' GROUP BY e HAVING ${kinds.map((_, j) => disagreementSql(j)).join(' OR ')}`;
  return `SELECT ${keyedSql(key, 'e')} AS entity FROM (${doubtful})`;
}

/** A normalized identifier (SQL) as its entity key: keyed like the entity keys with `key`. */
function keyedSql(key: Buffer, normalized: string): string {
  return `substr(${hmacSha256HexSql(key, normalized)}, 1, ${TOKEN_HEX_CHARS})`;
}

/** A witness column of a source: `w<i>`, its column, its kind and how it is read. */
type Witnessed = DoubtSource['witnesses'][number] & { name: string; reading: Reading };

/** What a source contributes: its witnesses, its judged identifiers (`i<i>`) and the source with identifiers normalized. */
interface SourcePlan {
  witnessed: Witnessed[];
  /** Per identifier: the witnesses of each kind (in the order of `kinds`) and how many structs a row makes (the most of one kind). */
  identifiers: { name: string; ofKind: Witnessed[][]; structs: number }[];
  /** The identifiers normalized once (`i<i>`), beside the witness columns as they are (`c<k>`). */
  normalized: string;
}

function planSource(source: DoubtSource, kinds: readonly WitnessKind[]): SourcePlan {
  const witnessed = source.witnesses.map((witness, i) => ({ ...witness, name: `w${i}`, reading: readingOf(witness.kind, source.recordedOn) }));
  const identifiers = source.identifiers
    .map((identifier, i) => ({ name: `i${i}`, column: quoteIdentifier(identifier.column), rule: onText(tokenNormalization(identifier.normalization)), kind: identifier.kind }))
    .map((identifier) => ({ ...identifier, ofKind: kinds.map((kind) => witnessed.filter((witness) => witness.kind === kind && witnesses(kind, identifier.kind))) }))
    .map((identifier) => ({ ...identifier, structs: Math.max(...identifier.ofKind.map((columns) => columns.length)) }))
    .filter((identifier) => identifier.structs > 0);
  const normalized = `(${twoStepSelect([...identifiers, ...witnessed.map(({ column }, k) => ({ name: `c${k}`, column: quoteIdentifier(column), rule: AS_IT_IS }))], source.from)})`;
  return { witnessed, identifiers, normalized };
}

/**
 * The identifiers that may be judged on two rows or more (anywhere; a row counted once per struct
 * it makes, so that one row beside a mother's and a child's birth date is judged): the readings, the
 * costly part, are made for their rows only. SECURITY: a superset of what the judgment can make
 * doubtful, never less (a row counted once missed the mother's row: red-team pass 34c).
 */
function repeatedSql(plans: readonly SourcePlan[]): string {
  const counted = plans.map(({ identifiers, normalized }) => `SELECT unnest([${identifiers.flatMap((i) => Array<string>(i.structs).fill(i.name)).join(', ')}]) AS e FROM ${normalized}`);
  return `SELECT e FROM (${counted.join('\nUNION ALL\n')}) WHERE e <> '' GROUP BY e HAVING count(*) > 1`;
}

/** A witness kind's fields in every struct (`j`: its place in `kinds`): n (the row has one), w (its required reading, '' when it has none), a and b (its optional readings). */
const fields = (j: number) => [`n${j}`, `w${j}`, `a${j}`, `b${j}`];

/**
 * A source's rows whose identifier is repeated, as one struct per identifier of the row (and more
 * when it has two witness columns of a kind, a mother's and a child's birth date): the identifier
 * `e` and every kind's fields, NULL where it has no such witness.
 */
function witnessStructsSql({ witnessed, identifiers, normalized }: SourcePlan): string {
  const readings = witnessed.flatMap(({ name, reading }, k) => [reading.required, ...reading.optional]
    .flatMap((rule, j) => (rule ? [{ name: `${name}_${j}`, column: `c${k}`, rule }] : [])));
  const onRepeated = identifiers.map(({ name }) => `${name} IN (SELECT e FROM repeated)`).join(' OR ');
  const structs = identifiers.flatMap((identifier) => Array.from({ length: identifier.structs }, (_, s) => {
    const values = identifier.ofKind.flatMap((columns, j) => {
      const witness = columns[s];
      if (!witness) return fields(j).map((field) => `${field}: NULL::VARCHAR`);
      const [a, b] = witness.reading.optional.map((_, o) => `${witness.name}_${o + 1}`);
      return [`n${j}: ''`, `w${j}: ${witness.reading.required ? `${witness.name}_0` : "''"}`, `a${j}: ${a ?? 'NULL::VARCHAR'}`, `b${j}: ${b ?? 'NULL::VARCHAR'}`];
    });
    return `{e: ${identifier.name}, ${values.join(', ')}}`;
  }));
  const kept = identifiers.map(({ name }) => ({ name, column: name, rule: AS_IT_IS }));
  return `SELECT unnest([${structs.join(', ')}], recursive := true) FROM (${twoStepSelect([...kept, ...readings], `(SELECT * FROM ${normalized} WHERE ${onRepeated})`)})`;
}

/** Rows of one identifier disagree on kind `j` when two or more carry it and a required reading is missing on one, or any reading has two values. */
function disagreementSql(j: number): string {
  const [n, w, a, b] = fields(j);
  return `(count(${n}) > 1 AND (count(${w}) < count(${n}) OR min(${w}) <> max(${w}) OR min(${a}) <> max(${a}) OR min(${b}) <> max(${b})))`;
}

/**
 * The SQL of the entity keys to count as another key (columns `entity`, `person`, keyed like the
 * entity keys with `key`), or undefined when no source has a resident ID or passport beside another
 * identifier of people. One person under several identifiers of a kind (a resident's ten mobiles,
 * each beside the same resident ID) counted as ten people: a cell of that one person passed the
 * threshold and showed their total (red-team pass 35a). So an identifier written beside exactly one
 * resident ID (over every row of every source that shows both) is counted as that resident ID's
 * key; else, beside exactly one passport, as that passport's, or the passport's resident ID's when
 * it has one (a foreigner's ten mobiles, a mobile beside a passport beside a resident ID: pass 36a).
 * Only for a person with two identifiers or more merged (else counting them apart changes no count).
 * An identifier beside two resident IDs is shared, which the doubt judges (compileDoubtfulKeys);
 * publish never merges a doubtful key. Mobiles and documents written in free text are read as the
 * row's (expandTextIdentifiers, textDocuments): ten mobiles beside `未登记`, each row's note saying
 * `本人身份证…`, counted ten people (red-team pass 36a). A merge taken wrongly counts fewer people
 * (the safe side: a relative's `家属电话` in a note merges the relative into the patient, pass 40b).
 * Not read: a document under a role's header beside an identifier under no role's or another's
 * (sameRole: `医生身份证号` beside a patient's mobile, a doctor's patients are not the doctor),
 * enterprises' codes (an owner is not the firm).
 */
export function compileMergedKeys(sources: readonly DoubtSource[], key: Buffer): string | undefined {
  const pairs = sources.flatMap((source) => [...expandTextIdentifiers(source), ...textDocuments(source)]).flatMap((source) => {
    const others = source.identifiers.filter((identifier) => !identifier.inText && !NEVER_MERGED.has(identifier.kind));
    const documents = source.witnesses.filter((witness) => witness.kind === 'resident_id' || witness.kind === 'passport');
    const structs = others.flatMap((identifier, i) => documents.flatMap((document, d) => (witnesses(document.kind, identifier.kind) && sameRole(identifier, document.column, source.entity) ? [`{e: i${i}, t: d${d}, k: '${document.kind}'}`] : [])));
    if (structs.length === 0) return [];
    const normalized = twoStepSelect([
      ...others.map((identifier, i) => ({ name: `i${i}`, column: quoteIdentifier(identifier.column), rule: onText(tokenNormalization(identifier.normalization)) })),
      ...documents.map((document, d) => ({ name: `d${d}`, column: quoteIdentifier(document.column), rule: documentWitness(document.kind === 'passport' ? 'document' : 'resident_id') })),
    ], source.from);
    return [`SELECT unnest([${structs.join(', ')}], recursive := true) FROM (${normalized})`];
  });
  if (pairs.length === 0) return undefined;
  // Per identifier and document kind, the one document it is beside (none when two).
  return `WITH sole AS (
      SELECT e, k, min(t) AS t FROM (${pairs.join('\nUNION ALL\n')}) WHERE e <> '' AND t IS NOT NULL GROUP BY e, k HAVING min(t) = max(t)),
    ids AS (SELECT e, t FROM sole WHERE k = 'resident_id'),
    merged AS (
      SELECT e, t AS person FROM ids
      UNION ALL
      SELECT p.e, coalesce(i.t, p.t) FROM sole AS p LEFT JOIN ids AS i ON i.e = p.t WHERE p.k = 'passport' AND p.e NOT IN (SELECT e FROM ids))
  SELECT ${keyedSql(key, 'e')} AS entity, ${keyedSql(key, 'person')} AS person FROM merged WHERE person IN (SELECT person FROM merged GROUP BY person HAVING count(*) > 1)`;
}

/** Documents read in free text: resident IDs, and passport numbers after a passport's word (a foreigner's ten mobiles beside `护照号E…` in the note: pass 40b). */
const TEXT_DOCUMENTS = [{ kind: 'resident_id', pattern: IN_TEXT.resident_id! }, { kind: 'passport', pattern: PASSPORT_IN_TEXT }] as const;

/** Full-width digits, letters, spaces and dashes of `text` (SQL) as ASCII: notes typed with a Chinese input method (`本人身份证３２０１…`, pass 42a). */
function halfWidthSql(text: string): string {
  const full = Array.from({ length: 94 }, (_, i) => String.fromCharCode(0xff01 + i)).join('');
  const half = Array.from({ length: 94 }, (_, i) => String.fromCharCode(0x21 + i)).join('');
  return `translate(${text}, ${sqlString(`${full}\u3000`)}, ${sqlString(`${half} `)})`;
}

/**
 * A source's documents written in its free text as documents of the row (one derived source per
 * free-text column and kind, its documents unnested beside the source's identifiers), unless the
 * column's header says they are someone else's. Merging takes an identifier beside exactly one such
 * document: a note with two people's IDs merges nothing.
 */
function textDocuments(source: DoubtSource): DoubtSource[] {
  const column = '__merge_text_document';
  const notes = [...new Set(source.identifiers.filter((identifier) => identifier.inText).map((identifier) => identifier.column))]
    .filter((note) => roleOf(note) === undefined);
  return notes.flatMap((note) => TEXT_DOCUMENTS.map(({ kind, pattern }) => ({
    ...source,
    from: `(SELECT *, unnest(regexp_extract_all(${halfWidthSql(`CAST(${quoteIdentifier(note)} AS VARCHAR)`)}, '${pattern}', 1)) AS ${column} FROM ${source.from})`,
    identifiers: source.identifiers.filter((other) => !other.inText),
    witnesses: [{ column, kind }],
  })));
}

/**
 * Whether an identifier and a document are taken for one person's by their headers: the document
 * names no role (whatever role the identifier's header names: `医生手机` beside `身份证号` in a
 * register of doctors, `代理人手机` in a register of agents), or both name the same one (ROLES, in any
 * language: `doctor_mobile` beside `医生身份证号`), or the document is the version's entity column
 * (the row's own person, whatever role its header names) and the identifier names no role
 * (`手机号` beside `担保人身份证号` in a register of guarantors keyed by it, pass 43a). SECURITY: a
 * wrong merge counts fewer people (the safe side, a utility cost: an emergency contact's
 * `联系人手机` beside the patient's `身份证号` is merged into the patient, pass 40b); a missed one
 * counted one person's ten mobiles as ten people (red-team passes 39a, 41a, 42a, 43a, each time a
 * rule that held back a merge).
 */
function sameRole(identifier: Pick<IdentifierColumn, 'column'>, document: string, entity: string | undefined): boolean {
  const of = roleOf(document);
  const mine = roleOf(identifier.column);
  return of === undefined || of === mine || (document === entity && mine === undefined);
}

/**
 * The roles of someone acting for, beside or on the row's person, by header, each under one name
 * whatever the language. Narrower than SOMEONE_ELSE (names): a document missed here merges people
 * into one key (the safe side: fewer counted; a guarantor's ID beside 40 borrowers, pass 38a), while
 * one taken here wrongly merges nothing, and ten mobiles beside a payee's own `收款人身份证号` (or
 * `city_resident_id`) counted ten people (pass 38a).
 */
const ROLES: [string, RegExp][] = Object.entries({
  doctor: `医生|医师|主治|接诊|${word('doctor|physician')}`,
  nurse: `护士|${word('nurse')}`,
  clerk: `经办|经手|操作员|收费员|录入|审核|${word('clerk|operator|staff|employee_of_record')}`,
  agent: `代理|代办|委托|${word('agent|proxy')}`,
  guarantor: `担保|保证人|${word('guarantor|surety|sponsor')}`,
  // A bare `contact` is the row's person's own contact number (`contact_mobile`, pass 42a).
  contact: `联系人|紧急|${word('contact_?person|emergency')}`,
  guardian: `监护|${word('guardian')}`,
  representative: `法人|法定代表|负责人|${word('legal_?rep|representative')}`,
  referrer: `推荐人|介绍人|${word('referrer')}`,
  family: `配偶|父亲|母亲|家属|户主|${word('spouse|father|mother|parent|relative')}`,
  witness: `见证|${word('witness')}`,
}).map(([role, pattern]) => [role, new RegExp(pattern)]);

/** The role a header names (ROLES), or undefined. */
function roleOf(header: string): string | undefined {
  const words = headerWords(header);
  return ROLES.find(([, pattern]) => pattern.test(words))?.[0];
}

/** A resident ID is the key others merge into; an enterprise's code is no person's. */
const NEVER_MERGED = new Set(['resident_id', 'uscc']);

const AS_IT_IS: SqlRule = { prepare: identity, finish: identity };

/** Whether a source has an identifier beside a witness of it (else it tells nothing of shared keys). */
export function canShowDoubt(source: Pick<DoubtSource, 'identifiers' | 'witnesses'>): boolean {
  return source.identifiers.some((identifier) => source.witnesses.some((witness) => witnesses(witness.kind, identifier.kind)));
}

/** A resident ID does not witness resident IDs (a guardian's beside two children's), nor a passport passports. */
function witnesses(kind: WitnessKind, identifier: string): boolean {
  return kind !== identifier || (kind !== 'resident_id' && kind !== 'passport');
}

/**
 * How a witness column is read, as VARCHAR, compared with every column of its kind: `required`,
 * whose NULL is none (the row may be anyone's: it disagrees), and up to two `optional` readings,
 * whose NULL says nothing (a year and month say nothing of the day; most people have no passport).
 * Rows agree when each reading has one value over the rows that have one.
 */
interface Reading {
  required?: SqlRule;
  optional: SqlRule[];
}

function readingOf(kind: WitnessKind, recordedOn: string): Reading {
  if (kind === 'birth_date') return birthDateReading(recordedOn);
  if (kind === 'passport') return { optional: [documentWitness('document')] };
  return { required: kind === 'resident_id' ? documentWitness(kind) : kind === 'gender' ? genderWitness : nameWitness, optional: [] };
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
 * A name without spaces and dots (`阿依古丽·买买提`), lower case; none when it holds no letter, a
 * digit, or one character, says what the person is rather than who (`散客`, a walk-in; `王先生`,
 * `无名氏`, `临时客人`) or is a placeholder. SECURITY: twelve walk-ins all written `散客` (red-team pass
 * 34a), twelve unidentified patients all `无名氏` (34b), agreed on their name.
 */
const NAME_PLACEHOLDERS = ['无', '未知', '不详', '未登记', '某某', '测试', '本人', '代缴', '个人', 'null', 'none', 'na', 'n/a', 'unknown', 'test', 'xx', 'xxx', 'guest', 'customer', 'anonymous', 'cash', 'walkin', 'visitor', 'user'];
const WHAT_NOT_WHO = '先生|女士|小姐|师傅|老板|同志|客户|散客|散户|客人|顾客|匿名|无名|临时|零售|病人|患者|游客|访客|会员|用户|过路|现金';
const nameWitness: SqlRule = onText({
  prepare: (column) => `lower(regexp_replace(${column}, '[\\s\\pZ\\pCf·•・.。]', '', 'g'))`,
  finish: (name) => `CASE WHEN length(${name}) > 1 AND regexp_matches(${name}, '\\pL') AND NOT regexp_matches(${name}, '[0-9]|${WHAT_NOT_WHO}') AND ${name} NOT IN (${NAME_PLACEHOLDERS.map(sqlString).join(', ')}) THEN ${name} END`,
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
    return `list_transform([${text}], __b -> {t: __b, d: coalesce(${datePrefixSql('__b')}, ${oracleDateSql('__b', last)}, ${epochDateSql('__b')}), m: ${yearMonthSql('__b')}})[1]`;
  };
  const day = (p: string) => `CASE WHEN ${usable(`${p}['d']`)} AND ${p}['d'] <> DATE '1970-01-01' AND NOT (month(${p}['d']) = 1 AND day(${p}['d']) = 1) THEN ${p}['d'] END`;
  const month = (p: string) => `CASE WHEN ${p}['d'] IS NOT NULL THEN ${day(p)} WHEN ${usable(`${p}['m']`)} AND month(${p}['m']) <> 1 THEN ${p}['m'] END`;
  const bareYear = (p: string) => `CASE WHEN regexp_full_match(${p}['t'], '[1-9][0-9]{3}年?') AND left(${p}['t'], 4) BETWEEN '1901' AND ${sqlString(recordedOn.slice(0, 4))} THEN left(${p}['t'], 4) END`;
  return {
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

/**
 * A whole number of 9 to 11 digits as seconds, of 12 or 13 as milliseconds since 1970 (negative
 * before), as a DATE (UTC), or NULL: a birth time stored as an epoch (`birth_time` BIGINT; red-team
 * pass 34d). Eight digits are a yyyymmdd (datePrefixSql).
 */
function epochDateSql(text: string): string {
  const epochMs = `CAST(epoch_ms(CASE WHEN length(ltrim(${text}, '-')) <= 11 THEN TRY_CAST(${text} AS BIGINT) * 1000 ELSE TRY_CAST(${text} AS BIGINT) END) AS DATE)`;
  return `(CASE WHEN regexp_full_match(${text}, '-?[0-9]{9,13}') THEN ${epochMs} END)`;
}

/** A whole text of a year and a month (1985-06, 1985/6, 198506, 1985年6月) as the month's first day, or NULL. */
function yearMonthSql(text: string): string {
  const form = YEAR_MONTH.source;
  return `(CASE WHEN regexp_matches(${text}, '${form}') THEN CAST(try_strptime(regexp_replace(${text}, '${form}', '\\1-\\2\\3'), '%Y-%m') AS DATE) END)`;
}
