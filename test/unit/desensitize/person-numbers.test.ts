import { describe, expect, it } from 'vitest';
import { personNumberColumns, rowsOfPeople } from '../../../desensitize/index.js';

const named = (...names: string[]) => personNumberColumns(names.map((name) => ({ name, piiKind: null }))).map((c) => c.name);

describe('personNumberColumns', () => {
  it('takes the numbers an organization keeps for one person, in Chinese, English, camelCase and pinyin', () => {
    const numbers = ['住院号', '患者住院号', '病历号', '病案号', '门诊号', '患者编号', '患者ID', '学号', '工号', '职工号', '会员卡号', '客户编号', '医保卡号', '参保人编号', '个人编号',
      'patient_id', 'PatientID', 'patientNo', 'mrn', 'MRN', 'medical_record_no', 'inpatient_no', 'outpatient_no', 'student_no', 'employee_id', 'staff_id', 'member_no', 'customer_id', 'client_id', 'user_id', 'person_id', 'zyh', 'blh',
      // Red-team pass 40b: spellings a first list lacked.
      '住院号码', '就诊卡号', 'BRID', 'GRBH', 'subject_id', 'emp_id', '客户编码', '学生编号'];
    expect(named(...numbers)).toEqual(numbers);
  });

  it('leaves out someone else\'s number, a visit\'s, an order\'s, a thing\'s, and columns recognition already knows', () => {
    expect(named('医生工号', '收费员工号', 'doctor_staff_id', 'nurse_employee_id', 'agent_user_id', '就诊号', '流水号', 'visit_no', 'order_id', 'product_id', 'district_id', 'id', 'row_no', 'patient_count')).toEqual([]);
    expect(personNumberColumns([{ name: 'patient_id', piiKind: 'resident_id' }])).toEqual([]);
  });

  it('reads rows of people no identifier counts: a gender, age or birth date beside text codes nearly one per row; not a table of counts', () => {
    const code = { name: '编号', type: 'VARCHAR', piiKind: null, distinct: 195 };
    const trait = (name: string) => ({ name, type: 'VARCHAR', piiKind: null, distinct: 2 });
    for (const name of ['性别', 'gender', '年龄', 'patient_age', 'age_group', '出生日期']) expect(rowsOfPeople([code, trait(name)], 200), name).toBe(true);
    expect(rowsOfPeople([code, trait('wage'), trait('page_views')], 200)).toBe(false);
    // Counts by district, gender and age band: no column of codes.
    expect(rowsOfPeople([trait('性别'), trait('年龄段'), { name: '人数', type: 'BIGINT', piiKind: null, distinct: 200 }, { name: '区县', type: 'VARCHAR', piiKind: null, distinct: 16 }], 200)).toBe(false);
    // Too few rows to tell, or codes that repeat.
    expect(rowsOfPeople([{ ...code, distinct: 30 }, trait('性别')], 30)).toBe(false);
    expect(rowsOfPeople([{ ...code, distinct: 100 }, trait('性别')], 200)).toBe(false);
  });
});
