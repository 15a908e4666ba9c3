import { headerWords, SOMEONE_ELSE, word } from './doubtful-keys.js';

/** Whose number a Chinese header names (a patient's, a member's, a card's holder's). */
const HOLDER = '住院|住院病历|病历|病案|门诊|就诊卡|诊疗卡|患者|病人|学生|学籍|考生|职工|员工|会员|会员卡|客户|用户|社保|社保卡|医保|医保卡|参保|参保人|人员|个人|居民|受助人|服务对象';
/** How a Chinese header says "number" (号, 号码, 编号, 编码, 卡号, 代码, ID). */
const NUMBER = '号码|号|编号|编码|卡号|代码|标识|id';
/** English and pinyin: whose, then which number (`patient_id`, `subject_no`, `emp_id`). */
const EN_HOLDER = 'patient|subject|participant|person|resident|member|customer|cust|client|user|student|pupil|employee|emp|staff|worker|insured|inpatient|outpatient|admission|medical_?record';
const EN_NUMBER = 'id|no|num|nbr|number|code|key';
/** Pinyin initials of the headers above (住院号 zyh, 病人ID brid, 个人编号 grbh, 就诊卡号 jzkh, …). */
const PINYIN = 'zyh|zyhm|blh|bah|mzh|jzkh|brid|brbh|hzid|hzbh|grbh|grid|rybh|khbh|khid|hybh|hyid|hykh|xsbh|xsid|xjh|ybkh|sbkh|yhid|yhbh|ygbh|gh';

/**
 * Numbers an organization gives one person and keeps for them (a hospital's 住院号 or 病历号, a
 * school's 学号, an employer's 工号, a member's or customer's number, a social insurance number),
 * by header: no format recognition knows, but each names the person a row is about. Numbers of a
 * visit, an order or a payment (就诊号 per visit, 流水号, order_id) are not here.
 */
const PERSON_NUMBER = new RegExp(`(?:${HOLDER})(?:${NUMBER})$|(?:学号|工号)$|${word(`(?:${EN_HOLDER})_?(?:${EN_NUMBER})|mrn|${PINYIN}`)}`);

/**
 * The columns whose header names a person's number (PERSON_NUMBER) and that recognition knows
 * nothing of, unless the header says the number is someone else's (a doctor's 工号, a clerk's staff
 * id: SOMEONE_ELSE). Ingest counts people on one when no column is declared (settleEntity), as it
 * would on a recognized identifier. SECURITY: inpatients known by their 住院号 alone, beside age,
 * gender, district and diagnosis, were no personal data: prod showed the one 97-year-old's diagnosis
 * (red-team pass 36a); so under `住院号码`, `就诊卡号`, `BRID`, `GRBH`, `subject_id`, `emp_id`,
 * `客户编码`, `学生编号`, which a first list lacked (pass 40b).
 */
export function personNumberColumns<C extends { name: string; piiKind: string | null }>(columns: readonly C[]): C[] {
  return columns.filter((c) => c.piiKind === null && PERSON_NUMBER.test(headerWords(c.name)) && !SOMEONE_ELSE.test(headerWords(c.name)));
}

/**
 * What every person has one of, by header: a gender (性别, 性別, 男女, sex, xb, xingbie), an age
 * (年龄, 年纪, 年歲, 岁, age, nl, nianling), a birth (出生, 生日, birth, dob, csrq).
 */
const TRAIT = new RegExp(`性别|性別|男女|年龄|年齡|年纪|年紀|年岁|年歲|岁|歲|出生|生日|birth|gender|xingbie|nianling|${word('sex|sexe|xb|age|nl|dob|born|csrq|csny|yob')}`);
/** A statistic of a group (`平均年龄`, `age_median`): no person's trait. */
const STATISTIC = new RegExp(`平均|中位|均值|${word('mean|avg|average|median')}`);
/**
 * A column of counts: a whole number under a header that is a count (人数, 例数, 人次, count, n, …, or
 * ends with one: 就诊人数, 病例数). SECURITY: a header that merely holds a count's word (`费用合计`, a
 * bill; `药品数量`, one patient's drugs) or a decimal (`total_fee`) made a ward a "table of counts"
 * that answered one patient's diagnosis (red-team pass 42a); so did `住院次数`, each inpatient's
 * admissions (43a): 次数 and 件数 say how often one person did something, no count of people.
 */
const COUNT_HEADER = new RegExp(`(?:人数|人口|人口数|户数|人次|例数|频数|频次|计数|总数)$|^(?:数量|合计|${['count', 'counts', 'cnt', 'population', 'pop', 'total', 'n', 'freq', 'frequency', 'cases', 'num', 'qty', 'number'].join('|')})$`);
const WHOLE_NUMBER = /^(?:U?(?:TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|DECIMAL\(\d+,\s*0\))$/i;
/** Rows a code table may hold (男, 女 and 未知 under their codes). Known limit: ten people whose every value differs read as one. */
const CODE_TABLE_ROWS = 10;

/** What rowsOfPeople reads of a column: its profile as ingest made it. */
export interface ProfiledColumn {
  name: string;
  type: string;
  piiKind: string | null;
  /** Its distinct values (an estimate). */
  distinct: number;
}

/**
 * Whether a dataset version reads as rows of people that no identifier counts: a column of what
 * every person has one of (a gender, an age, a birth), and no column of counts (a table of 人数 by
 * age and gender is not people; nor is a code table, 男 and 女 under their codes).
 * Such a version is personal data without an entity: prod answers over it are refused until a
 * version names the column its people are counted on, and its twin copies nothing counted in rows.
 * SECURITY: fail closed: a first rule that looked for a column of codes (text, 90% distinct, 50 rows
 * or more) let wards of numeric codes, of 49 patients, or of patients who came twice answer one
 * 97-year-old's diagnosis (red-team passes 40b, 41a).
 */
export function rowsOfPeople(columns: readonly ProfiledColumn[], rows: number): boolean {
  // A group's statistic is no trait: a table of people per county with its `平均年龄` was refused (43a).
  const trait = (c: ProfiledColumn) => TRAIT.test(headerWords(c.name)) && !STATISTIC.test(headerWords(c.name));
  const traits = columns.filter(trait);
  const isCount = (c: ProfiledColumn) => c.piiKind === null && WHOLE_NUMBER.test(c.type) && COUNT_HEADER.test(headerWords(c.name));
  // A table of counts is counted by groups: beside its counts, no column is nearly one per row but
  // the traits themselves (a table by single year of age); a ward's 编号 beside a visit's ordinal `n`
  // is rows (red-team pass 42a).
  const codes = columns.some((c) => !isCount(c) && !trait(c) && rows >= 20 && c.distinct >= 0.5 * rows);
  const counts = columns.some(isCount) && !codes;
  // A code table: a handful of rows, every column a key of it (each value once). 200 inpatients'
  // ages to the hundredth beside their diagnoses passed as one when two columns were enough (red-team
  // pass 42a); a code table of three columns was refused.
  const codeTable = rows <= CODE_TABLE_ROWS && columns.every((c) => c.distinct >= rows);
  return traits.length > 0 && !counts && !codeTable;
}
