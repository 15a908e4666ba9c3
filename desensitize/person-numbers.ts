import { headerWords, SOMEONE_ELSE, word } from './doubtful-keys.js';

/**
 * Numbers an organization gives one person and keeps for them (a hospital's 住院号 or 病历号, a
 * school's 学号, an employer's 工号, a member's or customer's number, a social insurance number),
 * by header: no format recognition knows, but each names the person a row is about. Numbers of a
 * visit, an order or a payment (就诊号, 流水号, order_id) are not people's and are not here.
 */
const PERSON_NUMBER = new RegExp(`(?:住院号|住院病历号|病历号|病案号|门诊号|患者(?:编号|编码|号|id)|病人(?:编号|号|id)|学号|学籍号|工号|职工号|员工(?:编号|号)|会员(?:卡号|号|编号|id)|客户(?:号|编号|id)|用户(?:编号|id)|社保(?:卡)?号|医保(?:卡)?号|参保人?(?:编号|号)|人员编号|个人编号)$|${
  word('patient_?(?:id|no|num|number|code)|mrn|medical_?record_?(?:id|no|num|number)|(?:in|out)patient_?(?:id|no|num|number)|admission_?no|student_?(?:id|no|num|number)|employee_?(?:id|no|num|number)|staff_?(?:id|no)|emp_?no|member_?(?:id|no|num|number)|customer_?(?:id|no|num|number)|cust_?(?:id|no)|client_?(?:id|no)|user_?id|person_?id|insured_?(?:id|no)|zyh|blh|mzh')}`);

/**
 * The columns whose header names a person's number (PERSON_NUMBER) and that recognition knows
 * nothing of, unless the header says the number is someone else's (a doctor's 工号, a clerk's staff
 * id: SOMEONE_ELSE). Ingest counts people on one when no column is declared (settleEntity), as it
 * would on a recognized identifier. SECURITY: inpatients known by their 住院号 alone, beside age,
 * gender, district and diagnosis, were no personal data: prod showed the one 97-year-old's diagnosis
 * (red-team pass 36a).
 */
export function personNumberColumns<C extends { name: string; piiKind: string | null }>(columns: readonly C[]): C[] {
  return columns.filter((c) => c.piiKind === null && PERSON_NUMBER.test(headerWords(c.name)) && !SOMEONE_ELSE.test(headerWords(c.name)));
}
