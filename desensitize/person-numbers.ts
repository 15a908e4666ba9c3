import { headerWords, SOMEONE_ELSE, witnessKindOf, word } from './doubtful-keys.js';

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

/** An age by its header (`年龄`, `age`, `patient_age`, `age_group`; not `page` or `wage`). */
const AGE_HEADER = new RegExp(`年龄|岁数|${word('age')}`);

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
 * every person has one of (a gender, an age, a birth date by its header) beside a text column of
 * codes nearly one per row (90% distinct or more, 50 rows or more) that neither recognition nor a
 * person number's header knows. Such a dataset is personal data without an entity: prod answers
 * over it are refused until the supervisor names the column its people are counted on (a table of
 * counts by age and gender has no such codes, and answers freely). SECURITY: wards keyed by header
 * spellings no list can hold (`BRID`, `住院号码`, pass 40b) showed one 97-year-old's diagnosis.
 */
export function rowsOfPeople(columns: readonly ProfiledColumn[], rows: number): boolean {
  const trait = columns.some((c) => AGE_HEADER.test(headerWords(c.name)) || ['gender', 'birth_date'].includes(witnessKindOf({ name: c.name, type: c.type, piiKind: c.piiKind }) ?? ''));
  const codes = columns.some((c) => c.piiKind === null && /^VARCHAR$/i.test(c.type) && rows >= 50 && c.distinct >= 0.9 * rows);
  return trait && codes;
}
