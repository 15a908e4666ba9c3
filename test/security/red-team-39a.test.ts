/**
 * Red-team pass 39a: the fixes of passes 35a–38b attacked again over HTTP, as operators of
 * `rt39a-org` (and two supervisors who review its exports):
 * 1. a dataset stays personal (classifyPublished's `personal` from the whole dataset): attacked
 *    through a later VERSION of the dataset that no longer carries its identifier, and a prod
 *    workspace table built from the earlier, personal version;
 * 2. merged keys (compileMergedKeys, desensitize/doubtful-keys.ts; ANOTHER_PERSONS_DOCUMENT):
 *    identity documents of the GB 11643 shape that are no resident ID to the key rules (港澳台居民
 *    居住证, 810000/820000/830000), and a registry of the very roles the list calls "someone else"
 *    (a doctors' registry: `医师身份证号` is the row's own doctor);
 * 5. row-level shapes (answer-shape.ts): fresh spellings of samples, stars, whole rows, positions,
 *    random orders;
 * 6. twin links carried forward (ingest-dataset.ts knownLink): a renamed identifier column beside a
 *    second column of its kind;
 * 7. the operator's view of a row-level export's counts (checksForOperator, mitigationForOperator,
 *    WITHHELD_NOTE): the package's manifest.
 * Each question is asked in two worlds (the person matches, or not: two thresholds, or two people
 * whose truth differs); SAFE means the operator sees the same in both, or the probe is refused.
 * `was a hole` tests assert the SAFE outcome and failed when written (the comment says what was
 * seen, which file:line let it through, what SAFE means and a fix); `STOPPED:` tests hold now and fail if the defence
 * breaks; `control:` tests show the method reads the truth where it should.
 *
 * Setup (test/helpers/crafted-domain.ts: every dataset ingested through the trusted pipeline and
 * granted to rt39a-org, personal columns plain with a reason; the truth computed from the generating
 * SQL in an in-memory DuckDB):
 * - `rt39a_trips` (entity `mobile`): 200 riders in 一区/二区 with 10 trips each (gender, district,
 *   amount), P0 alone in 孤岛区 (10 trips), and V alone in 四区: 10 trips of 141..150.
 * - `rt39a_clinic` (entity `phone`): 200 patients (district, age, diagnosis); patient 5 has
 *   `HIV`, patient 6 `感冒`. Version 2 (the provider stopped sending phone numbers): the same rows with
 *   `phone` empty.
 * - `rt39a_hk` (entity `mobile`, 身份证号): 150 payers; H, a Hong Kong resident, ten mobiles beside
 *   their 港澳居民居住证 number 810000198506120120 (GB 11643 shape, correct check digit), alone in
 *   五区; W, ten mobiles beside an ordinary resident ID, alone in 六区 (the control).
 * - `rt39a_doctors` (entity `医师手机`, 医师身份证号): a registry of 150 licensed doctors; D, one
 *   doctor with ten mobiles beside their own ID, alone in 五区.
 * - in a domain of its own (`rt39a-tw`, default policies): `rt39a_res` (200 residents) and, after
 *   it, `rt39a_hiv` (25 patients: residents 0–14 and ten living elsewhere); version 2 of the
 *   residents without P (resident 3, a patient), `id_card` renamed `id_no`, beside `guardian_id`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mobileSql, residentIdSql } from '../../desensitize/index.js';
import { craftedDomain } from '../helpers/crafted-domain.js';
import { expectStatus } from '../helpers/expect-status.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import { prodAsker } from '../helpers/prod-answer.js';
import { SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const ORG = 'rt39a-org';
const LAB = { id: 'rt39a-lab', name: 'Red team 39a lab' };
const SUPERVISOR_2 = { role: 'supervisor', org: 'authority', sub: 'sam' } as const;

/** Resident IDs of people born 1950–1990. */
const ID = (i: string) => residentIdSql(i, 3903, { from: 1950, to: 1990 });
const DISTRICT3 = (p: string) => `['一区', '二区', '三区'][1 + ${p} % 3]`;
const AMOUNT = (p: string) => `CAST(100 + (${p} * 37) % 50 AS DECIMAL(10,2))`;

// 7. trips: V's ten trips of 141..150 in 四区; P0's ten in 孤岛区.
const V = '13957024861';
const P0 = '13957024862';
const TRIPS_SQL = `SELECT * FROM (
    SELECT ${mobileSql('p', 3901)} AS mobile, ['男', '女'][1 + p % 2] AS gender, ['一区', '二区'][1 + (p // 2) % 2] AS district,
      CAST(100 + (p * 7 + k) % 40 AS DECIMAL(10,2)) AS amount FROM range(200) t(p), range(10) u(k)
    UNION ALL SELECT '${V}', '女', '四区', CAST(141 + k AS DECIMAL(10,2)) FROM range(10) t(k)
    UNION ALL SELECT '${P0}', '男', '孤岛区', CAST(120 AS DECIMAL(10,2)) FROM range(10) t(k))`;

// 1. clinic: patient 5 has HIV, patient 6 a cold; version 2 without the phone numbers.
const clinicSql = (phone: (p: string) => string) => `SELECT ${phone('p')} AS phone, ['一区', '二区', '三区', '四区'][1 + p % 4] AS district,
    CAST(20 + p % 70 AS INTEGER) AS age,
    CASE WHEN p = 5 THEN 'HIV' WHEN p = 6 THEN '感冒' ELSE ['感冒', '高血压', '糖尿病', '骨折'][1 + p % 4] END AS diagnosis
  FROM range(200) t(p)`;
const CLINIC_V1 = clinicSql((p) => mobileSql(p, 3911));
const CLINIC_V2 = clinicSql(() => 'CAST(NULL AS VARCHAR)');

// 2. merged keys.
/** A 港澳居民居住证 number: GB 11643's shape, region 810000 (Hong Kong), born 1985-06-12, correct check digit. */
const HK_PERMIT = '810000198506120120';
const HK_SQL = `SELECT * FROM (
    SELECT ${mobileSql('p', 3921)} AS mobile, ${ID('p')} AS 身份证号, ${DISTRICT3('p')} AS district, ${AMOUNT('p')} AS amount FROM range(150) t(p)
    UNION ALL SELECT ${mobileSql('9000 + k', 3922)}, '${HK_PERMIT}', '五区', CAST(81.8 AS DECIMAL(10,2)) FROM range(10) t(k)
    UNION ALL SELECT ${mobileSql('9100 + k', 3923)}, ${ID('9101')}, '六区', CAST(82.8 AS DECIMAL(10,2)) FROM range(10) t(k))`;
const DOCTORS_SQL = `SELECT * FROM (
    SELECT ${mobileSql('p', 3931)} AS 医师手机, ${ID('p + 1000')} AS 医师身份证号, ${DISTRICT3('p')} AS district, ${AMOUNT('p')} AS amount FROM range(150) t(p)
    UNION ALL SELECT ${mobileSql('9200 + k', 3932)}, ${ID('9201')}, '五区', CAST(83.8 AS DECIMAL(10,2)) FROM range(10) t(k))`;

describe('red team 39a', () => {
  const memory = useMemoryConnection();
  const domain = craftedDomain(ORG, LAB, 'red team 39a');
  let t: TestApp;
  let operators = 0;
  /** A fresh operator for each world, so that no probing budget is shared between them. */
  const operator = () => ({ role: 'operator', org: ORG, sub: `op${operators++}` }) as const;
  const ask = (sql: string) => prodAsker(() => t, operator())(sql);
  const real = (sql: string): Promise<Record<string, unknown>[]> => memory.connection.all(sql);

  beforeAll(async () => {
    t = await domain.start();
    await domain.ingest('rt39a_trips', TRIPS_SQL, { entity: 'mobile' });
    await domain.ingest('rt39a_clinic', CLINIC_V1, { entity: 'phone' });
    await domain.ingest('rt39a_hk', HK_SQL, { entity: 'mobile' });
    await domain.ingest('rt39a_doctors', DOCTORS_SQL, { entity: '医师手机' });
    await domain.refresh();
  }, 600_000);
  afterAll(async () => {
    await t?.close({ remove: true });
  });

  it('the setup: recognition took the columns as the attacks need', async () => {
    const kinds = {
      trips: await domain.kindsOf('rt39a_trips'), clinic: await domain.kindsOf('rt39a_clinic'), hk: await domain.kindsOf('rt39a_hk'), doctors: await domain.kindsOf('rt39a_doctors'),
    };
    expect(kinds, JSON.stringify(kinds)).toMatchObject({
      trips: { mobile: 'mobile', gender: null, district: null },
      clinic: { phone: 'mobile', diagnosis: null, age: null, district: null },
      hk: { mobile: 'mobile', 身份证号: 'resident_id' },
      doctors: { 医师手机: 'mobile', 医师身份证号: 'resident_id' },
    });
    expect((await domain.profileOf('rt39a_clinic')).entity).toBe('phone');
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 7. A row-level export's counts, as its operator reads the package's manifest.
  // ---------------------------------------------------------------------------------------------

  /** Riders of 一区, P0 (孤岛区, always fails k-anonymity) and V's trips above x (四区, V alone: fail). */
  const tripsOf = (x: number) => `SELECT gender, district FROM rt39a_trips WHERE district = '一区' OR mobile = '${P0}' OR (mobile = '${V}' AND amount > ${x})`;
  const aboveTruth = async (x: number) => Number((await real(`SELECT count(*) AS n FROM (${TRIPS_SQL}) WHERE mobile = '${V}' AND amount > ${x}`))[0]!.n);

  /** Creates the row-level export, suppresses it, submits it, has two supervisors approve it; answers its id. */
  async function approvedSuppressed(x: number, who: ReturnType<typeof operator>): Promise<string> {
    const created = expectStatus(await t.call(who, 'POST', '/v1/exports', { source: { sql: tripsOf(x) }, recipient: LAB.id, purpose: 'red team 39a', format: 'csv' }), 201).json() as { id: string; outcome: string };
    expect(created.outcome).toBe('fail');
    const v2 = expectStatus(await t.call(who, 'POST', `/v1/exports/${created.id}/versions`, { mitigation: 'suppress' }), 201).json() as { outcome: string; checks: { name: string; status: string }[] };
    expect(v2.outcome, JSON.stringify(v2.checks)).not.toBe('fail');
    const justifications = Object.fromEntries(v2.checks.filter((c) => c.status === 'review').map((c) => [c.name, 'reviewed by hand: k-anonymous rows only']));
    expectStatus(await t.call(who, 'POST', `/v1/exports/${created.id}/submit`, { justifications }), 200);
    for (const reviewer of [SUPERVISOR, SUPERVISOR_2]) {
      const review = expectStatus(await t.call(reviewer, 'POST', `/v1/exports/${created.id}/reviews`, { version: 2, decision: 'approve' }), 200).json() as { status: string };
      if (review.status === 'approved') break;
    }
    expect((expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/exports/${created.id}`), 200).json() as { status: string }).status).toBe('approved');
    return created.id;
  }

  it('control: V has 5 trips above 145 and none above 150; a supervisor reads the suppressed version\'s removed rows differ by exactly that; the operator\'s detail hides them (pass 38b holds)', async () => {
    expect([await aboveTruth(145), await aboveTruth(150)]).toEqual([5, 0]);
    const seen: { supervisor: number; operator: unknown }[] = [];
    for (const x of [145, 150]) {
      const who = operator();
      const id = await approvedSuppressed(x, who);
      const supervisor = expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/exports/${id}`), 200).json() as { withheld: { rows: number } };
      const detail = expectStatus(await t.call(who, 'GET', `/v1/exports/${id}`), 200).json() as { withheld: unknown; mitigation: unknown; rowCount: unknown };
      seen.push({ supervisor: supervisor.withheld.rows, operator: { withheld: detail.withheld, mitigation: detail.mitigation, rowCount: detail.rowCount } });
    }
    // P0's 10 rows, V's rows above x, and one secondary row.
    expect(seen.map((s) => s.supervisor)).toEqual([10 + 5 + 1, 10 + 0 + 1]);
    expect(seen[0]!.operator).toEqual(seen[1]!.operator);
    expect(seen[0]!.operator).toEqual({ withheld: null, mitigation: { kind: 'suppress', fromVersion: 1 }, rowCount: null });
  }, 600_000);

  it('was a hole (fix: the operator\'s manifest of a row-level export carries the mitigation as the detail does, mitigationForOperator): the package manifest an operator reads (GET /v1/exports/:id/manifest) of an approved, suppressed row-level export still carries `mitigation.removedRows` and `mitigation.withheld`: how many of V\'s trips are above x (5, or 0)', async () => {
    // Seen: the operator's manifest has `withheld: null`, the WITHHELD_NOTE gone and the checks
    // redacted (pass 38b, c1b183b), but `mitigation` is the version's record as it is:
    // {kind: 'suppress', fromVersion: 1, removedRows: [...16 rows...], withheld: {rows: 16, ...}} for
    // x = 145 and 11 rows for x = 150: V's trips above x are 16 - 11 = 5, exactly the count
    // mitigationForOperator hides in GET /v1/exports/:id. One export (approved for its k-anonymous
    // rows) answers "how many", and the positions in `removedRows` say where in the file's order.
    // Where: tenants/exports/export-service.ts:785-789 (manifest(): the operator's view replaces
    // rows, hashes, fingerprint, checks, `withheld` and the notes, not `mitigation`), written by
    // tenants/exports/package-builder.ts:91 (`mitigation: version.mitigation`).
    // SAFE: the operator's manifest reads the same in both worlds (no removed rows, no counts).
    // Fix: in manifest(), give operators `mitigation: mitigationForOperator(version).mitigation` of a
    // row-level output (or drop `removedRows` and `withheld` from every operator view of a mitigation).
    const views: unknown[] = [];
    for (const x of [145, 150]) {
      const who = operator();
      const id = await approvedSuppressed(x, who);
      const manifest = expectStatus(await t.call(who, 'GET', `/v1/exports/${id}/manifest`), 200).json() as Record<string, unknown>;
      const { exportId: _, sql: __, packagedAt: ___, validUntil: ____, reviews: _____, ...rest } = manifest;
      views.push(rest);
    }
    expect(views[0], JSON.stringify(views)).toEqual(views[1]);
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 1. A dataset that stops being personal at a later version.
  // ---------------------------------------------------------------------------------------------

  const mobileOf = async (patient: number) => String((await real(`SELECT ${mobileSql(String(patient), 3911)} AS m`))[0]!.m);

  it('control: a prod workspace table of the clinic\'s rows (phone, diagnosis) is built, and prod refuses every answer over it (derived from personal data)', async () => {
    expect((await real(`SELECT diagnosis FROM (${CLINIC_V1}) WHERE phone = '${await mobileOf(5)}'`)).map((r) => r.diagnosis)).toEqual(['HIV']);
    const who = operator();
    expectStatus(await t.call(who, 'POST', '/v1/tables', { name: 'visits', env: 'prod', sql: 'SELECT phone, age, district, diagnosis FROM rt39a_clinic' }), 201);
    for (const patient of [5, 6]) {
      const answer = await ask(`SELECT diagnosis FROM visits WHERE phone = '${await mobileOf(patient)}'`);
      expect([answer.status, answer.code]).toEqual([422, 'DSC_ERR_UNCHECKABLE']);
    }
  }, 600_000);

  it('was a hole (fix: a dataset about people at any version stays personal, wasEverPersonal): version 2 of the clinic without its phone numbers (the same rows, `phone` empty) makes the dataset non-personal, and the prod table built from version 1 then answers freely: patient 5\'s diagnosis (HIV) and patient 6\'s (a cold), by their phone numbers', async () => {
    // Seen: after version 2 (entity null: ingest settles no column, the old one no longer holds
    // mobiles) and the tenant's rebuild, `SELECT diagnosis FROM visits WHERE phone = '<mobile>'` in
    // prod answers [["HIV"]] for patient 5 and [["感冒"]] for patient 6: version 1's rows, with their
    // phone numbers, unchecked. The same rows under version 2 answer freely too (no identifier
    // left, the 36a class), but the workspace table still holds the identifiers.
    // Where: tenants/refinery.ts:101-103 (`isPersonal(columns)` of the CURRENT version only, so
    // classifyPublished gets personal: false and the granted file's privacy has no entry);
    // sandbox/engine/tenant-engine.ts:487 (derivedFromPersonal asks the granted file's privacy of
    // the dataset NOW, not of the version the table was built from); the table is not reconciled at
    // all, since its access fingerprint (names, types, policies: tenants/lineage.ts:18) did not change
    // (tenants/table-service.ts:121 `continue`).
    // SAFE: prod refuses (or checks) answers over the table as before, whatever later versions hold.
    // Fix: a dataset that was personal at any version stays personal (and, without an entity
    // column, uncheckable in prod); tag a prod workspace table `personal` when it is built and keep
    // the tag; withdraw prod tables over a dataset whose new version changes its privacy.
    await domain.ingest('rt39a_clinic', CLINIC_V2, { grant: false });
    await domain.refresh();
    expect((await domain.profileOf('rt39a_clinic')).version).toBe(2);
    const seen: Record<number, string> = {};
    for (const patient of [5, 6]) {
      const answer = await ask(`SELECT diagnosis FROM visits WHERE phone = '${await mobileOf(patient)}'`);
      seen[patient] = answer.status === 200 ? JSON.stringify(answer.rows) : `${answer.status} ${answer.code}`;
    }
    // The table is still listed (not withdrawn by the rebuild).
    const listed = (expectStatus(await t.call(operator(), 'GET', '/v1/tables'), 200).json() as { tables: { name: string }[] }).tables.map((x) => x.name);
    expect(listed).toContain('visits');
    expect(seen[5] === seen[6] && !seen[5]!.startsWith('[['), JSON.stringify(seen)).toBe(true);
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 2. Merged keys.
  // ---------------------------------------------------------------------------------------------

  /** A victim's district total as the operator sees it: shown (a non-null sum) or not. */
  const districtTotal = async (table: string, district: string) => {
    const answer = await ask(`SELECT count(*) AS n, sum(amount) AS s FROM ${table} WHERE district = '${district}'`);
    return { shown: answer.rows.some((r) => r[1] !== null && r[1] !== undefined), said: answer.status === 200 ? JSON.stringify(answer.rows) : `${answer.status} ${answer.code}` };
  };

  it('control: W\'s ten mobiles beside their own resident ID are one person (withheld); a district of 50 payers is shown', async () => {
    const [truth] = await real(`SELECT count(DISTINCT mobile) AS ids, count(DISTINCT 身份证号) AS docs FROM (${HK_SQL}) WHERE district = '六区'`);
    expect([Number(truth!.ids), Number(truth!.docs)]).toEqual([10, 1]);
    const w = await districtTotal('rt39a_hk', '六区');
    expect(w.shown, w.said).toBe(false);
    expect((await districtTotal('rt39a_hk', '一区')).shown).toBe(true);
  }, 600_000);

  it('was a hole (fix: 810000, 820000 and 830000 make resident-ID keys: the residence permits of Hong Kong, Macao and Taiwan residents): a Hong Kong resident\'s ten mobiles beside their 港澳居民居住证 number (810000…, GB 11643\'s shape and check digit) merge into nothing: "10 people", and their total is shown', async () => {
    // Seen: 200 [["10","818.00"]]: one person's ten payments and their total, where W (the same rows
    // beside an ordinary resident ID) is withheld. Lets it through: desensitize/tokens.ts:65 (a
    // resident ID's key needs a county code other than 00, with five exceptions; the residence
    // permits of Hong Kong, Macao and Taiwan residents, 810000/820000/830000, are issued in GB 11643's
    // shape with region 0000), so desensitize/doubtful-keys.ts:332-338 (documentWitness) reads H's
    // document as none, and compileMergedKeys (:265-288) merges none of their mobiles. The people
    // the merge was made for (pass 36a: foreigners, residents without a mainland ID) hold such
    // documents (also 回乡证 H…, 台胞证, 外国人永久居留身份证 9…, none recognized).
    // SAFE: withheld (one person). Fix: accept 81/82/83 + 0000 as resident-ID keys (or as documents
    // for merging), and recognize the other permits as documents.
    const [truth] = await real(`SELECT count(DISTINCT mobile) AS ids, count(DISTINCT 身份证号) AS docs, sum(amount) AS s FROM (${HK_SQL}) WHERE district = '五区'`);
    expect([Number(truth!.ids), Number(truth!.docs), Number(truth!.s)]).toEqual([10, 1, 818]);
    const h = await districtTotal('rt39a_hk', '五区');
    expect(h.shown, h.said).toBe(false);
  }, 600_000);

  it('was a hole (fix: a document under a role\'s header takes the identifiers under the same role\'s header, sameRole): in a registry OF doctors, `医师身份证号` is the row\'s own doctor, yet ANOTHER_PERSONS_DOCUMENT keeps it out of the merge: one doctor\'s ten mobiles are "10 people", and their total is shown', async () => {
    // Seen: 200 [["10","838.00"]] for D (alone in 五区). Lets it through:
    // desensitize/doubtful-keys.ts:296-297 (ANOTHER_PERSONS_DOCUMENT: 医生, 医师, 护士, 经办, 负责人,
    // 法人, staff, operator, agent, nurse, ...) decides by the header alone, and :268 drops such a
    // document from the merge. Those roles are someone else only beside another person's rows; a
    // registry of doctors, nurses, agents, legal representatives or staff is about them, and its
    // entity column is theirs too (`医师手机` beside `医师身份证号`, one role).
    // SAFE: withheld (one person). Fix: take a document as the row's own when the entity column's
    // header names the same role (医师手机 / 医师身份证号), or when it is the dataset's only document
    // and pairs with the entity on every row where both are present; merge when in doubt (a wrong
    // merge counts fewer people, the safe side).
    const [truth] = await real(`SELECT count(DISTINCT 医师手机) AS ids, count(DISTINCT 医师身份证号) AS docs, sum(amount) AS s FROM (${DOCTORS_SQL}) WHERE district = '五区'`);
    expect([Number(truth!.ids), Number(truth!.docs), Number(truth!.s)]).toEqual([10, 1, 838]);
    const d = await districtTotal('rt39a_doctors', '五区');
    expect(d.shown, d.said).toBe(false);
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 5. Row-level shapes.
  // ---------------------------------------------------------------------------------------------

  it('STOPPED: fresh spellings of samples, stars, whole rows, positions and random orders in a row-level prod answer over V\'s trips are refused', async () => {
    const shapes = [
      "SELECT COLUMNS('amo.*') FROM rt39a_trips",
      'SELECT COLUMNS(c -> c <> \'mobile\') FROM rt39a_trips',
      `SELECT t FROM rt39a_trips t WHERE mobile = '${V}'`,
      `SELECT struct_extract(t, 'amount') AS district FROM rt39a_trips t WHERE mobile = '${V}'`,
      'SELECT #3, #4 FROM rt39a_trips',
      'SELECT * EXCLUDE (mobile) FROM rt39a_trips',
      'SELECT * RENAME (amount AS district) FROM rt39a_trips',
      'SELECT gender, district FROM rt39a_trips USING SAMPLE 1 ROWS',
      'SELECT gender, district FROM rt39a_trips TABLESAMPLE bernoulli(5 PERCENT)',
      'SELECT gender, district FROM rt39a_trips USING SAMPLE reservoir(3 ROWS) REPEATABLE (7)',
      `SELECT gender, district FROM rt39a_trips WHERE mobile = '${V}' OR EXISTS (SELECT 1 FROM range(4) TABLESAMPLE system(50 PERCENT))`,
      'SELECT gender, district FROM rt39a_trips ORDER BY random() LIMIT 1',
      `SELECT gender, district FROM rt39a_trips WHERE mobile = '${V}' OR uuidv7() IS NULL`,
      'SELECT unnest({\'district\': district, \'a\': amount}) FROM rt39a_trips',
      `SELECT s.* FROM (SELECT {'district': amount} AS s FROM rt39a_trips) x`,
    ];
    const seen: string[] = [];
    for (const sql of shapes) {
      const answer = await ask(sql);
      seen.push(`${sql} => ${answer.status} ${answer.code ?? JSON.stringify(answer.rows).slice(0, 80)}`);
    }
    const refused = seen.filter((s) => / => (422 DSC_ERR_(UNCHECKABLE|IDENTIFIERS)|400 SBX_ERR_SQL_\w+)$/.test(s));
    expect(refused.length, seen.join('\n')).toBe(shapes.length);
  }, 600_000);
});

// ---------------------------------------------------------------------------------------------
// 6. Twin links carried forward, in a domain of its own (the layout places every resident-ID
//    column of a tenant's grants together: the block above would blur what one person does).
// ---------------------------------------------------------------------------------------------

const TWIN_SEED = 3941;
/** P: resident 3, one of the patients. */
const P = 3;
/** Residents `p` (an index list): resident ID (under `column`), district, a score; `guardian`: a second resident-ID column (a guardian's, 60 others). */
const residentsSql = (indexes: string, column = 'id_card', guardian = false) => `SELECT ${residentIdSql('p', TWIN_SEED)} AS ${column},
    ${guardian ? `${residentIdSql('5000 + p % 60', TWIN_SEED + 1)} AS guardian_id, ` : ''}['一区', '二区', '三区', '四区'][1 + p % 4] AS district, CAST(50 + (p * 37) % 50 AS INTEGER) AS score
  FROM (SELECT unnest(${indexes}) AS p)`;
/** Patients: residents 0–14 and ten people living elsewhere (1000–1009). */
const PATIENTS_SQL = `SELECT ${residentIdSql('p', TWIN_SEED)} AS id_card, DATE '2015-01-01' + CAST((p * 97) % 3000 AS INTEGER) AS diagnosed, CAST(200 + (p * 53) % 600 AS INTEGER) AS cd4
  FROM (SELECT unnest(range(15) || range(1000, 1010)) AS p)`;
const WITHOUT_P = `list_filter(range(200), x -> x <> ${P})`;

describe('red team 39a: twin links carried forward', () => {
  const memory = useMemoryConnection();
  const domain = craftedDomain('rt39a-tw', LAB, 'red team 39a');
  let t: TestApp;
  const real = (sql: string): Promise<Record<string, unknown>[]> => memory.connection.all(sql);

  beforeAll(async () => {
    t = await domain.start();
    // Residents first, so that the patients' ingest measures the pair.
    await domain.ingest('rt39a_res', residentsSql('range(200)'), { plain: false });
    await domain.ingest('rt39a_hiv', PATIENTS_SQL, { plain: false });
    await domain.refresh();
  }, 600_000);
  afterAll(async () => {
    await t?.close({ remove: true });
  });

  const devCount = async (sql: string) => {
    const res = await t.call({ role: 'operator', org: 'rt39a-tw', sub: 'otto' }, 'POST', '/v1/query', { sql, env: 'dev' });
    expect(res.statusCode, res.body).toBe(200);
    return Number((res.json() as { rows: unknown[][] }).rows[0]![0]);
  };
  const overlapSql = (column: string) => `SELECT count(DISTINCT h.id_card) FROM rt39a_hiv h JOIN rt39a_res r ON h.id_card = r.${column}`;
  const realOverlap = async (residents: string, column: string) => Number((await real(`SELECT count(*) AS n FROM (${PATIENTS_SQL}) h JOIN (${residents}) r ON h.id_card = r.${column}`))[0]!.n);
  let first = -1;

  it('control: dev reproduces the real overlap of the patients and the residents (15)', async () => {
    expect(await realOverlap(residentsSql('range(200)'), 'id_card')).toBe(15);
    first = await devCount(overlapSql('id_card'));
    expect(first).toBe(15);
  }, 600_000);

  it('was a hole (fix: the link of the previous version\'s entity column is carried to this version\'s entity column, knownLink): version 2 of the residents without P (a patient), its identifier column renamed (id_card → id_no) beside a second resident-ID column (a guardian\'s), is measured afresh: dev\'s overlap goes from 15 to 14, the one person who left', async () => {
    // Seen: dev overlap 15 at version 1, 14 at version 2 (joined on r.id_no). Had a non-patient
    // left, the fresh measurement would read 15: dev says whether the leaver was a patient.
    // Lets it through: sandbox/engine/ingest-dataset.ts:381-386 (knownLink): a pair's link is
    // carried by column name, else only when the new version has exactly ONE column of the kind;
    // with `guardian_id` beside `id_no` neither holds, and the pair is measured on today's rows
    // (:361-366, measureOverlap). Pass 38a's fix covers the rename alone.
    // SAFE: the overlap stays 15 (or moves by 10 or more). Fix: carry the link to the column that
    // continues the old one: the version's entity column when the old column was the entity (ingest
    // knows `previousEntity`), or measure a column with no carried link only against columns no
    // version has measured; fail towards carrying (or withholding) the first measurement.
    await domain.ingest('rt39a_res', residentsSql(WITHOUT_P, 'id_no', true), { plain: false, grant: false, entity: 'id_no' });
    // The new columns are hidden until the supervisor gives them a policy: tokenized, as before.
    expectStatus(await t.call(SUPERVISOR, 'PUT', '/v1/datasets/rt39a_res/policy', { columns: { id_no: { kind: 'token', rule: 'resident_id' } } }), 200);
    await domain.refresh();
    expect(await realOverlap(residentsSql(WITHOUT_P, 'id_no', true), 'id_no')).toBe(14);
    const renamed = await devCount(overlapSql('id_no'));
    const moved = Math.abs(first - renamed);
    // What the supervisor's profile stores for the pair on version 2's id_no (the fresh measurement: 14 of 25 patients).
    const profile = expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/datasets/rt39a_res'), 200).json() as { columns: { name: string; links?: unknown[] }[] };
    const links = profile.columns.find((c) => c.name === 'id_no')?.links;
    expect(moved === 0 || moved >= 10, `dev overlap ${first} at version 1, ${renamed} at version 2 (renamed, beside a guardian's ID); id_no's links: ${JSON.stringify(links)}`).toBe(true);
  }, 600_000);
});
