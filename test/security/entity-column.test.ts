/**
 * Invariant 8: people are counted on the column each row is about (issue #11: "the dataset's
 * resident-ID or USCC column, declared in the catalog, defaulting from recognition"). Counted on
 * another person's identifier, one patient's rows became 10 "people" (red-team pass 21a). Ingest
 * takes the metadata's `entity`, or settles it from recognition only where that cannot be wrong:
 * one identifier, or several that pair one to one. Otherwise the ingest is refused, naming them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { residentIdCheckChar } from '../../desensitize/index.js';
import { datasetMeta, ingest, residentsCsv } from '../helpers/dataset-fixture.js';
import { expectStatus } from '../helpers/expect-status.js';
import { licenseAround, startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const OPERATOR = { role: 'operator', org: 'clinic-lab', sub: 'olive' } as const;
const RARE = '亨廷顿舞蹈症';

/**
 * 200 prescriptions: the patient's mobile, the prescriber's resident ID (10 doctors in turn) and a
 * diagnosis. Patient 0 has 40 visits (so 10 doctors) and the rare diagnosis; every other patient one.
 */
function prescriptionsCsv(): Buffer {
  const lines = ['prescriber_id,mobile,diagnosis'];
  for (let i = 0; i < 200; i++) {
    const first17 = `130102197501${10 + (i % 10)}${100 + (i % 10)}`;
    const patient = i < 40 ? 0 : i - 39;
    const mobile = `139${String(10_000_000 + patient * 7919).slice(-8)}`;
    lines.push(`${first17}${residentIdCheckChar(first17)},${mobile},${patient === 0 ? RARE : ['高血压', '糖尿病', '哮喘'][patient % 3]}`);
  }
  return Buffer.from(`${lines.join('\n')}\n`);
}

describe('the column people are counted on', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close({ remove: true }));

  const nothingStored = async (id: string) => {
    expect((await t.call(SUPERVISOR, 'GET', `/v1/datasets/${id}`)).statusCode).toBe(404);
    const dir = path.join(t.dataDir, 'domain', id);
    expect(fs.existsSync(dir) ? fs.readdirSync(dir) : []).toEqual([]);
  };

  it('refuses identifiers of different people that recognition cannot tell apart, naming them, and stores nothing', async () => {
    const res = await ingest(t, datasetMeta('rx'), prescriptionsCsv());
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('CAT_ERR_ENTITY_AMBIGUOUS');
    expect(res.json().message).toContain('"prescriber_id" (resident_id)');
    expect(res.json().message).toContain('"mobile" (mobile)');
    await nothingStored('rx');
    const entries = (await t.call(SUPERVISOR, 'GET', '/v1/audit?action=dataset.ingest&limit=100')).json().entries;
    expect(entries.some((e: { target: string; details: { outcome: string } }) => e.target === 'dataset:rx' && e.details.outcome === 'CAT_ERR_ENTITY_AMBIGUOUS')).toBe(true);
  });

  it.each([
    ['a column not in the file', 'patient', prescriptionsCsv()],
    ['another spelling of a column', 'Mobile', prescriptionsCsv()],
    ['a column of names (many people share one)', 'name', Buffer.from(residentsCsv(50).csv)],
  ])('refuses an entity naming %s', async (_label, entity, file) => {
    const res = await ingest(t, datasetMeta('rx', { entity }), file);
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('CAT_ERR_ENTITY_COLUMN');
    await nothingStored('rx');
  });

  it('counts on a column recognition knows no format of when the supervisor names it (an outpatient number), which then is an identifier', async () => {
    // Visits keyed by an outpatient number, with the doctor's resident ID: recognition alone would count doctors.
    const lines = ['outpatient_no,doctor_id,diagnosis'];
    for (let i = 0; i < 200; i++) {
      const first17 = `130102197501${10 + (i % 10)}${100 + (i % 10)}`;
      const patient = i < 40 ? 0 : i - 39;
      lines.push(`MZ${String(patient).padStart(6, '0')},${first17}${residentIdCheckChar(first17)},${patient === 0 ? RARE : ['高血压', '糖尿病', '哮喘'][patient % 3]}`);
    }
    const view = expectStatus(await ingest(t, datasetMeta('visits', { entity: 'outpatient_no' }), Buffer.from(`${lines.join('\n')}\n`)), 201).json();
    expect(view.entity).toBe('outpatient_no');
    const column = view.columns.find((c: { name: string }) => c.name === 'outpatient_no');
    expect(column).toMatchObject({ pii: { kind: 'subject_id' }, policy: { kind: 'token' }, topValues: null });
  });

  /** 200 inpatients by hospital number only (no identifier recognition knows), age, gender, district, diagnosis; inpatient 7 alone is 97. */
  const inpatientsCsv = (header: string) => {
    const lines = [`${header},年龄,性别,区县,诊断`];
    for (let p = 0; p < 200; p++) lines.push(`ZY${String(p).padStart(6, '0')},${p === 7 ? 97 : 20 + (p % 60)},${['男', '女'][p % 2]},${['东区', '西区'][p % 2]},${p === 7 ? RARE : ['高血压', '糖尿病', '哮喘'][p % 3]}`);
    return Buffer.from(`${lines.join('\n')}\n`);
  };

  it('counts on a person\'s number by its header (住院号, 病历号, patient_id, member_no) when nothing is declared, which then is an identifier; a doctor\'s staff number is not the patient\'s', async () => {
    for (const [header, id] of [['住院号', 'ward1'], ['病历号', 'ward2'], ['PatientID', 'ward3'], ['member_no', 'ward4']] as const) {
      const view = expectStatus(await ingest(t, datasetMeta(id), inpatientsCsv(header)), 201).json();
      expect(view.entity, header).toBe(header);
      expect(view.columns.find((c: { name: string }) => c.name === header), header).toMatchObject({ pii: { kind: 'subject_id' }, policy: { kind: 'token' }, topValues: null });
    }
    for (const [header, id] of [['医生工号', 'ward5'], ['doctor_staff_id', 'ward6'], ['visit_no', 'ward7']] as const) {
      expect(expectStatus(await ingest(t, datasetMeta(id), inpatientsCsv(header)), 201).json().entity, header).toBeNull();
    }
  });

  it('refuses a person\'s number beside a recognized identifier it does not pair with (an outpatient number beside the doctor\'s resident ID), naming both', async () => {
    const lines = ['门诊号,doctor_id,diagnosis'];
    for (let i = 0; i < 200; i++) {
      const first17 = `130102197501${10 + (i % 10)}${100 + (i % 10)}`;
      lines.push(`MZ${String(i < 40 ? 0 : i - 39).padStart(6, '0')},${first17}${residentIdCheckChar(first17)},${['高血压', '糖尿病', '哮喘'][i % 3]}`);
    }
    const res = await ingest(t, datasetMeta('mz'), Buffer.from(`${lines.join('\n')}\n`));
    expect([res.statusCode, res.json().code], res.body).toEqual([400, 'CAT_ERR_ENTITY_AMBIGUOUS']);
    expect(res.json().message).toContain('"doctor_id" (resident_id)');
    expect(res.json().message).toContain('"门诊号" (a person\'s number)');
    await nothingStored('mz');
  });

  it('keeps counting a dataset\'s people on the kind its earlier versions counted them on, and refuses a version that would count another', async () => {
    const csv = (withId: boolean, withMobile: boolean) => {
      const { ids, mobiles } = residentsCsv(120);
      const header = [...(withId ? ['id_card'] : []), ...(withMobile ? ['mobile'] : []), 'amount'];
      return Buffer.from(`${[header.join(','), ...ids.map((id, i) => [...(withId ? [id] : []), ...(withMobile ? [mobiles[i]] : []), i % 50].join(','))].join('\n')}\n`);
    };
    expect(expectStatus(await ingest(t, datasetMeta('payers'), csv(false, true)), 201).json().entity).toBe('mobile');
    // A version adding resident IDs (a stronger kind, one to one with the mobiles) keeps the mobiles.
    expect(expectStatus(await ingest(t, datasetMeta('payers'), csv(true, true)), 201).json()).toMatchObject({ version: 2, entity: 'mobile' });
    // Naming the IDs, or dropping the mobiles, would count on another kind: earlier answers and releases could not be compared.
    for (const [meta, file] of [[datasetMeta('payers', { entity: 'id_card' }), csv(true, true)], [datasetMeta('payers'), csv(true, false)]] as const) {
      const res = await ingest(t, meta, file);
      expect([res.statusCode, res.json().code], res.body).toEqual([409, 'CAT_ERR_ENTITY_CHANGED']);
    }
    expect(expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/datasets/payers'), 200).json().versions).toEqual([2, 1]);
  });

  it('settles one of several identifiers that pair one to one (a resident\'s ID and mobile) without being told', async () => {
    const view = expectStatus(await ingest(t, datasetMeta('people'), Buffer.from(residentsCsv(300).csv)), 201).json();
    expect(view.entity).toBe('id_card');
  });

  it('counts on the declared column: one patient\'s rare diagnosis is withheld in prod and not in dev, while groups of many patients answer', async () => {
    const view = expectStatus(await ingest(t, datasetMeta('rx', { entity: 'mobile' }), prescriptionsCsv()), 201).json();
    expect(view.entity).toBe('mobile');
    const license = licenseAround(new Date(), -1, 100);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants', { id: OPERATOR.org, name: 'clinic lab', ...license }), 201);
    for (const dataset of ['rx', 'ward1']) expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/tenants/${OPERATOR.org}/grants`, { dataset, purpose: 'diagnosis statistics', until: license.licenseTo }), 201);
    await t.app.controlPlane.refinery.refresh(OPERATOR.org);
    // Operators see which column people are counted on (a name, no value).
    expect(expectStatus(await t.call(OPERATOR, 'GET', '/v1/datasets/rx'), 200).json().entity).toBe('mobile');

    const prod = expectStatus(await t.call(OPERATOR, 'POST', '/v1/query', { sql: 'SELECT diagnosis, count(*) AS n FROM rx GROUP BY ALL ORDER BY diagnosis', env: 'prod' }), 200).json();
    const shown = (prod.rows as string[][]).map((r) => r[0]);
    expect(shown).not.toContain(RARE);
    // (A second group is withheld beside it, so that the total cannot give it back.)
    expect(shown.length).toBeGreaterThan(0);
    const dev = expectStatus(await t.call(OPERATOR, 'POST', '/v1/query', { sql: 'SELECT DISTINCT diagnosis FROM rx', env: 'dev' }), 200).json();
    expect((dev.rows as string[][]).map((r) => r[0])).not.toContain(RARE);
  });

  it('was a hole (fix: a person\'s number by its header is the entity, personNumberColumns): inpatients known by their 住院号 alone answered the one 97-year-old\'s diagnosis in prod; now refused, while counts over many patients answer', async () => {
    // Red-team pass 36a saw [[97, "女", "西区", RARE]]: no column was personal data, so the table was not checked.
    const one = await t.call(OPERATOR, 'POST', '/v1/query', { sql: 'SELECT 年龄, 性别, 区县, 诊断 FROM ward1 WHERE 年龄 = 97', env: 'prod' });
    expect(one.statusCode, one.body).not.toBe(200);
    expect(one.body).not.toContain(RARE);
    const groups = expectStatus(await t.call(OPERATOR, 'POST', '/v1/query', { sql: 'SELECT 区县, count(*) AS n FROM ward1 GROUP BY ALL ORDER BY 区县', env: 'prod' }), 200).json();
    expect(groups.rows).toEqual([['东区', '100'], ['西区', '100']]);
  });
});
