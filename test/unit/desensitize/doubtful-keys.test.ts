import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compileDoubtfulKeys, compileMergedKeys, residentIdCheckChar, tokenize, usccCheckChar, witnessKindOf, type DoubtSource, type WitnessKind } from '../../../desensitize/index.js';
import { useMemoryConnection } from '../../helpers/memory-connection.js';

/**
 * compileDoubtfulKeys over small tables, against keys computed in TypeScript: which identifiers the
 * domain makes keyless (several people's for sure) and which it keeps (one person's as far as any
 * dataset shows: a person with two mobiles, a parent beside two children's rows).
 */
const duck = useMemoryConnection();
const key = randomBytes(32);
const id = (n: number) => {
  const first17 = `1101051988073${String(100 + n).padStart(4, '0')}`;
  return first17 + residentIdCheckChar(first17);
};
const uscc = (n: number) => {
  const first17 = `91110108MA0${String(n).padStart(2, '0')}RK5P`.padEnd(17, '7');
  return first17 + usccCheckChar(first17);
};
const mobile = (n: number) => `13957${String(318246 + n * 7919).padStart(6, '0')}`;
const values = (rows: (string | null)[][]) => rows.map((row) => `(${row.map((v) => (v === null ? 'NULL' : `'${v}'`)).join(', ')})`).join(', ');
const source = (from: string, identifiers: [string, DoubtSource['identifiers'][number]['normalization']][], witnesses: [string, WitnessKind][]): DoubtSource => ({
  from, identifiers: identifiers.map(([column, normalization]) => ({ column, kind: normalization === 'document' ? 'passport' : normalization, normalization })), witnesses: witnesses.map(([column, kind]) => ({ column, kind })), recordedOn: '2026-12-01',
});
const doubtfulOf = async (sources: DoubtSource[]) => new Set((await duck.connection.all<{ entity: string }>(compileDoubtfulKeys(sources, key)!)).map((r) => r.entity));

/**
 * compileMergedKeys: which identifiers count as the resident ID beside them (one person's several
 * mobiles), and which stay their own key.
 */
describe('compileMergedKeys', () => {
  it('counts a person\'s identifiers as their resident ID when it is beside two of them or more, over every source, and only then', async () => {
    const { connection } = duck;
    await connection.run(`CREATE TABLE m_pay AS SELECT * FROM (VALUES ${values([
      [mobile(21), id(21)], [mobile(22), id(21)], [mobile(22), id(21)], // one person, two mobiles
      [mobile(23), id(22)], [mobile(23), id(22)], // one mobile only: nothing to merge
      [mobile(24), id(23)], [mobile(24), id(24)], [mobile(25), id(23)], // a household's mobile beside two IDs: not merged
      [mobile(26), '未登记'], [mobile(27), '未登记'], // no resident ID: nothing to merge into
      [mobile(28), null],
    ])}) t(mobile, resident_id)`);
    // id(25)'s two mobiles, each beside it in another dataset.
    await connection.run(`CREATE TABLE m_card AS SELECT * FROM (VALUES ${values([[mobile(29), id(25)]])}) t(mobile, resident_id)`);
    await connection.run(`CREATE TABLE m_reg AS SELECT * FROM (VALUES ${values([[id(25), mobile(30)]])}) t(resident_id, mobile)`);
    const sql = compileMergedKeys([
      source('m_pay', [['mobile', 'mobile']], [['resident_id', 'resident_id']]),
      source('m_card', [['mobile', 'mobile']], [['resident_id', 'resident_id']]),
      source('m_reg', [['resident_id', 'resident_id'], ['mobile', 'mobile']], [['resident_id', 'resident_id']]),
    ], key)!;
    const merged = new Map((await connection.all<{ entity: string; person: string }>(sql)).map((r) => [r.entity, r.person]));
    const keyOf = (value: string, how: 'mobile' | 'resident_id') => tokenize(value, key, how)!;
    const personOf = (n: number) => merged.get(keyOf(mobile(n), 'mobile'));
    expect([21, 22].map(personOf)).toEqual([keyOf(id(21), 'resident_id'), keyOf(id(21), 'resident_id')]);
    expect([23, 24, 25, 26, 27, 28].map(personOf)).toEqual([undefined, undefined, undefined, undefined, undefined, undefined]);
    // Across datasets.
    expect([29, 30].map(personOf)).toEqual([keyOf(id(25), 'resident_id'), keyOf(id(25), 'resident_id')]);
    expect(merged.size).toBe(4);
  });

  it('merges into a passport when no resident ID is beside the identifier, and into the resident ID a passport is beside; never into a document under someone else\'s header', async () => {
    const { connection } = duck;
    const passport = (n: number) => `E${String(48213579 + n * 7919).slice(-8)}`;
    await connection.run(`CREATE TABLE p_pay AS SELECT * FROM (VALUES ${values([
      [mobile(41), passport(1), null], [mobile(42), passport(1), null], // a foreigner's two mobiles
      [mobile(43), passport(2), null], [mobile(44), passport(2), null], // two mobiles beside a passport ...
      [mobile(45), null, id(41)], [mobile(46), null, id(41)], // a patient's mobiles beside the doctor's ID
    ])}) t(mobile, passport_no, doctor_id)`);
    await connection.run(`CREATE TABLE p_reg AS SELECT * FROM (VALUES ${values([[id(42), passport(2)]])}) t(resident_id, passport_no)`);
    const sql = compileMergedKeys([
      source('p_pay', [['mobile', 'mobile']], [['passport_no', 'passport'], ['doctor_id', 'resident_id']]),
      { ...source('p_reg', [['resident_id', 'resident_id']], [['resident_id', 'resident_id']]), identifiers: [{ column: 'passport_no', kind: 'passport', normalization: 'document' }] },
    ], key)!;
    const merged = new Map((await connection.all<{ entity: string; person: string }>(sql)).map((r) => [r.entity, r.person]));
    const keyOf = (value: string, how: 'mobile' | 'resident_id' | 'document') => tokenize(value, key, how)!;
    const personOf = (n: number) => merged.get(keyOf(mobile(n), 'mobile'));
    expect([41, 42].map(personOf)).toEqual([keyOf(passport(1), 'document'), keyOf(passport(1), 'document')]);
    // ... which p_reg ties to id(42): the mobiles and the passport count as id(42).
    expect([43, 44].map(personOf)).toEqual([keyOf(id(42), 'resident_id'), keyOf(id(42), 'resident_id')]);
    expect(merged.get(keyOf(passport(2), 'document'))).toBe(keyOf(id(42), 'resident_id'));
    expect([45, 46].map(personOf)).toEqual([undefined, undefined]);
  });

  it('merges into a document under a role\'s header the identifiers under the same role\'s header (a register of doctors: 医师手机 beside 医师身份证号, red-team pass 39a)', async () => {
    const { connection } = duck;
    await connection.run(`CREATE TABLE p_doctors AS SELECT * FROM (VALUES ${values([[mobile(51), mobile(61), id(51)], [mobile(52), mobile(62), id(51)]])}) t(医师手机, patient_mobile, 医师身份证号)`);
    const sql = compileMergedKeys([source('p_doctors', [['医师手机', 'mobile'], ['patient_mobile', 'mobile']], [['医师身份证号', 'resident_id']])], key)!;
    const merged = new Map((await connection.all<{ entity: string; person: string }>(sql)).map((r) => [r.entity, r.person]));
    const doctor = tokenize(id(51), key, 'resident_id');
    expect([51, 52].map((n) => merged.get(tokenize(mobile(n), key, 'mobile')!))).toEqual([doctor, doctor]);
    expect([61, 62].map((n) => merged.get(tokenize(mobile(n), key, 'mobile')!))).toEqual([undefined, undefined]);
  });

  it('has nothing to merge without a resident ID beside another identifier of people', () => {
    expect(compileMergedKeys([source('reg', [['resident_id', 'resident_id']], [['resident_id', 'resident_id']])], key)).toBeUndefined();
    expect(compileMergedKeys([source('pay', [['mobile', 'mobile']], [['birth_date', 'birth_date']])], key)).toBeUndefined();
    expect(compileMergedKeys([source('firm', [['uscc', 'uscc']], [['legal_rep_id', 'resident_id']])], key)).toBeUndefined();
  });
});

describe('compileDoubtfulKeys', () => {
  it('makes keyless an identifier whose rows disagree on a birth date or a resident ID, in any of its columns and datasets, and only those', async () => {
    const { connection } = duck;
    // Payments keyed by mobile with the payer's birth date.
    await connection.run(`CREATE TABLE pay AS SELECT * FROM (VALUES ${values([
      [mobile(1), '1980-05-06'], [mobile(1), '1980-05-06'], // one person, two payments
      [mobile(2), '1980-05-06'], [mobile(2), '1991-02-03'], // two birth dates: shared
      [mobile(3), '1980-05-06'], [mobile(3), null], // one missing: may be anyone's
      [mobile(4), '1980-05-06'], // one row here, another date in `card`
      [mobile(5), '1985-07-08'], // one row here, the same date in `card`
      [mobile(6), '9999-12-31'], [mobile(6), '9999-12-31'], // a form's default: no birth date
    ])}) t(mobile, birth_date)`);
    await connection.run(`CREATE TABLE card AS SELECT * FROM (VALUES ${values([[mobile(4), '1962-01-09'], [mobile(5), '1985-07-08']])}) t(mobile, birth_date)`);
    // Registrations keyed by resident ID with the person's mobile (a mobile is one person's beside one ID).
    await connection.run(`CREATE TABLE reg AS SELECT * FROM (VALUES ${values([
      [id(1), mobile(11)], [id(1), mobile(12)], // one person with two mobiles
      [id(2), mobile(13)], [id(3), mobile(13)], // a household's mobile
      [id(4), mobile(14)], ['未登记', mobile(14)], // beside an ID and a row without one
      [id(5), `+86 ${mobile(15).slice(0, 3)}-${mobile(15).slice(3)}`], [id(6), mobile(15)], // one mobile written two ways beside two IDs
    ])}) t(resident_id, mobile)`);
    // Enterprises keyed by credit code with the legal representative's ID.
    await connection.run(`CREATE TABLE firm AS SELECT * FROM (VALUES ${values([[uscc(1), id(7)], [uscc(1), id(7)], [uscc(2), id(8)], [uscc(2), id(9)]])}) t(uscc, legal_rep_id)`);
    const sql = compileDoubtfulKeys([
      source('pay', [['mobile', 'mobile']], [['birth_date', 'birth_date']]),
      source('card', [['mobile', 'mobile']], [['birth_date', 'birth_date']]),
      source('reg', [['resident_id', 'resident_id'], ['mobile', 'mobile']], [['resident_id', 'resident_id']]),
      source('firm', [['uscc', 'uscc']], [['legal_rep_id', 'resident_id']]),
    ], key)!;
    const doubtful = new Set((await connection.all<{ entity: string }>(sql)).map((r) => r.entity));
    const keyOf = (value: string, how: 'mobile' | 'resident_id' | 'uscc') => tokenize(value, key, how)!;
    expect([1, 2, 3, 4, 5, 6].map((n) => doubtful.has(keyOf(mobile(n), 'mobile')))).toEqual([false, true, true, true, false, true]);
    expect([11, 12, 13, 14, 15].map((n) => doubtful.has(keyOf(mobile(n), 'mobile')))).toEqual([false, false, true, true, true]);
    // Resident IDs are not witnessed by other people's IDs: a person beside a household's mobile stays a person.
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9].some((n) => doubtful.has(keyOf(id(n), 'resident_id')))).toBe(false);
    expect([1, 2].map((n) => doubtful.has(keyOf(uscc(n), 'uscc')))).toEqual([false, true]);
    expect(doubtful.size).toBe(8);
  });

  it('has nothing to judge without a witness beside an identifier', () => {
    expect(compileDoubtfulKeys([source('reg', [['resident_id', 'resident_id']], [['resident_id', 'resident_id']])], key)).toBeUndefined();
    expect(compileDoubtfulKeys([source('visa', [['passport', 'document']], [['passport', 'passport']])], key)).toBeUndefined();
    expect(compileDoubtfulKeys([], key)).toBeUndefined();
  });

  it('reads a birth date to the day, the month and the year, in year-month, Oracle and bare-year forms (red-team pass 33a)', async () => {
    // One mobile per case, two rows each: whether the rows may be one person's.
    const cases: [string, string, boolean][] = [
      ['1985-06-23', '1985-06-23', false],
      ['1985-06', '1985-06-23', false], // a year and month agree with a day of that month
      ['1985年6月', '198506', false],
      ['1985-06', '1985-07', true],
      ['23-JUN-85', '1985-06-23', false], // Oracle's form
      ['23-Jun-1985', '24-JUN-85', true],
      ['12-MAR-50', '1950-03-12', false], // a two-digit year after the record is of the century before
      ['1985', '1985-06-23', false],
      ['1985', '1986', true],
      ['1985-01', '1985-01', true], // January of a year and month is a form's default: none
      ['1985-01-01', '1985-01-01', true],
      ['06/1985', '1985-06-23', true], // unreadable: none
      ['１９８５-０６-２３', '1985-06-23', false], // full-width digits
      ['一九八五年六月二十三日', '1985-06-23', false], // Chinese numerals
      ['一九八五年十二月', '1985-12-05', false],
      ['1985.0', '1985-06-23', false], // a float's year
      ['19850623.0', '1985-06-24', true],
      ['487987200', '487987200000', false], // epoch seconds and milliseconds (1985-06-19, UTC)
      ['487987200', '1985-06-19', false],
      ['487987200000', '1985-06-20', true],
    ];
    await duck.connection.run(`CREATE TABLE born AS SELECT * FROM (VALUES ${values(cases.flatMap(([a, b], n) => [[mobile(n), a], [mobile(n), b]]))}) t(mobile, csny)`);
    const doubtful = await doubtfulOf([source('born', [['mobile', 'mobile']], [['csny', 'birth_date']])]);
    expect(cases.map((_, n) => doubtful.has(tokenize(mobile(n), key, 'mobile')!))).toEqual(cases.map(([, , shared]) => shared));
  });

  it('takes passports, genders and names as witnesses: a resident ID reused by people of other names is doubtful (red-team pass 33a)', async () => {
    await duck.connection.run(`CREATE TABLE visits AS SELECT * FROM (VALUES ${values([
      [id(1), '张三', '男', 'E39582716'], [id(1), '张 三', 'M', 'E39582716'], // one person written two ways
      [id(2), '张三', '男', null], [id(2), '李四', '男', null], // two names under one ID
      [id(3), '王五', '男', null], [id(3), '王五', '女', null], // two genders
      [id(4), '赵六', '未知', null], [id(4), '赵六', '男', null], // a gender that is none
    ])}) t(resident_id, name, gender, passport)`);
    await duck.connection.run(`CREATE TABLE travel AS SELECT * FROM (VALUES ${values([
      [mobile(1), 'E39582716'], [mobile(1), 'E39582716'],
      [mobile(2), 'E39582716'], [mobile(2), 'G70419385'], // a mobile beside two passports
    ])}) t(mobile, passport)`);
    // A bank card beside two passports; walk-ins written as what they are (散客, 王先生), not who.
    await duck.connection.run(`CREATE TABLE pos AS SELECT * FROM (VALUES ${values([
      ['6222020200112233445', 'E39582716', '张三'], ['6222020200112233445', 'G70419385', '张三'],
      ['6222020200198765432', null, '散客'], ['6222020200198765432', null, '散客'],
      ['6222020200155554444', null, '王先生'], ['6222020200155554444', null, '王先生'],
      ['6222020200177778888', null, '李四'], ['6222020200177778888', null, '李 四'],
      ['6222020200133336666', null, '无名氏'], ['6222020200133336666', null, '无名氏'],
      ['6222020200122229999', null, '散客01'], ['6222020200122229999', null, '散客01'],
    ])}) t(card_no, passport, name)`);
    const doubtful = await doubtfulOf([
      source('visits', [['resident_id', 'resident_id']], [['name', 'name'], ['gender', 'gender'], ['passport', 'passport']]),
      source('travel', [['mobile', 'mobile']], [['passport', 'passport']]),
      { ...source('pos', [], [['passport', 'passport'], ['name', 'name']]), identifiers: [{ column: 'card_no', kind: 'bank_card', normalization: 'document' }] },
    ]);
    expect(['6222020200112233445', '6222020200198765432', '6222020200155554444', '6222020200177778888', '6222020200133336666', '6222020200122229999']
      .map((card) => doubtful.has(tokenize(card, key, 'document')!))).toEqual([true, true, true, false, true, true]);
    expect([1, 2, 3, 4].map((n) => doubtful.has(tokenize(id(n), key, 'resident_id')!))).toEqual([false, true, true, true]);
    expect([1, 2].map((n) => doubtful.has(tokenize(mobile(n), key, 'mobile')!))).toEqual([false, true]);
  });

  it('judges the mobiles and resident IDs free text holds, each as its row\'s (red-team pass 34d)', async () => {
    await duck.connection.run(`CREATE TABLE memo AS SELECT * FROM (VALUES ${values([
      [`散客代缴，经办人电话 +86 ${mobile(7).slice(0, 3)}-${mobile(7).slice(3, 7)}-${mobile(7).slice(7)}`, '1952-02-03'], [`代缴 ${mobile(7)}。`, '1960-05-06'], // one mobile beside two birth dates
      [`本人 ${mobile(8)}`, '1971-03-04'], [`复诊，电话${mobile(8)}，身份证${id(9)}`, '1971-03-04'], // one person twice
      [`身份证 ${id(9)}`, '1980-08-09'], // beside another birth date: the ID is shared
    ])}) t(note, birth_date)`);
    const doubtful = await doubtfulOf([{ ...source('memo', [], [['birth_date', 'birth_date']]), identifiers: [
      { column: 'note', kind: 'mobile', normalization: 'mobile', inText: true }, { column: 'note', kind: 'resident_id', normalization: 'resident_id', inText: true },
    ] }]);
    expect([doubtful.has(tokenize(mobile(7), key, 'mobile')!), doubtful.has(tokenize(mobile(8), key, 'mobile')!), doubtful.has(tokenize(id(9), key, 'resident_id')!)]).toEqual([true, false, true]);
  });

  it('knows witnesses by recognized kind, header and profiled values: the row\'s person\'s, not a birthplace, a weight, a flag, a doctor\'s or an item\'s (red-team passes 33a, 34a, 34b)', () => {
    const kindOf = (name: string, piiKind: string | null = null, type = 'VARCHAR', values: string[] = [], distinct?: number, people?: number) =>
      witnessKindOf({ name, type, piiKind, values, ...(distinct === undefined ? {} : { distinct }) }, people);
    const dates = ['1985-06', '1990-11'];
    // A birth date's header is enough (values of mostly 不详 included); a header that only mentions birth needs values that read as dates.
    expect([kindOf('dob', 'birth_date'), kindOf('csny'), kindOf('出生日期', null, 'VARCHAR', ['-', '不详', '未知']), kindOf('住院患者出生年月'), kindOf('birth_year', null, 'BIGINT'), kindOf('birth_time', null, 'BIGINT'),
      kindOf('出生年份', null, 'DOUBLE'), kindOf('patientDob'), kindOf('birth_info', null, 'VARCHAR', ['23-JUN-85']), kindOf('出生信息', null, 'VARCHAR', ['１９８５-０６-２３'])])
      .toEqual(['birth_date', 'birth_date', 'birth_date', 'birth_date', 'birth_date', 'birth_date', 'birth_date', 'birth_date', 'birth_date', 'birth_date']);
    expect([kindOf('birth_info'), kindOf('cost_borne_by', null, 'VARCHAR', dates), kindOf('birth_place', null, 'VARCHAR', dates), kindOf('出生地', null, 'VARCHAR', dates),
      kindOf('birth_weight', null, 'DOUBLE', ['3.2']), kindOf('出生证编号', null, 'VARCHAR', dates), kindOf('dob_verified', null, 'VARCHAR', dates), kindOf('newborn_flag', null, 'VARCHAR', dates), kindOf('生日礼券', null, 'VARCHAR', dates)])
      .toEqual([undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined]);
    expect([kindOf('xm', 'name'), kindOf('patient_name', 'name'), kindOf('缴费人', 'name'), kindOf('联系人', 'name'), kindOf('住院患者姓名', 'name'), kindOf('银行卡户名', 'name'), kindOf('name'), kindOf('姓名'), kindOf('guest_name'), kindOf('name', 'name', 'VARCHAR', [], 140, 150)])
      .toEqual(['name', 'name', 'name', 'name', 'name', 'name', 'name', 'name', 'name', 'name']);
    expect([kindOf('doctor_name', 'name'), kindOf('product_name', 'name'), kindOf('经办人', 'name'), kindOf('监护人姓名', 'name'), kindOf('对方户名', 'name'), kindOf('收款人姓名', 'name'),
      kindOf('diagnosis_name'), kindOf('单位名称'), kindOf('name', null, 'BIGINT'), kindOf('name', 'name', 'VARCHAR', [], 12, 150)])
      .toEqual([undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined]);
    // Few names against the people who have one: 32 names on a list of 400 members, 32 of them named.
    expect([witnessKindOf({ name: 'name', type: 'VARCHAR', piiKind: 'name', distinct: 32, valuedPeople: 32 }, 400), witnessKindOf({ name: 'name', type: 'VARCHAR', piiKind: 'name', distinct: 32 }, 400)])
      .toEqual(['name', undefined]);
    expect([kindOf('xb'), kindOf('性别'), kindOf('gender_code'), kindOf('doctor_sex'), kindOf('sfzh', 'resident_id'), kindOf('hzhm', 'passport'), kindOf('mobile', 'mobile')])
      .toEqual(['gender', 'gender', 'gender', undefined, 'resident_id', 'passport', undefined]);
  });
});
