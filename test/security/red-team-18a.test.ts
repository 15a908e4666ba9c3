/**
 * Red-team attacks, pass 18a (invariant 8 "usable but invisible"), from outside (HTTP only, as
 * operators of org `p18a`): after pass 17c (what DuckDB computes ONCE for rows it holds equal prints
 * as the first row met), other places where one row decides what other rows show, or where what the
 * operator sees depends on one person's rows, in ONE prod answer, a prod workspace table or an
 * export. Earlier passes (red-team-4..17d) are not repeated. Each attack asks the same question twice
 * (person 7 paid above 145: yes, 4 payments 146..149; above 149: no), and the SAFE expectation is
 * that the two look the same (or that each try counts as probing). `HOLE:` fails (the comment says
 * what each world showed); `STOPPED:` held when written.
 *
 * Setup: the `pay` dataset (test/helpers/pay-fixture.ts): 400 people, 20 payments each; person 7
 * (四区) pays 140..149 then 100..109. A second app (org `p18q`) runs with a small workspace quota.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knownAs, knownPerson, licensePayTenant } from '../helpers/pay-fixture.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { operatorSight, payRedTeam } from '../helpers/two-worlds.js';

const { app, operator, exportSeen, bothWorlds } = payRedTeam('p18a');

const person7 = (table = '') => knownAs(7, table);

/** "Person 7 paid above x" (yes at 145, no at 149). */
const paidAbove = async (x: number, table = '') => `${await person7(table)} AND ${table}amount > ${x}`;

/** 四区 without person 3 (who comes before person 7 in the table): the same rows in both worlds. */
const four = async (table = '') => `${table}district = '四区' AND ${table}mobile <> '${(await knownPerson(3)).mobile}'`;

/** A DOUBLE that is -0.0 where `marked` holds and 0.0 elsewhere: equal to DuckDB, printed apart. */
const signedZero = (marked: string) => `CASE WHEN ${marked} THEN CAST('-0.0' AS DOUBLE) ELSE CAST('0.0' AS DOUBLE) END`;

/** More tries than the probing burst (20) plus what it refills while they run (as in red-team-9a). */
const PROBING_TRIES = 60;

describe('hole: the workspace quota decides on one person\'s rows, uncounted', () => {
  /** A workspace of 2 MiB (INDOMAIN_WORKSPACE_MAX_BYTES, 10 GiB by default; see below for why the size does not matter). */
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { INDOMAIN_WORKSPACE_MAX_BYTES: String(2 * 1024 * 1024) } });
    await licensePayTenant(t, 'p18q');
  }, 300_000);
  afterAll(() => t?.close({ remove: true }));
  const quotaSight = operatorSight(() => t, 'p18q');
  let n = 0;
  /** A prod table over `pay` that holds 800,000 bytes of text for each of person 7's payments above x, and '' elsewhere. */
  const create = async (who: ReturnType<typeof quotaSight.operator>, x: number) => t.call(who, 'POST', '/v1/tables', {
    name: `quota_${x}_${n++}`, env: 'prod', sql: `SELECT CASE WHEN ${await paidAbove(x)} THEN lpad('', 800000, 'x') ELSE '' END AS s FROM pay`,
  });

  it('was a hole (a prod table build refused by the workspace quota counts as probing, PROD_WORKSPACE_FULL; the yes/no difference remains, slowed): whether person 7 paid above x, from ONE prod workspace table: 507 TBL_ERR_WORKSPACE_FULL against 201, never counted as probing', async () => {
    // A prod workspace table over personal data runs unchecked (it is private to the tenant) and
    // its creation says nothing of its rows (`rows: null`, `countShown`), but its SIZE is decided by
    // the rows, and the quota check (`withinQuota`, sandbox/engine/tenant-engine.ts:441-454) measures
    // it after the build (`workspaceBytes`, :431: used blocks plus the WAL, which holds the new
    // rows as written: 4 x 800,000 bytes when person 7 paid above 145) and refuses the table with
    // 507 TBL_ERR_WORKSPACE_FULL, dropping it. That code is not among the probing codes
    // (tenants/probe-limiter.ts:50-54, unlike EXP_ERR_TOO_MANY_ROWS since pass 9a, or
    // DSC_ERR_RUNTIME_ERROR, which `overPersonalData`, tenant-engine.ts:983, gives only to the
    // build's own failure), so the oracle runs at the request rate: sixty tries by one operator
    // meet no probing limit. At the default quota (10 GiB) the operator first fills the workspace
    // with a table of no personal data, whose size it controls freely, up to just below the quota
    // (a binary search over such fillers finds the room left, uncounted as well); the 2 MiB here
    // only spares the test the filler.
    // Seen: yes 507 TBL_ERR_WORKSPACE_FULL "the workspace holds more than its 2 MiB: delete tables
    // first"; no 201 (the table kept, rows null).
    const sight = async (x: number) => {
      const response = await create(quotaSight.operator(), x);
      return { status: response.statusCode, code: response.json().code };
    };
    const yes = await sight(145);
    const no = await sight(149);
    let counted = false;
    const who = quotaSight.operator();
    for (let i = 0; i < PROBING_TRIES && !counted; i++) {
      const response = await create(who, 145);
      counted = response.statusCode === 429 && response.json().code === 'SBX_ERR_REJECTIONS_RATE_LIMITED';
    }
    // SAFE: each try counts towards the probing budget, or the two look the same.
    if (!counted) expect(yes).toEqual(no);
  }, 300_000);
});

describe('stopped (eighteenth pass, 18a)', () => {
  it('STOPPED: a lateral unnest carrying one person\'s signed zero into a key (`JOIN unnest([<-0.0 when person 7 paid above x, else 0.0>]) t(d) ON true GROUP BY CAST(t.d AS VARCHAR)`) is planned as a dependent join (DEPENDENT_JOIN in the bound plan, a DELIM join when run), so it is uncheckable like a correlated subquery, the same in both worlds', async () => {
    // DuckDB 1.5 plans every lateral table function (unnest, range, generate_series, json_each) over
    // outer columns as a dependent join, which the 17c fix refuses (`hasDependentJoin`,
    // sandbox/gate/plan-check.ts:83): the 17c attacks' `signedZero` join is refused on its own now.
    const { yes, no } = await bothWorlds(async (x) => `SELECT CAST(t.d AS VARCHAR) AS z, count(*) AS n FROM pay AS p JOIN unnest([${signedZero(await paidAbove(x, 'p.'))}]) AS t(d) ON true WHERE ${await four('p.')} GROUP BY 1`);
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
    expect(yes).toEqual(no);
  });

  it('STOPPED: row-level DISTINCT answers: a DOUBLE column naming a quasi-identifier is a key (refused: a key of an inexact type, here also naming the identifier mobile, DSC_ERR_IDENTIFIERS); a constant DOUBLE column names no column and is the same for every row; the same in both worlds', async () => {
    // Are row-level output columns checked like keys? Those naming a quasi-identifier are the
    // answer's keys (`quasi`, answer-shape.ts), so their type is checked (check-answer.ts:229); any
    // other column naming a column is refused as an individual value; one naming none is a constant.
    for (const [i, sql] of [
      async (x: number) => `SELECT DISTINCT district, ${signedZero(`length(district) > 0 AND ${await paidAbove(x)}`)} AS z FROM pay WHERE ${await four()}`,
      async (x: number) => `SELECT DISTINCT district, CAST('-0.0' AS DOUBLE) AS z FROM pay WHERE ${await four()} AND NOT (${await paidAbove(x)})`,
    ].entries()) {
      const { yes, no } = await bothWorlds(sql);
      expect(yes.status).toBe(i === 0 ? 422 : 200);
      expect(yes).toEqual(no);
    }
  });

  it('STOPPED: exact keys computed per row from a signed zero (its hash, DECIMAL cast, ENUM cast, and `IN (SELECT ...)` of signed zeros in WHERE) are one group printed alike: -0.0 and 0.0 hash alike (0), cast to DECIMAL alike (0.0), and are IN the same lists', async () => {
    for (const sql of [
      async (x: number) => `SELECT CAST(hash(${signedZero(await paidAbove(x))}) AS VARCHAR) AS h, CAST(CAST(${signedZero(await paidAbove(x))} AS DECIMAL(2, 1)) AS VARCHAR) AS d, count(*) AS n FROM pay WHERE ${await four()} GROUP BY ALL`,
      // (In the SELECT list or a key, the IN subquery is refused for its shape; in WHERE it runs.)
      async (x: number) => `SELECT district, count(*) AS n FROM pay WHERE ${await four()} AND ${signedZero(await paidAbove(x))} IN (SELECT u.d FROM unnest([CAST('-0.0' AS DOUBLE)]) AS u(d)) GROUP BY district`,
      async (x: number) => `SELECT CAST(CAST(CASE WHEN ${await paidAbove(x)} THEN '四区' ELSE district END AS ENUM('一区', '二区', '三区', '四区', '孤岛区')) AS VARCHAR) AS d, count(*) AS n FROM pay WHERE ${await four()} GROUP BY ALL`,
    ]) {
      const { yes, no } = await bothWorlds(sql);
      expect(yes.status).toBe(200);
      expect(yes).toEqual(no);
    }
  });

  it('STOPPED (operator side): a prod workspace table holding a DOUBLE that is -0.0 on person 7\'s payments above x, exported whole and grouped by its text, asks for review with the same checks in both worlds (the reviewers are told the person-level checks could not be derived)', async () => {
    // Noticed: DuckDB's storage keeps a column segment whose values it holds equal as ONE value
    // (constant compression, min = max), the first row's: once the table is checkpointed (or built
    // with 122,880 rows or more), -0.0 in its first row is every row's -0.0, and 0.0 there erases a
    // later -0.0. What a derived table's export shows its reviewers can so be one row's spelling for
    // all; they are told its checks could not be derived, and approve it by hand (two supervisors).
    const seen: unknown[] = [];
    for (const x of [145, 149]) {
      const table = await app().call(operator(), 'POST', '/v1/tables', { name: `zeros_${x}`, env: 'prod', sql: `SELECT district, ${signedZero(await paidAbove(x))} AS z FROM pay WHERE ${await four()}` });
      expect(table.statusCode).toBe(201);
      const whole = await exportSeen(`SELECT * FROM zeros_${x}`);
      const grouped = await exportSeen(`SELECT CAST(z AS VARCHAR) AS s, count(*) AS n FROM zeros_${x} GROUP BY 1`);
      expect(whole.outcome).toBe('review');
      seen.push({ ...(table.json() as Record<string, unknown>), name: undefined, sql: undefined, createdAt: undefined, createdBy: undefined, whole, grouped });
    }
    expect(seen[0]).toEqual(seen[1]);
  });
});
