/**
 * Red-team attacks, pass 15b, on the export review door (issue 11, invariants 4, 6 and 8), from
 * outside: HTTP as operators of org `p15`, supervisors and the applicant `city-lab`. It aims at the
 * fixes of pass 14: export files ordered by what they hold (the query's ORDER BY deciding only what a
 * LIMIT keeps), one namespace of org ids, the CSV formula guard, and approvals refused as stale after
 * a policy or grant change. What earlier passes cover (red-team-11's order oracle over checkable
 * outputs, 14b's formula characters after `;` and `,`, downloads by look-alikes, the policy change
 * before approval) is not repeated. Each attack's SAFE expectation is written as the platform should
 * behave: `HOLE:` tests fail on it (the comment says what happened), `STOPPED:` tests held when
 * written. Order questions are asked in two worlds, as in red-team-11: person 7 paid above 145 (yes,
 * payments 146..149) or above 149 (no), and the SAFE expectation is that both look the same.
 *
 * Setup: the `pay` dataset (test/helpers/pay-fixture.ts) granted to tenant `p15`; the applicant
 * `city-lab` registered. The grant and dataset-version tests run last (they change `pay`'s access
 * and data).
 */
import { describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { fourWithSeven, ingestPayWithout, knownAs, knownPerson, paymentsPerDistrict } from '../helpers/pay-fixture.js';
import { licenseAround, SUPERVISOR } from '../helpers/test-app.js';
import { payRedTeam } from '../helpers/two-worlds.js';

const OP = { role: 'operator', org: 'p15', sub: 'olga' } as const;
const SAM = { role: 'supervisor', org: 'authority', sub: 'sam' } as const;
const CITY = { role: 'applicant', org: 'city-lab', sub: 'rita' } as const;
type CheckBody = { name: string; status: string };

const { app, operator, exportSeen } = payRedTeam('p15');

const create = async (sql: string, format = 'csv', who: { role: 'operator'; org: string; sub: string } = OP) =>
  app().call(who, 'POST', '/v1/exports', { source: { sql }, recipient: 'city-lab', purpose: 'red team 15b', format });
/** Submits with a justification for every check that asks for review. */
const submit = async (id: string, checks: CheckBody[]) => expectStatus(await app().call(OP, 'POST', `/v1/exports/${id}/submit`, {
  justifications: Object.fromEntries(checks.filter((c) => c.status === 'review').map((c) => [c.name, 'red team 15b'])),
}), 200);
const approve = (id: string, claims: typeof SUPERVISOR = SUPERVISOR, version = 1) => app().call(claims, 'POST', `/v1/exports/${id}/reviews`, { version, decision: 'approve' });
/** The first data row of a downloaded CSV (after the BOM and the header). */
const firstRow = (csv: string) => {
  const body = csv.replace(/^\uFEFF/, '');
  return body.slice(body.indexOf('\r\n') + 2);
};
/** What the reviewers (and, once approved, the recipient) read of an export: the preview and the snapshot's digest. */
const reviewed = async (sql: string) => {
  const id = expectStatus(await app().call(operator(), 'POST', '/v1/exports', { source: { sql }, recipient: 'city-lab', purpose: 'red team 15b', format: 'csv' }), 201).json().id;
  const detail = expectStatus(await app().call(SUPERVISOR, 'GET', `/v1/exports/${id}`), 200).json();
  return { preview: detail.preview, snapshotSha256: detail.snapshotSha256 };
};

describe('row order and what a LIMIT keeps', () => {
  it('was a hole (LIMIT and OFFSET are refused in an export over personal data, anywhere in the query): in an export whose checks cannot be derived, a LIMIT still kept the rows DuckDB met first: "districts 一区 and 四区 … HAVING count(*) > 0 LIMIT 1" names 四区 exactly when person 7\'s early payments passed the WHERE (the tenth pass\'s order oracle, through the uncheckable path)', async () => {
    // The file-order fix orders a checkable output by its keys inside the query, so its LIMIT keeps
    // rows by value (`exportAnswerSql`). An output whose checks cannot be derived (HAVING, a LIMIT in a
    // row-level output, a set operation, a CTE…) is snapshotted through `valueOrderedSql`
    // (sandbox/disclosure/review-output.ts), which sorts the query's result from OUTSIDE: the
    // query's own LIMIT has already run, in DuckDB's first-met order (ties of its ORDER BY too).
    // docs/exports.md says the query's ORDER BY "decides only what a LIMIT keeps (ties broken by the
    // keys, and a row-level output's columns)"; here there is no ORDER BY at all, or only ties.
    // The operator sees the same in both worlds (outcome review, the same checks, no digest, no row
    // count); the reviewers' preview, and the recipient's file, is ONE district name, or one
    // (district, birth year) row shared by dozens of people: nothing a reviewer would hold back.
    // Seen: preview [['四区']] (yes) against [['一区']] (no); [['四区', 1971]] (yes: person 7's birth
    // year, their row 146) against [['四区', 1954]] (no: person 11's row 220), for the second and the
    // third query (ORDER BY district is one tie). Snapshot digests differ likewise.
    const [three, four, seven, eleven] = [await knownPerson(3), await knownPerson(4), await knownPerson(7), await knownPerson(11)];
    expect(seven.year).not.toBe(eleven.year);
    const person7 = await knownAs(7);
    for (const sql of [
      async (x: number) => `SELECT district FROM pay WHERE district IN ('一区', '四区') AND mobile NOT IN ('${three.mobile}', '${four.mobile}') AND (NOT (${person7}) OR amount > ${x}) GROUP BY district HAVING count(*) > 0 LIMIT 1`,
      async (x: number) => `SELECT district, id_card_birth_year AS y FROM pay WHERE ${await fourWithSeven(x)} LIMIT 1`,
      async (x: number) => `SELECT district, id_card_birth_year AS y FROM pay WHERE ${await fourWithSeven(x)} ORDER BY district LIMIT 1`,
    ]) {
      // SAFE: refused before anything runs, the same in both worlds: nothing for reviewers or the recipient to read.
      for (const x of [145, 149]) {
        const refused = await app().call(operator(), 'POST', '/v1/exports', { source: { sql: await sql(x) }, recipient: 'city-lab', purpose: 'red team 15b', format: 'csv' });
        expect(refused.statusCode, await sql(x)).toBe(422);
        expect(refused.json().code).toBe('DSC_ERR_UNCHECKABLE');
      }
    }
  });

  it('STOPPED: checkable outputs: ties of the query\'s ORDER BY, a NULL key, keys not shown, and a round5 version read the same in both worlds (LIMIT and OFFSET are refused since)', async () => {
    const [three, four] = [await knownPerson(3), await knownPerson(4)];
    const person7 = await knownAs(7);
    const where = (x: number) => `district IN ('一区', '四区') AND mobile NOT IN ('${three.mobile}', '${four.mobile}') AND (NOT (${person7}) OR amount > ${x})`;
    for (const sql of [
      // length(district) is 2 for both: the file is ordered by its keys, not by who came first.
      (x: number) => `SELECT district FROM pay WHERE ${where(x)} GROUP BY district ORDER BY length(district)`,
      (x: number) => `SELECT district FROM pay WHERE ${where(x)} GROUP BY district ORDER BY length(district) DESC`,
      // A NULL key (四区 becomes NULL): NULL last, whatever came first.
      (x: number) => `SELECT nullif(district, '四区') AS k FROM pay WHERE ${where(x)} GROUP BY k`,
      // Keys not shown: the rows print alike, and are one per group.
      (x: number) => `SELECT 'row' AS r FROM pay WHERE ${where(x)} GROUP BY district`,
    ]) {
      const yes = await reviewed(sql(145));
      expect(yes.preview.rows.length, sql(145)).toBeGreaterThan(0);
      expect(yes, sql(145)).toEqual(await reviewed(sql(149)));
    }
    // A rounded version keeps the previous version's rows, in the order of their keys.
    const rounded = async (x: number) => {
      const who = operator();
      const created = expectStatus(await create(`SELECT district, count(*) AS n FROM pay WHERE ${where(x)} GROUP BY district ORDER BY n DESC`, 'csv', who), 201).json();
      expect(created.outcome).toBe('pass');
      expectStatus(await app().call(who, 'POST', `/v1/exports/${created.id}/versions`, { mitigation: 'round5', columns: ['n'] }), 201);
      const detail = expectStatus(await app().call(SUPERVISOR, 'GET', `/v1/exports/${created.id}`), 200).json();
      return { preview: detail.preview, snapshotSha256: detail.snapshotSha256 };
    };
    // (The counts themselves differ by person 7's four payments, 1,960 against 1,965 rounded: a count
    // of rows against one known from elsewhere, the documented limit. The order does not.)
    for (const x of [145, 149]) expect((await rounded(x)).preview.rows.map((r: unknown[]) => r[0])).toEqual(['一区', '四区']);
  });
});

describe('CSV cells', () => {
  it('was a hole (NUL joins the characters prefixed): a text cell starting with a NUL character before "=" is delivered as it is: ASVS 5.0 (1.2.10) lists the null character with = + - @ and tab among the characters escaped with a single quote when first in a field', async () => {
    // desensitize/csv-cells.ts FORMULA_START neutralizes = + - @ tab CR LF at the start of a cell and
    // after ; or , — not \0, which OWASP ASVS 5.0 requirement 1.2.10 names ("special characters
    // (including '=', '+', '-', '@', '\t' (tab), and '\0' (null character)) must be escaped with a
    // single quote if they appear as the first character in a field value"): readers that drop the
    // NUL see a cell starting with "=". Outcome pass (no personal data), one supervisor's approval.
    // Seen: the data row begins with the bytes 00 '=' 'H' (no quote before '='). Also delivered as
    // they are, and not claimed here (no spreadsheet was run): a leading space or NBSP before "=",
    // the full-width "＝", and a leading "|".
    const created = expectStatus(await create(`SELECT chr(0) || '=HYPERLINK(''http://x.invalid/'')' AS nul, ' =1+1' AS space, chr(160) || '=1+1' AS nbsp, '＝1+1' AS fullwidth, '|calc' AS pipe`), 201).json();
    expect(created.outcome).toBe('pass');
    await submit(created.id, created.checks);
    expectStatus(await approve(created.id), 200);
    const row = firstRow(expectStatus(await app().call(CITY, 'GET', `/v1/exports/${created.id}/download`), 200).body);
    // SAFE: no cell of the row starts with NUL followed by a formula character.
    expect(row.startsWith('\u0000=')).toBe(false);
  });

  it('STOPPED: column names are cells too: headers spelled as formulas ("=…", "@…", "a;=b") are prefixed; numeric columns stay numbers and text looking like one is prefixed', async () => {
    const created = expectStatus(await create(`SELECT 1 AS "=HYPERLINK(""http://x.invalid/"")", '=1+1' AS "@SUM(1)", -3 AS "a;=b", '-2' AS "+t"`), 201).json();
    await submit(created.id, created.checks);
    expectStatus(await approve(created.id), 200);
    const csv = expectStatus(await app().call(CITY, 'GET', `/v1/exports/${created.id}/download`), 200).body.replace(/^\uFEFF/, '');
    const [header, row] = csv.split('\r\n');
    expect(header).toBe(`"'=HYPERLINK(""http://x.invalid/"")",'@SUM(1),a;'=b,'+t`);
    expect(row).toBe(`1,'=1+1,-3,'-2`);
  });
});

describe('one namespace of org ids', () => {
  it('STOPPED: a tenant and an applicant created at once under one id (five pairs), a revoked or suspended tenant\'s id as an applicant, and an upper-case spelling: never two organizations under one id, and no export to an operating entity', async () => {
    const license = licenseAround(new Date(), -1, 100);
    const ids = ['dual-a', 'dual-b', 'dual-c', 'dual-d', 'dual-e'];
    const answers = await Promise.all(ids.flatMap((id) => [
      app().call(SUPERVISOR, 'POST', '/v1/tenants', { id, name: id, ...license }),
      app().call(SAM, 'POST', '/v1/applicants', { id, name: id }),
    ]));
    for (const [i, id] of ids.entries()) {
      const [tenant, applicant] = [answers[2 * i]!, answers[2 * i + 1]!];
      expect([tenant.statusCode, applicant.statusCode].filter((s) => s === 201), id).toHaveLength(1);
      const tenants = (await app().call(SUPERVISOR, 'GET', '/v1/tenants')).json().tenants.filter((x: { id: string }) => x.id === id);
      const applicants = (await app().call(SUPERVISOR, 'GET', '/v1/applicants')).json().applicants.filter((x: { id: string }) => x.id === id);
      expect(tenants.length + applicants.length, id).toBe(1);
    }
    // A revoked tenant's id, and a suspended one's, stay taken.
    expectStatus(await app().call(SUPERVISOR, 'POST', '/v1/tenants', { id: 'gone-org', name: 'gone', ...license }), 201);
    expectStatus(await app().call(SUPERVISOR, 'POST', '/v1/tenants/gone-org/revoke'), 200);
    expect((await app().call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'gone-org', name: 'gone' })).json().code).toBe('APP_ERR_ALREADY_EXISTS');
    expectStatus(await app().call(SUPERVISOR, 'POST', '/v1/tenants', { id: 'resting-org', name: 'resting', ...license }), 201);
    expectStatus(await app().call(SUPERVISOR, 'POST', '/v1/tenants/resting-org/suspend'), 200);
    expect((await app().call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'resting-org', name: 'resting' })).json().code).toBe('APP_ERR_ALREADY_EXISTS');
    // Upper case is not an org id at all.
    expect((await app().call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'P15', name: 'p15 shouting' })).statusCode).toBe(400);
    // No export goes to an operating entity, whichever state it is in.
    for (const recipient of ['gone-org', 'resting-org', 'p15', 'P15']) {
      const res = await app().call(OP, 'POST', '/v1/exports', { source: { sql: 'SELECT 42 AS answer' }, recipient, purpose: 'red team 15b', format: 'csv' });
      expect(res.statusCode, recipient).toBe(400);
    }
  });
});

describe('approvals after a change (these run last: they change pay\'s grant and data)', () => {
  it('STOPPED: a tenant suspended between submission and approval is not approved (nothing packaged); a grant narrowed meanwhile makes the approval stale; a grant only extended does not', async () => {
    // Suspension: the approval is refused, the export stays submitted, nothing is packaged.
    const a = expectStatus(await create(paymentsPerDistrict([])), 201).json();
    await submit(a.id, a.checks);
    expectStatus(await app().call(SUPERVISOR, 'POST', '/v1/tenants/p15/suspend'), 200);
    const whileSuspended = await approve(a.id);
    expectStatus(await app().call(SUPERVISOR, 'POST', '/v1/tenants/p15/resume'), 200);
    expect(whileSuspended.json().code).toBe('AUTH_ERR_TENANT_SUSPENDED');
    expect(expectStatus(await app().call(SUPERVISOR, 'GET', `/v1/exports/${a.id}`), 200).json().status).toBe('submitted');
    expect((await app().call(CITY, 'GET', `/v1/exports/${a.id}/download`)).json().code).toBe('EXP_ERR_NOT_APPROVED');
    // Extension: the same columns, a later day: what the tenant may see is the same.
    const until = licenseAround(new Date(), -1, 90).licenseTo;
    expectStatus(await app().call(SUPERVISOR, 'POST', '/v1/tenants/p15/grants', { dataset: 'pay', purpose: 'test, extended', until }), 201);
    expect(expectStatus(await approve(a.id), 200).json().status).toBe('approved');
    // Narrowing: district no longer granted. The approval is stale, and nothing is delivered.
    const b = expectStatus(await create(paymentsPerDistrict([])), 201).json();
    await submit(b.id, b.checks);
    expectStatus(await app().call(SUPERVISOR, 'POST', '/v1/tenants/p15/grants', { dataset: 'pay', columns: ['id_card', 'mobile', 'amount'], purpose: 'test, narrowed', until }), 201);
    const stale = await approve(b.id);
    expect(stale.json().code).toBe('EXP_ERR_CHECKS_STALE');
    expect((await app().call(CITY, 'GET', `/v1/exports/${b.id}/download`)).statusCode).toBe(409);
    // Back to the whole dataset for the next test.
    expectStatus(await app().call(SUPERVISOR, 'POST', '/v1/tenants/p15/grants', { dataset: 'pay', purpose: 'test', until }), 201);
    await app().app.controlPlane.refinery.refresh('p15');
  }, 300_000);

  it('was a hole (an approval after a newer version of a source dataset is refused as stale): a version made before the dataset\'s next version (person 7\'s rows taken out, say after their objection) is approved and delivered afterwards, from data the domain no longer holds; the same SQL now answers from the new version', async () => {
    // Pass 14b made an approval after a POLICY or GRANT change stale (`assertPolicyUnchanged` in
    // tenants/exports/export-service.ts), through the access fingerprint of each source
    // (tenants/lineage.ts `verdict`). The fingerprint covers the column policies and the grant's
    // columns, not the dataset's VERSION, which each SourceRef also records: a new version with the
    // same columns leaves every verdict `ok`. DESIGN.md §3.7: withdrawal of data (a data subject's
    // objection) suspends everything derived from it, found through lineage. Seen: the export of
    // payments per district, submitted under version 1 (四区: 2000 payments, person 7's 20 among
    // them), approved with 200 after version 2 (without person 7) was published, and downloaded by
    // the recipient with 四区 at 2000; a new export of the same SQL counts 1980.
    const created = expectStatus(await create(paymentsPerDistrict([])), 201).json();
    await submit(created.id, created.checks);
    // Version 2: the same columns, without person 7 (rows 140..159).
    await ingestPayWithout(app(), 7, 'p15');
    // The domain now answers from version 2: 四区 without person 7's 20 payments.
    const answer = expectStatus(await app().call(operator(), 'POST', '/v1/query', { sql: `SELECT count(*) AS n FROM pay WHERE district = '四区'`, env: 'prod' }), 200).json();
    expect(answer.rows.map((r: unknown[]) => Number(r[0]))).toEqual([1980]);
    const fourNow = (csv: string) => csv.split('\r\n').find((line) => line.startsWith('四区'));
    const approval = await approve(created.id);
    const download = approval.statusCode === 200 ? await app().call(CITY, 'GET', `/v1/exports/${created.id}/download`) : undefined;
    // SAFE: the approval is refused as stale (made again from the current version), nothing delivered.
    expect({ approval: approval.statusCode, four: download ? fourNow(download.body) : undefined }).toEqual({ approval: 409, four: undefined });
  }, 300_000);
});
