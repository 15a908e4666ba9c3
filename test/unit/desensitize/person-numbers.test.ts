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

  it('reads rows of people no identifier counts: a gender, age or birth beside anything but a column of counts; not a table of counts, nor a code table', () => {
    const code = { name: '编号', type: 'BIGINT', piiKind: null, distinct: 49 };
    const column = (name: string, distinct = 2, type = 'VARCHAR') => ({ name, type, piiKind: null, distinct });
    for (const name of ['性别', '性別', 'gender', 'sexe', 'xb', '年龄', 'nl', '岁', 'patient_age', 'age_group', '出生日期', '出生年']) {
      expect(rowsOfPeople([code, column(name, 49), column('诊断', 3)], 49), name).toBe(true);
    }
    expect(rowsOfPeople([code, column('wage', 40), column('page_views', 40)], 49)).toBe(false);
    // Counts by district, gender and age band.
    expect(rowsOfPeople([column('性别'), column('年龄段', 10), column('人数', 200, 'BIGINT'), column('区县', 16)], 200)).toBe(false);
    // A code table of any width: 男 and 女 under their codes and English names; not 200 rows of ages to the hundredth.
    expect(rowsOfPeople([column('代码'), column('性别'), column('英文名称')], 2)).toBe(false);
    expect(rowsOfPeople([column('年龄', 200, 'DOUBLE'), column('诊断', 200)], 200)).toBe(true);
    // A table by single year of age counts; a count's word in one person's figures does not (red-team pass 42a).
    expect(rowsOfPeople([column('年龄', 101, 'INTEGER'), column('例数', 90, 'BIGINT')], 101)).toBe(false);
    for (const figure of [column('费用合计', 180, 'BIGINT'), column('total_fee', 180, 'DECIMAL(10,2)'), column('药品数量', 5, 'INTEGER')]) {
      expect(rowsOfPeople([column('年龄', 60), column('诊断', 3), figure], 200), figure.name).toBe(true);
    }
    // How often one person did something is no count of people; a group's mean age is no trait (red-team pass 43a).
    expect(rowsOfPeople([column('年龄', 60), column('区县'), column('诊断', 3), column('住院次数', 6, 'INTEGER')], 200)).toBe(true);
    expect(rowsOfPeople([column('区划代码', 100), column('区县', 100), column('人数', 100, 'BIGINT'), column('平均年龄', 100, 'DOUBLE')], 100)).toBe(false);
    // A visit's ordinal `n` beside a code one per row is no table of counts.
    expect(rowsOfPeople([code, column('年龄', 40), column('n', 3, 'INTEGER')], 49)).toBe(true);
  });
});
