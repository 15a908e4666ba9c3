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
 * What every person has one of, by header: a gender (性别, 性別, sex, sexe, xb), an age (年龄, 岁,
 * age, nl), a birth (出生, 生日, birth, dob, csrq).
 */
const TRAIT = new RegExp(`性别|性別|年龄|年齡|岁|出生|生日|${word('sex|sexe|gender|xb|age|nl|birth|dob|born|csrq|csny|yob')}`);
/** A column of counts, by header: what marks a table of counts by group (人数 by age and gender). */
const COUNT = new RegExp(`人数|人口|户数|人次|数量|频数|频次|计数|合计|总数|${word('count|counts|cnt|population|pop|total|n|freq|frequency|cases|number_of_\\w+')}`);

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
 * age and gender is not people; nor is a code table of two columns, 男 and 女 each once).
 * Such a version is personal data without an entity: prod answers over it are refused until a
 * version names the column its people are counted on, and its twin copies nothing counted in rows.
 * SECURITY: fail closed: a first rule that looked for a column of codes (text, 90% distinct, 50 rows
 * or more) let wards of numeric codes, of 49 patients, or of patients who came twice answer one
 * 97-year-old's diagnosis (red-team passes 40b, 41a).
 */
export function rowsOfPeople(columns: readonly ProfiledColumn[], rows: number): boolean {
  const traits = columns.filter((c) => TRAIT.test(headerWords(c.name)));
  const counts = columns.some((c) => c.piiKind === null && /INT|DECIMAL|DOUBLE|FLOAT|REAL/i.test(c.type) && COUNT.test(headerWords(c.name)));
  // A code table (男 and 女 under their codes, ages and their bands) has two columns, its trait once a row.
  const codeTable = columns.length <= 2 && traits.every((c) => c.distinct >= rows);
  return traits.length > 0 && !counts && !codeTable;
}
