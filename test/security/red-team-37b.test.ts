/**
 * Red-team pass 37b: the dev twin's overlap layout (`links`, docs/catalog.md "A dev twin that joins
 * (issue #10)") attacked across dataset versions, from outside (HTTP only, as an operator of
 * `rt37b-org`). The promise: nothing in dev describes a real person. Every rate a link keeps is over
 * 10 identifiers or more on each side (`measureOverlap`, sandbox/engine/ingest-dataset.ts), and the
 * twin reproduces the measured overlap exactly (`layoutPopulation`, desensitize/twin-population.ts):
 * one count of at least 10 people per pair, harmless alone. But each new version of a dataset
 * measures its links afresh against the others' current versions, and the refinery lays the twins out
 * again: two versions one person apart give two twins whose overlap differs by that person, and the
 * operator reads both in dev, with no check and nothing reported (prod's N against N-1 pairs are
 * reported to supervisors: `query.differencing`). A resident who leaves (a death notice, a move the
 * operator knows of) or arrives is then shown to be, or not to be, an HIV patient.
 * `was a hole` tests assert the SAFE outcome and failed when written (the comment says what was
 * seen, which file:line let it through, what SAFE means and a fix); `STOPPED:` tests hold and must
 * fail if the defence breaks; the control shows the method reads the truth where it should.
 * The truth is computed independently from the generating SQL in an in-memory DuckDB (`real`).
 *
 * Setup (test/helpers/crafted-domain.ts: every dataset ingested through the trusted pipeline with
 * the default policies, resident IDs tokenized, granted to `rt37b-org`):
 * - world A: `rt37b_res` (200 residents: resident ID, district, a score) and, ingested after it,
 *   `rt37b_hiv` (25 HIV patients: 15 of the residents and 10 people living elsewhere; a diagnosis
 *   date and a CD4 count). Version 2 of `rt37b_res` is version 1 without P (resident 3, a patient),
 *   who left the city.
 * - world B (resident IDs from another seed, no overlap with world A): `rt37b_resb` (200 residents)
 *   and `rt37b_hivb` (25 patients: 15 residents, 10 elsewhere). Version 2 of `rt37b_resb` adds N (a
 *   patient who moved into the city); version 3 is version 1 plus M instead (a newcomer who is no
 *   patient): the counterfactual of version 2.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { residentIdSql } from '../../desensitize/index.js';
import { craftedDomain } from '../helpers/crafted-domain.js';
import { expectStatus } from '../helpers/expect-status.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import { SUPERVISOR, type TestApp } from '../helpers/test-app.js';
import { twinProbes } from '../helpers/twin-probes.js';
import { waitUntil } from '../helpers/wait-until.js';

const ORG = 'rt37b-org';
const OPERATOR = { role: 'operator', org: ORG, sub: 'olga' } as const;
const LAB = { id: 'rt37b-lab', name: 'Red team 37b lab' };

const DISTRICTS = "['一区', '二区', '三区', '四区']";
/** Residents `p` (an index list) of seed `seed`: resident ID, district, a score. */
const residentsSql = (seed: number, indexes: string) => `SELECT ${residentIdSql('p', seed)} AS id_card, ${DISTRICTS}[1 + p % 4] AS district, CAST(50 + (p * 37) % 50 AS INTEGER) AS score
  FROM (SELECT unnest(${indexes}) AS p)`;
/** Patients: residents 0..14 of `seed`, and 10 people living elsewhere (indexes 1000..1009 of the same seed). */
const patientsSql = (seed: number) => `SELECT ${residentIdSql('p', seed)} AS id_card, DATE '2015-01-01' + CAST((p * 97) % 3000 AS INTEGER) AS diagnosed, CAST(200 + (p * 53) % 600 AS INTEGER) AS cd4
  FROM (SELECT unnest(range(15) || range(1000, 1010)) AS p)`;

// World A: P (resident 3, a patient) leaves.
const SEED_A = 3701;
const P = 3;
const RES_A_V1 = residentsSql(SEED_A, 'range(200)');
const RES_A_V2 = residentsSql(SEED_A, `list_filter(range(200), x -> x <> ${P})`);
const HIV_A = patientsSql(SEED_A);

// World B: N (index 1000, a patient living elsewhere) moves in; counterfactual: M (index 5000, no patient) moves in instead.
const SEED_B = 3702;
const N = 1000;
const M = 5000;
const RES_B_V1 = residentsSql(SEED_B, 'range(200)');
const RES_B_V2 = residentsSql(SEED_B, `range(200) || [${N}]`);
const RES_B_V3 = residentsSql(SEED_B, `range(200) || [${M}]`);
const HIV_B = patientsSql(SEED_B);

/** The overlap of the patients' and the residents' identifiers, as an operator asks it in dev (tokens join within a tenant). */
const overlapSql = (hiv: string, res: string) => `SELECT count(DISTINCT h.id_card) FROM ${hiv} h JOIN ${res} r ON h.id_card = r.id_card`;

/** The question in prod: patients who are residents. */
const PROD_QUESTION = 'SELECT count(*) FROM rt37b_hiv h JOIN rt37b_res r ON h.id_card = r.id_card';

describe('red-team 37b: the twin\'s overlap layout across versions', () => {
  const memory = useMemoryConnection();
  const domain = craftedDomain(ORG, LAB, 'red team 37b');
  let t: TestApp;
  const { dev, real, prod } = twinProbes(() => t, memory, OPERATOR);
  const devCount = async (sql: string) => Number((await dev(sql))[0]![0]);
  const realOverlap = async (hiv: string, res: string) => Number((await real(`SELECT count(*) AS n FROM (${hiv}) h JOIN (${res}) r USING (id_card)`))[0]!.n);
  /** A new version of an already granted dataset, and the tenant's files rebuilt. */
  const newVersion = async (id: string, sql: string) => {
    await domain.ingest(id, sql, { plain: false, grant: false });
    await domain.refresh();
  };
  const versionOf = async (id: string) => (await domain.profileOf(id)).version;

  beforeAll(async () => {
    t = await domain.start();
    // The residents first: the patients' ingest measures its links against them.
    await domain.ingest('rt37b_res', RES_A_V1, { plain: false });
    await domain.ingest('rt37b_resb', RES_B_V1, { plain: false });
    await domain.ingest('rt37b_hiv', HIV_A, { plain: false });
    await domain.ingest('rt37b_hivb', HIV_B, { plain: false });
    await domain.refresh();
  }, 120_000);

  afterAll(async () => {
    await t.close({ remove: true });
  });

  /** World A's dev overlap while residents is at version 1 (the control reads it, the hole compares). */
  let overlapA1 = -1;
  /** World B's dev overlap at version 1. */
  let overlapB1 = -1;
  /** Prod's answer to the same question at version 1, then at version 2. */
  const prodAnswers: string[] = [];

  it('control: dev reproduces the real overlap exactly (15 of the 25 patients are residents), identifiers synthetic', async () => {
    expect(await realOverlap(HIV_A, RES_A_V1)).toBe(15);
    expect(await realOverlap(HIV_B, RES_B_V1)).toBe(15);
    // The two worlds share nobody.
    expect(await realOverlap(HIV_A, RES_B_V1)).toBe(0);
    overlapA1 = await devCount(overlapSql('rt37b_hiv', 'rt37b_res'));
    overlapB1 = await devCount(overlapSql('rt37b_hivb', 'rt37b_resb'));
    expect([overlapA1, overlapB1]).toEqual([15, 15]);
    prodAnswers.push(await prod(PROD_QUESTION));
    // The twins hold the real numbers of people (scale 1 under 100k rows: every entity kept).
    expect(await devCount('SELECT count(DISTINCT id_card) FROM rt37b_hiv')).toBe(25);
    expect(await devCount('SELECT count(DISTINCT id_card) FROM rt37b_res')).toBe(200);
  }, 60_000);

  it('was a hole (fix: a pair of datasets is measured once, its link carried forward to later versions of either): a resident who leaves (version 2 of the residents, one person fewer) moves the dev twin\'s overlap with the HIV patients by exactly that person: the leaver is an HIV patient', async () => {
    // What the operator sees: GET /v1/datasets names version 2 of rt37b_res with 199 rows (one
    // resident left: P, whose departure the operator knows of), and dev's overlap of the two twins
    // goes from 15 to 14. Had a non-patient left, it would stay 15 (the link measured at version 2
    // counts the same 15 patients). So P has HIV, a fact about one real person, read in dev with no
    // check and nothing reported.
    // Why: sandbox/engine/ingest-dataset.ts:348-356 measures each new version's links against the
    // others' current versions, and :391-394 (`measureOverlap`) keeps them where the overlap and
    // both outsides are 0 or >= 10 identifiers (15/10/185 and 14/11/185 both pass), as rates to
    // 0.1 point (exact counts under 1,000); tenants/refinery.ts:87 plans the twins from the current
    // versions only, desensitize/twin-population.ts:216 (`layoutPopulation`, two columns: "exactly
    // the measured overlap") lays each version out anew, and :169 keeps every entity (scale 1
    // below 100k rows). The threshold judges each version alone; nothing compares a version's
    // figures with the previous one's (prod's answer history does, and reports the pair).
    // SAFE: one person's arrival or departure does not move what dev shows by 1 to 9 people: the
    // twin's overlap across the two versions is the same, or 10 or more apart.
    // Fix: make overlap sizes coarse and stable across versions (round the overlap and each outside
    // part to a multiple of 10, or a seeded noise that is the same for the same true count and that
    // a one-person change moves only with probability ~1/10; better, keep a dataset's layout from
    // its previous version unless the change is 10 identifiers or more), and say in catalog.md that
    // versions are differencing pairs.
    const before = await versionOf('rt37b_res');
    await newVersion('rt37b_res', RES_A_V2);
    expect(await versionOf('rt37b_res')).toBe(before + 1);
    const listed = expectStatus(await t.call(OPERATOR, 'GET', '/v1/datasets/rt37b_res'), 200).json() as { rows?: number; version?: number };
    expect(listed.rows).toBe(199);
    // The truth: P is one of the patients, and only P left.
    expect(await realOverlap(HIV_A, RES_A_V2)).toBe(14);
    expect(Number((await real(`SELECT count(*) AS n FROM (${HIV_A}) WHERE id_card = ${residentIdSql(String(P), SEED_A)}`))[0]!.n)).toBe(1);
    const overlapA2 = await devCount(overlapSql('rt37b_hiv', 'rt37b_res'));
    prodAnswers.push(await prod(PROD_QUESTION));
    expect(overlapA1).toBe(15);
    const moved = Math.abs(overlapA1 - overlapA2);
    expect(moved === 0 || moved >= 10, `dev overlap ${overlapA1} at version ${before}, ${overlapA2} at version ${before + 1}: P's HIV status`).toBe(true);
  }, 90_000);

  it('STOPPED (reported): the same question in prod at both versions (15, then 14 patients among the residents) is reported to supervisors as a differencing pair', async () => {
    // Prod shows both counts (each over 10 people) and reports the pair (docs/sandbox.md, "Pairs of
    // a tenant's own answers"): the defence prod has and dev lacks. Both answers were asked by the
    // two tests above, at version 1 and at version 2.
    expect(prodAnswers).toEqual(['[["15"]]', '[["14"]]']);
    const hash = createHash('sha256').update(PROD_QUESTION).digest('hex');
    type Pair = { details: { sqlSha256: string; smallestDifference: number } };
    let pair: Pair | undefined;
    await waitUntil('the two versions\' answers as a pair in the audit', async () => {
      const entries = expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/audit?action=query.differencing&limit=100'), 200).json().entries as Pair[];
      pair = entries.find((e) => e.details.sqlSha256 === hash);
      return pair !== undefined;
    }, { deadlineMs: 30_000, intervalMs: 200 });
    expect(pair!.details.smallestDifference).toBe(1);
  }, 60_000);

  it('was a hole (fix: as above, a withheld pair stays withheld): a newcomer (version 2 of the residents, one person more) who is an HIV patient takes the dev twins\' overlap from 15 to 0 (the link refused: 9 patients left outside), a newcomer who is not leaves it at 15', async () => {
    // What the operator sees: after version 2 (N moved in) dev's two twins no longer join at all
    // (0), where the counterfactual version 3 (M moved in instead, no patient) joins 15. The
    // refusal of a link whose outside part is 1 to 9 identifiers (ingest-dataset.ts:391-392) is
    // decided on the real data, so the threshold itself is the oracle: N's arrival made the
    // patients outside the residents 9. The same holds for any suppression of a link decided on
    // the true counts.
    // SAFE: two versions that differ only in whether the one newcomer is a patient give the same
    // overlap in dev.
    // Fix: as above; a link refused must not look different from the link of the neighbouring
    // version (keep the previous version's layout, or round parts to multiples of 10 before the
    // threshold is applied so that the refusal does not hinge on one person).
    await newVersion('rt37b_resb', RES_B_V2);
    expect(await realOverlap(HIV_B, RES_B_V2)).toBe(16);
    const withN = await devCount(overlapSql('rt37b_hivb', 'rt37b_resb'));
    await newVersion('rt37b_resb', RES_B_V3);
    expect(await realOverlap(HIV_B, RES_B_V3)).toBe(15);
    const withM = await devCount(overlapSql('rt37b_hivb', 'rt37b_resb'));
    expect(overlapB1).toBe(15);
    expect(withN, `dev overlap with N (a patient) ${withN}, with M (no patient) ${withM}`).toBe(withM);
  }, 120_000);

  it('STOPPED: an operator\'s catalog shows no profile figures of the links (rates, counts) nor of the keys', async () => {
    const body = JSON.stringify(expectStatus(await t.call(OPERATOR, 'GET', '/v1/datasets'), 200).json());
    for (const figure of ['links', 'distinctHere', 'rowsPerKey', 'keys', 'topValues', 'quantiles', 'nullShare']) expect(body, figure).not.toContain(`"${figure}"`);
    // The supervisor's view has them (so the scan's method is right).
    const supervisor = JSON.stringify(expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/datasets/rt37b_hiv'), 200).json());
    expect(supervisor).toContain('"distinctHere"');
  }, 30_000);
});
