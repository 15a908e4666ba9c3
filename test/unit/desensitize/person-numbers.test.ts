import { describe, expect, it } from 'vitest';
import { personNumberColumns } from '../../../desensitize/index.js';

const named = (...names: string[]) => personNumberColumns(names.map((name) => ({ name, piiKind: null }))).map((c) => c.name);

describe('personNumberColumns', () => {
  it('takes the numbers an organization keeps for one person, in Chinese, English, camelCase and pinyin', () => {
    const numbers = ['住院号', '患者住院号', '病历号', '病案号', '门诊号', '患者编号', '患者ID', '学号', '工号', '职工号', '会员卡号', '客户编号', '医保卡号', '参保人编号', '个人编号',
      'patient_id', 'PatientID', 'patientNo', 'mrn', 'MRN', 'medical_record_no', 'inpatient_no', 'outpatient_no', 'student_no', 'employee_id', 'staff_id', 'member_no', 'customer_id', 'client_id', 'user_id', 'person_id', 'zyh', 'blh'];
    expect(named(...numbers)).toEqual(numbers);
  });

  it('leaves out someone else\'s number, a visit\'s, an order\'s, a thing\'s, and columns recognition already knows', () => {
    expect(named('医生工号', '收费员工号', 'doctor_staff_id', 'nurse_employee_id', 'agent_user_id', '就诊号', '流水号', 'visit_no', 'order_id', 'product_id', 'district_id', 'id', 'row_no', 'patient_count')).toEqual([]);
    expect(personNumberColumns([{ name: 'patient_id', piiKind: 'resident_id' }])).toEqual([]);
  });
});
