/**
 * Red-team pass 42a: the fixes of passes 41a/41b (commits 205a8f9, 442c93e) attacked again over
 * HTTP, as operators of `rt42a-org`:
 * 1. rows of people without an entity (rowsOfPeople, desensitize/person-numbers.ts; isPersonalVersion,
 *    tenants/catalog-service.ts): the ward of 41a with its trait under a header TRAIT does not read
 *    (年纪, 年歲, 男女, xingbie, nianling, birthyear), or beside a number whose header COUNT reads as a
 *    count but which is one person's figure (a bill's 费用合计 or total_fee, a visit's ordinal `n`, a
 *    prescription's 药品数量); the trait hidden by policy or left out of a narrowed grant;
 * 2. the opposite (utility): real tables of counts, or code tables, refused as rows of people;
 * 3. merged keys (compileMergedKeys, textDocuments, sameRole; desensitize/doubtful-keys.ts): a
 *    resident ID in a note written as recognition reads it but the merge's finder does not
 *    (full-width digits, grouped by ideographic spaces), one ID written twice (15 and 18 digits); a
 *    register whose ID is the row's person's and whose mobile's header names a role (`contact_mobile`,
 *    a customer's own "contact number"; `代理人手机` in a register of agents), whose mobiles are the
 *    keys of another dataset.
 * Each question is asked of a person the operator can single out (the one 北区 inpatient, the one
 * person of a district); SAFE means the operator sees the same whatever that person's value, i.e. the
 * probe is refused or withheld (counted, one bit at most). `was a hole` tests assert the SAFE outcome
 * and failed when written (the comment says what was seen, which file:line let it through, what SAFE
 * means and a fix); `(utility)` ones assert the useful outcome that the product refused; `STOPPED:`
 * tests hold now and fail if the defence breaks; `control:` tests show the method reads the truth.
 *
 * Setup (test/helpers/crafted-domain.ts: every dataset ingested through the trusted pipeline and
 * granted, personal columns plain with a reason; the truth computed from the generating SQL in an
 * in-memory DuckDB):
 * - `rt42a_w_<variant>`: wards of 200 inpatients by a VARCHAR code under `编号`, one trait, 区县 and
 *   诊断, some with one more number; inpatient 7 alone lives in 北区 (97 years old, born 1928) and has HIV.
 *   `rt42a_w_ages2`: the same 200 inpatients in two columns, 年龄 (years to the hundredth) and 诊断.
 * - `rt42a_c_*`: counts by 区县, 性别 and 年龄段 (人数 or 例数); code tables of 性别 (two or three columns).
 * - `rt42a_notes` (entity mobile, 身份证号, 备注): 150 payers, and people with ten mobiles beside
 *   `未登记`, alone in a district, their ID in the note in several spellings.
 * - `rt42a_reg_<v>` (entity 身份证号) and `rt42a_pay_<v>` (entity mobile): C's ten mobiles beside C's one
 *   ID in the register, and C alone in 五区 in the payments keyed by those mobiles.
 *
 * Looked at and found holding (no test beyond the STOPPED ones): `性别代码`, `gender_cd`, `age_yrs`,
 * `年龄(岁)`, `csny` are read by TRAIT (rowsOfPeople called on them); a trait hidden by policy or left
 * out of the grant still makes the dataset personal (isPersonalVersion reads every column). The twin's
 * rows-per-key cap across a decade (the 10th-heaviest person's count rounded down, or itself below 10)
 * moves only with the 10th person, a figure reached by ten people: no test. The key plan's order
 * flipping between versions re-lays a twin that a new version's seed re-lays anyway: no test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mobileSql, residentIdCheckChar, residentIdSql } from '../../desensitize/index.js';
import { craftedDomain } from '../helpers/crafted-domain.js';
import { expectStatus } from '../helpers/expect-status.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import { prodAsker } from '../helpers/prod-answer.js';
import { licenseAround, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const ORG = 'rt42a-org';
const LAB = { id: 'rt42a-lab', name: 'Red team 42a lab' };
const PURPOSE = 'red team 42a';
/** The rare diagnosis, as a HIS writes diagnoses: an ICD-10 code and its name. */
const RARE = 'B24 HIV';

/** A resident ID of 18 characters from its first 17 digits. */
const residentId = (first17: string) => `${first17}${residentIdCheckChar(first17)}`;
/** Resident IDs of people born 1950–1990. */
const ID = (i: string, seed: number) => residentIdSql(i, seed, { from: 1950, to: 1990 });
/** Digits and X in their full-width forms (as a Chinese IME in full-width mode types them). */
const fullWidth = (s: string) => s.replace(/[0-9X]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));

// ---------------------------------------------------------------------------------------------
// 1. Wards: inpatient 7 alone lives in 北区 (97 years old, born 1928) and has HIV.
// ---------------------------------------------------------------------------------------------
interface Ward {
  /** The trait's header and what it holds. */
  trait: string;
  holds: 'age' | 'gender' | 'birth_year';
  /** One more number, each row's own (a bill, an ordinal, a quantity). */
  extra?: { header: string; sql: string };
}
const BILL = 'CAST(300 + (p * 53) % 900 AS DECIMAL(10,2))';
const WARDS = {
  control: { trait: '年龄', holds: 'age' },
  nianji: { trait: '年纪', holds: 'age' },
  niansui: { trait: '年歲', holds: 'age' },
  nianling: { trait: 'nianling', holds: 'age' },
  nannv: { trait: '男女', holds: 'gender' },
  xingbie: { trait: 'xingbie', holds: 'gender' },
  birthyear: { trait: 'birthyear', holds: 'birth_year' },
  fee_total: { trait: '年龄', holds: 'age', extra: { header: '费用合计', sql: BILL } },
  total_fee: { trait: 'age', holds: 'age', extra: { header: 'total_fee', sql: BILL } },
  visit_n: { trait: '年龄', holds: 'age', extra: { header: 'n', sql: 'CAST(1 + p % 3 AS BIGINT)' } },
  drug_qty: { trait: '性别', holds: 'gender', extra: { header: '药品数量', sql: 'CAST(1 + p % 5 AS INTEGER)' } },
  hidden: { trait: '年龄', holds: 'age' },
  narrowed: { trait: '年龄', holds: 'age' },
} as const satisfies Record<string, Ward>;
type WardName = keyof typeof WARDS;
const DIAGNOSES = "['I10 原发性高血压', 'E11.9 2型糖尿病', 'J45.9 支气管哮喘'][1 + p % 3]";
const wardId = (name: WardName) => `rt42a_w_${name}`;
const wardSql = (ward: Ward) => {
  const trait = ward.holds === 'age' ? 'CAST(CASE WHEN p = 7 THEN 97 ELSE 20 + p % 60 END AS INTEGER)'
    : ward.holds === 'gender' ? "['男', '女'][1 + p % 2]" : 'CAST(CASE WHEN p = 7 THEN 1928 ELSE 1950 + p % 50 END AS INTEGER)';
  return `SELECT 'P' || lpad(CAST(10000 + p * 7 AS VARCHAR), 6, '0') AS 编号, ${trait} AS "${ward.trait}", CASE WHEN p = 7 THEN '北区' ELSE ['东区', '西区'][1 + p % 2] END AS 区县,
      CASE WHEN p = 7 THEN '${RARE}' ELSE ${DIAGNOSES} END AS 诊断${ward.extra ? `, ${ward.extra.sql} AS "${ward.extra.header}"` : ''} FROM range(200) t(p)`;
};

// ---------------------------------------------------------------------------------------------
// 2. Tables of counts and code tables (no people in their rows).
// ---------------------------------------------------------------------------------------------
const countsSql = (header: string) => `SELECT d AS 区县, g AS 性别, b AS 年龄段, CAST(10 + (k * 7) % 40 AS BIGINT) AS "${header}"
  FROM (SELECT ['东区', '西区', '北区'][1 + k // 6] AS d, ['男', '女'][1 + k % 2] AS g, ['0-17', '18-59', '60+'][1 + (k // 2) % 3] AS b, k FROM range(18) t(k))`;
/** Two columns, as a one-variable release writes them: each inpatient's age in years with its fraction (distinct on every row) and diagnosis; inpatient 7 alone is over 90. */
const AGES_SQL = `SELECT CAST(CASE WHEN p = 7 THEN 97.42 ELSE round(20 + p * 0.3 + (p % 7) * 0.01, 2) END AS DOUBLE) AS 年龄,
    CASE WHEN p = 7 THEN '${RARE}' ELSE ${DIAGNOSES} END AS 诊断 FROM range(200) t(p)`;
const CODES2 = "SELECT * FROM (VALUES ('1', '男'), ('2', '女'), ('9', '未说明')) t(代码, 性别)";
const CODES3 = "SELECT * FROM (VALUES ('1', '男', 'male'), ('2', '女', 'female'), ('9', '未说明', 'unspecified')) t(代码, 性别, 英文名称)";

// ---------------------------------------------------------------------------------------------
// 3a. Ten mobiles of one person beside 未登记, the ID in the note.
// ---------------------------------------------------------------------------------------------
const W_ID = residentId('32010219790823104');
const FW_ID = residentId('32010219810214205');
const IS_ID = residentId('32010219830517306');
/** A first-generation ID (440106, 1985-06-12, sequence 123) and the same ID upgraded to 18 characters. */
const OLD15 = '440106850612123';
const NEW18 = residentId('44010619850612123');
const grouped = (id: string, space: string) => `${id.slice(0, 6)}${space}${id.slice(6, 14)}${space}${id.slice(14)}`;
const TEN_MOBILES = [
  { who: 'W', district: '六区', seed: 4262, note: `本人身份证${W_ID}`, amount: 72.1 },
  { who: 'FW', district: '七区', seed: 4263, note: `本人身份证${fullWidth(FW_ID)}`, amount: 73.1 },
  { who: 'IS', district: '八区', seed: 4264, note: `本人身份证 ${grouped(IS_ID, '\u3000')}`, amount: 74.1 },
  { who: 'TW', district: '九区', seed: 4265, note: `身份证${NEW18}（旧证${OLD15}）`, amount: 75.1 },
] as const;
const NOTES_SQL = `SELECT * FROM (
    SELECT ${mobileSql('p', 4260)} AS mobile, ${ID('p', 4260)} AS 身份证号, '复诊' AS 备注,
      ['一区', '二区', '三区'][1 + p % 3] AS district, CAST(100 + (p * 37) % 50 AS DECIMAL(10,2)) AS amount FROM range(150) t(p)
    ${TEN_MOBILES.map((x) => `UNION ALL SELECT ${mobileSql('9000 + k', x.seed)}, '未登记', '${x.note}', '${x.district}', CAST(${x.amount} + k AS DECIMAL(10,2)) FROM range(10) t(k)`).join('\n    ')})`;

// ---------------------------------------------------------------------------------------------
// 3b. A register (entity: the ID) and payments keyed by its mobiles: C's ten mobiles beside C's ID.
// ---------------------------------------------------------------------------------------------
const REGISTERS = {
  /** The person's own mobile under a bare header: merged, the control. */
  plain: { header: '手机号', seed: 4270 },
  /** A customer register's own "contact number" (the usual English header of a person's phone). */
  contact: { header: 'contact_mobile', seed: 4280 },
  /** A register of agents: the agent is the row's person. */
  agent: { header: '代理人手机', seed: 4290 },
} as const;
type RegisterName = keyof typeof REGISTERS;
const registerSql = (name: RegisterName) => {
  const { header, seed } = REGISTERS[name];
  return `SELECT * FROM (
    SELECT ${mobileSql('p', seed)} AS "${header}", ${ID('p + 1000', seed)} AS 身份证号, ['一区', '二区', '三区'][1 + p % 3] AS district FROM range(150) t(p)
    UNION ALL SELECT ${mobileSql('9200 + k', seed + 1)}, ${ID('9201', seed + 2)}, '五区' FROM range(10) t(k))`;
};
const paymentsSql = (name: RegisterName) => {
  const { seed } = REGISTERS[name];
  return `SELECT * FROM (
    SELECT ${mobileSql('p', seed)} AS mobile, ['一区', '二区', '三区'][1 + p % 3] AS district, CAST(100 + (p * 37) % 50 AS DECIMAL(10,2)) AS amount FROM range(150) t(p)
    UNION ALL SELECT ${mobileSql('9200 + k', seed + 1)}, '五区', CAST(83.8 AS DECIMAL(10,2)) FROM range(10) t(k))`;
};

describe('red team 42a', () => {
  const memory = useMemoryConnection();
  const domain = craftedDomain(ORG, LAB, PURPOSE);
  let t: TestApp;
  let operators = 0;
  /** A fresh operator for each question, so that no probing budget is shared between them. */
  const operator = () => ({ role: 'operator', org: ORG, sub: `op${operators++}` }) as const;
  const ask = (sql: string) => prodAsker(() => t, operator())(sql);
  const real = (sql: string): Promise<Record<string, unknown>[]> => memory.connection.all(sql);
  const said = (answer: Awaited<ReturnType<typeof ask>>) => (answer.status === 200 ? JSON.stringify(answer.rows) : `${answer.status} ${answer.code}`);
  const until = licenseAround(new Date(), -1, 100).licenseTo;

  /** domain.ingest, naming the dataset when it fails (a setup failure says which and why). */
  const ingest = async (id: string, sql: string, options: Parameters<typeof domain.ingest>[2] = {}) => {
    try {
      await domain.ingest(id, sql, options);
    } catch (error) {
      throw new Error(`ingest ${id}: ${(error as { code?: string }).code ?? ''} ${(error as Error).message}`);
    }
  };

  beforeAll(async () => {
    t = await domain.start();
    for (const name of Object.keys(WARDS) as WardName[]) await ingest(wardId(name), wardSql(WARDS[name]), { grant: name !== 'narrowed' });
    expectStatus(await t.call(SUPERVISOR, 'PUT', `/v1/datasets/${wardId('hidden')}/policy`, { columns: { 年龄: { kind: 'hidden' } } }), 200);
    expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/tenants/${ORG}/grants`, { dataset: wardId('narrowed'), columns: ['编号', '区县', '诊断'], purpose: PURPOSE, until }), 201);
    await ingest('rt42a_c_renshu', countsSql('人数'));
    await ingest('rt42a_c_lishu', countsSql('例数'));
    await ingest('rt42a_c_codes2', CODES2);
    await ingest('rt42a_c_codes3', CODES3);
    await ingest('rt42a_w_ages2', AGES_SQL);
    await ingest('rt42a_notes', NOTES_SQL, { entity: 'mobile' });
    for (const name of Object.keys(REGISTERS) as RegisterName[]) {
      await ingest(`rt42a_reg_${name}`, registerSql(name), { entity: '身份证号' });
      await ingest(`rt42a_pay_${name}`, paymentsSql(name), { entity: 'mobile' });
    }
    await domain.refresh();
  }, 900_000);
  afterAll(async () => {
    await t?.close({ remove: true });
  });

  // ---------------------------------------------------------------------------------------------
  // 1. Rows of people without an entity.
  // ---------------------------------------------------------------------------------------------

  /** What prod says of the 北区 inpatient in each ward, with the entity the ward settled. */
  const wardsSeen = async (names: readonly WardName[]) => {
    const seen: Record<string, string> = {};
    for (const name of names) {
      const answer = await ask(`SELECT 区县, 诊断 FROM ${wardId(name)} WHERE 区县 = '北区'`);
      seen[name] = `entity ${(await domain.profileOf(wardId(name))).entity}: ${said(answer)}`;
    }
    return seen;
  };
  const shown = (seen: Record<string, string>) => Object.entries(seen).filter(([, s]) => s.includes(RARE)).map(([name]) => name);

  it('control: the 北区 inpatient alone has HIV in every ward (generator); the ward with `年龄` is rows of people without an entity, and prod refuses the row; a table of 人数 by 区县, 性别 and 年龄段 answers its totals', async () => {
    for (const name of Object.keys(WARDS) as WardName[]) {
      expect((await real(`SELECT DISTINCT 诊断 FROM (${wardSql(WARDS[name])}) WHERE 区县 = '北区'`)).map((r) => r.诊断), name).toEqual([RARE]);
    }
    const seen = await wardsSeen(['control']);
    expect(seen.control).toMatch(/^entity null: /);
    expect(shown(seen), JSON.stringify(seen)).toEqual([]);
    const truth = (await real(`SELECT 区县, sum(人数) AS s FROM (${countsSql('人数')}) GROUP BY 区县 ORDER BY 区县`)).map((r) => [r.区县, String(r.s)]);
    const answer = await ask('SELECT 区县, sum(人数) AS s FROM rt42a_c_renshu GROUP BY 区县 ORDER BY 区县');
    expect(answer.rows.map((r) => [r[0], String(r[1])]), said(answer)).toEqual(truth);
  }, 600_000);

  it('was a hole (fix: TRAIT reads 年纪, 年歲, nianling, 男女, xingbie, birth and gender anywhere in a header): a trait under a header TRAIT does not read (年纪, 年歲, nianling, 男女, xingbie, birthyear) leaves the ward "not personal", and prod shows the 北区 inpatient\'s diagnosis (HIV)', async () => {
    // Seen: every ward ingests with entity null and no personal column, and prod answers
    // [["北区","B24 HIV"]] where the `年龄` control is refused DSC_ERR_UNCHECKABLE.
    // Where: desensitize/person-numbers.ts:38 (TRAIT: 年龄|年齡|岁 and the pinyin initials nl/xb, not
    // 年纪 (the everyday word for age), 歲 (traditional 岁: 年歲, 歲數), the full pinyin nianling/xingbie,
    // 男女 (a gender column's usual header in hand-made sheets), nor whole-word-glued English
    // (`birthyear`, `birthdate`, `patientage`, `BIRTHYEAR` upper case: headerWords splits camelCase only)).
    // Reached from tenants/catalog-service.ts:45 (isPersonalVersion) and tenants/refinery.ts:101.
    // SAFE: refused as the control is. Fix: add the spellings (年纪, 年紀, 歲, 周歲, 男女, 男/女, nianling,
    // xingbie, nianji, chushengnian, birthyear, birthdate, dateofbirth, patientage, patientsex) and
    // match English traits as substrings of a glued header too; better, fail closed on rows: a
    // version of many rows (say 50+) with no count column and no entity, whose other columns repeat
    // their values (categories beside a code one per row), is rows of something the supervisor names.
    const seen = await wardsSeen(['nianji', 'niansui', 'nianling', 'nannv', 'xingbie', 'birthyear']);
    expect(shown(seen), JSON.stringify(seen, null, 1)).toEqual([]);
  }, 600_000);

  it('was a hole (fix: a count is a whole number under a header that is a count, or ends with one, COUNT_HEADER): one person\'s own number under a header COUNT reads as a count (a bill\'s `费用合计` or `total_fee`, a visit\'s ordinal `n`, a prescription\'s `药品数量`) makes the ward a "table of counts": prod shows the 北区 inpatient\'s diagnosis (HIV)', async () => {
    // Seen: every ward has entity null, no personal column, and prod answers [["北区","B24 HIV"]];
    // the same ward without the number (the control) is refused DSC_ERR_UNCHECKABLE.
    // Where: desensitize/person-numbers.ts:40 (COUNT matched anywhere in the header for Chinese:
    // `合计` in 费用合计, `数量` in 药品数量; whole words for English: `total` in total_fee, `n`) and
    // :63 (any INT/DECIMAL/DOUBLE column under such a header clears every row, a DECIMAL bill
    // included). A HIS extract of inpatients with their bill or quantity dispensed is the common case,
    // not a crafted one.
    // SAFE: refused as the control is. Fix: a count column is a whole number (no DECIMAL with a scale,
    // no DOUBLE with fractions) under a header that IS a count (人数, 例数, count, n, … as the whole
    // header or its last word, not 合计/total/数量 inside another word), AND the table is a table of
    // groups: its other columns' combinations each on one row (measured at ingest: count(DISTINCT
    // (all non-count columns)) = rows); rows whose traits repeat beside a code are rows of people.
    const seen = await wardsSeen(['fee_total', 'total_fee', 'visit_n', 'drug_qty']);
    expect(shown(seen), JSON.stringify(seen, null, 1)).toEqual([]);
  }, 600_000);

  it('was a hole (fix: a code table holds ten rows at most, every column a key of it): a ward of two columns whose age is distinct on every row (years with their fraction, as epidemiological extracts write them) passes as a code table, and prod shows the one inpatient over 90 and the diagnosis (HIV)', async () => {
    // Seen: entity null, no personal column, and prod answers [[97.42,"B24 HIV"]] where the ward of
    // whole ages (the control) is refused DSC_ERR_UNCHECKABLE.
    // Where: desensitize/person-numbers.ts:65 (codeTable: two columns and every trait distinct on every
    // row): a trait distinct on every row is what a code table has, and also what 200 people with
    // ages to the hundredth (or birth times, or heights) have; nothing bounds the rows.
    // SAFE: refused as the control is. Fix: a code table is small (no more than, say, 200 rows, and its
    // trait TEXT or a band, not a DOUBLE with fractions) and has no other column repeating values
    // across many rows; a trait of fractional or high-cardinality numbers is never a code.
    const [truth] = await real(`SELECT count(*) AS n, count(DISTINCT 年龄) AS ages, max(诊断) FILTER (WHERE 年龄 > 90) AS dx FROM (${AGES_SQL})`);
    expect([Number(truth!.n), Number(truth!.ages), truth!.dx]).toEqual([200, 200, RARE]);
    const answer = await ask('SELECT 年龄, 诊断 FROM rt42a_w_ages2 WHERE 年龄 > 90');
    expect(answer.status === 200 && JSON.stringify(answer.rows).includes(RARE), `entity ${(await domain.profileOf('rt42a_w_ages2')).entity}: ${said(answer)}`).toBe(false);
  }, 600_000);

  it('STOPPED: the trait hidden by policy (`年龄` hidden) or left out of a narrowed grant (编号, 区县, 诊断) still makes the ward personal: prod refuses the 北区 inpatient\'s row', async () => {
    // isPersonalVersion (tenants/catalog-service.ts:43) reads every column of the version, not the
    // policy's or the grant's; were it to read the granted columns, 区县 alone would single out the
    // 97-year-old and show the diagnosis.
    const seen = await wardsSeen(['hidden', 'narrowed']);
    expect(shown(seen), JSON.stringify(seen, null, 1)).toEqual([]);
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 2. Tables without people refused (utility).
  // ---------------------------------------------------------------------------------------------

  it('was a hole (utility; fix: 例数, 次数, 件数, num, qty … are counts): a table of counts whose count column is `例数` (cases: how medical statistics write counts) is taken for rows of people and refused in prod, where the same table under `人数` answers', async () => {
    // Seen: 422 DSC_ERR_UNCHECKABLE for rt42a_c_lishu; the 人数 table (the control above) answers.
    // Where: desensitize/person-numbers.ts:40 (COUNT lacks 例数, 病例数, 次数, 件数, 个数, 名, num,
    // qty, persons, patients …) with :38 (性别 and 年龄段 are traits).
    // Useful: the totals per 区县, as for 人数. Fix: add those words; and read a table of groups by
    // its shape (each combination of the non-numeric columns on one row) rather than by a header.
    const truth = (await real(`SELECT 区县, sum(例数) AS s FROM (${countsSql('例数')}) GROUP BY 区县 ORDER BY 区县`)).map((r) => [r.区县, String(r.s)]);
    const answer = await ask('SELECT 区县, sum(例数) AS s FROM rt42a_c_lishu GROUP BY 区县 ORDER BY 区县');
    expect(answer.rows.map((r) => [r[0], String(r[1])]), said(answer)).toEqual(truth);
  }, 600_000);

  it('was a hole (utility; fix: a code table of any width): a code table of genders with a third column (代码, 性别, 英文名称) is rows of people and refused, where the same table of two columns answers', async () => {
    // Seen: 422 DSC_ERR_UNCHECKABLE for the three-column table; the two-column one answers.
    // Where: desensitize/person-numbers.ts:65 (`columns.length <= 2`): GB/T 2261 and most code tables
    // carry a code, a name and an English name or a description.
    // Useful: the rows. Fix: a code table is any table whose trait columns are distinct on every row
    // (the three values once each), whatever its width, while the rows are few (no more than, say, 200).
    const two = await ask('SELECT 代码, 性别 FROM rt42a_c_codes2 ORDER BY 代码');
    expect(two.rows, said(two)).toEqual([['1', '男'], ['2', '女'], ['9', '未说明']]);
    const three = await ask('SELECT 代码, 性别, 英文名称 FROM rt42a_c_codes3 ORDER BY 代码');
    expect(three.rows, said(three)).toEqual([['1', '男', 'male'], ['2', '女', 'female'], ['9', '未说明', 'unspecified']]);
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 3. Merged keys.
  // ---------------------------------------------------------------------------------------------

  /** A district's count and total as the operator sees it: shown (a non-null sum) or not. */
  const districtTotal = async (table: string, district: string) => {
    const answer = await ask(`SELECT count(*) AS n, sum(amount) AS s FROM ${table} WHERE district = '${district}'`);
    return { shown: answer.rows.some((r) => r[1] !== null && r[1] !== undefined), said: said(answer) };
  };
  const alone = (who: string) => TEN_MOBILES.find((x) => x.who === who)!;
  const truthOf = async (who: string) => {
    const [row] = await real(`SELECT count(DISTINCT mobile) AS ids, sum(amount) AS s FROM (${NOTES_SQL}) WHERE district = '${alone(who).district}'`);
    return [Number(row!.ids), Number(row!.s)];
  };

  it('control: W\'s ten mobiles beside 未登记, each note `本人身份证<ID>`, are one person (withheld); a district of 50 payers is shown', async () => {
    expect(await domain.kindsOf('rt42a_notes')).toMatchObject({ mobile: 'mobile', 身份证号: 'resident_id', 备注: 'free_text' });
    expect(await truthOf('W')).toEqual([10, 766]);
    const w = await districtTotal('rt42a_notes', alone('W').district);
    expect(w.shown, w.said).toBe(false);
    expect((await districtTotal('rt42a_notes', '一区')).shown).toBe(true);
  }, 600_000);

  it('STOPPED: one person\'s ID written twice in a note, as its 18 characters and its first-generation 15 digits (`身份证…（旧证…）`), is one document: the ten mobiles merge, withheld', async () => {
    const tw = await districtTotal('rt42a_notes', alone('TW').district);
    expect(tw.shown, tw.said).toBe(false);
  }, 600_000);

  it('was a hole (fix: notes read half-width before their documents are found, halfWidthSql): an ID in the note in full-width digits (`本人身份证３２０１…`) or grouped by ideographic spaces (`320102　19810214　…`), both read as an ID by recognition and by the entity keys, merges nothing: the ten mobiles are "10 people" and their total is shown', async () => {
    // Seen: 200 [["10","…"]] for FW and IS (W, the same note in ASCII digits, is withheld).
    // Where: desensitize/doubtful-keys.ts:71 (IN_TEXT.resident_id: ASCII `[0-9]` and `[- ]` between
    // digits), used by textDocuments (:314-320) through regexp_extract_all over the raw note; recognition
    // and the keys fold every form first (compactIdentifier: full-width digits, spaces of every width,
    // docs/catalog.md "PII recognition"), so the note is free text holding an ID, whose ID the merge
    // never reads. A note typed with a Chinese IME in full-width mode writes exactly these.
    // SAFE: withheld (one person). Fix: fold the note as compactIdentifier folds values (digits of
    // every form to ASCII, every space and dash of any width to one ASCII space) before the finder runs
    // (the SQL fold exists: foldIdentifier / foldDateTextSql), and take the same for IN_TEXT.mobile.
    expect(await truthOf('FW')).toEqual([10, 776]);
    expect(await truthOf('IS')).toEqual([10, 786]);
    const fw = await districtTotal('rt42a_notes', alone('FW').district);
    const is = await districtTotal('rt42a_notes', alone('IS').district);
    expect({ fw: fw.shown, is: is.shown }, JSON.stringify({ fw: fw.said, is: is.said })).toEqual({ fw: false, is: false });
  }, 600_000);

  it('control: C\'s ten mobiles under `手机号` beside C\'s one ID in a register (entity 身份证号) are one person in the payments keyed by those mobiles: C\'s 五区 total withheld; a district of 50 payers shown', async () => {
    const [truth] = await real(`SELECT count(DISTINCT mobile) AS ids, sum(amount) AS s FROM (${paymentsSql('plain')}) WHERE district = '五区'`);
    expect([Number(truth!.ids), Number(truth!.s)]).toEqual([10, 838]);
    expect(await domain.kindsOf('rt42a_reg_plain')).toMatchObject({ 手机号: 'mobile', 身份证号: 'resident_id' });
    const c = await districtTotal('rt42a_pay_plain', '五区');
    expect(c.shown, c.said).toBe(false);
    expect((await districtTotal('rt42a_pay_plain', '一区')).shown).toBe(true);
  }, 600_000);

  it('was a hole (fix: a document under no role\'s header merges any identifier beside it, and a bare `contact` names no role, sameRole): the same register with the mobile under `contact_mobile` (a customer\'s own "contact number") or `代理人手机` (in a register of agents, the agent\'s own) merges nothing: C\'s ten mobiles are "10 people" in the payments, and C\'s total is shown', async () => {
    // Seen: 200 [["10","838.00"]] for both (the `手机号` control is withheld).
    // Where: desensitize/doubtful-keys.ts:334-336 (sameRole: the ID's header names no role, the
    // mobile's names one (ROLES :352 `contact` as a whole word, :350 `代理`), and the mobile is not the
    // entity column, so they are "different people"). English `contact_mobile`/`contact_phone`/
    // `contact_no` is the person's own number in most registers (unlike 联系人手机, the contact
    // person's), and a register of agents, brokers or 经办人 names its own people by the role.
    // SAFE: withheld (one person). Fix: a missed merge counts one person many times and a wrong one
    // counts fewer (the safe side, docs/sandbox.md): merge an identifier beside the entity's
    // no-role document unless its header names another PERSON (联系人, 紧急联系人, 家属, 监护人,
    // emergency_contact, contact_person), not a bare `contact`; or let the supervisor declare at
    // ingest which columns are the row's person's (the entity's companions).
    for (const name of ['contact', 'agent'] as const) {
      expect(await domain.kindsOf(`rt42a_reg_${name}`), name).toMatchObject({ [REGISTERS[name].header]: 'mobile', 身份证号: 'resident_id' });
    }
    const contact = await districtTotal('rt42a_pay_contact', '五区');
    const agent = await districtTotal('rt42a_pay_agent', '五区');
    expect({ contact: contact.shown, agent: agent.shown }, JSON.stringify({ contact: contact.said, agent: agent.said })).toEqual({ contact: false, agent: false });
  }, 600_000);
});
