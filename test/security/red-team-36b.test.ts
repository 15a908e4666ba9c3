/**
 * Red-team attacks, pass 36b: DuckDB dialect features the shape reader of prod answers
 * (sandbox/disclosure/answer-shape.ts) may misjudge, with fresh eyes (HTTP only, as an operator of
 * org `rt36b-org`):
 * - star expressions of a relation that is not personal (`r.*`, `r.* REPLACE (...)`) in a
 *   row-level answer: the row-level rule refuses every output column that names a column other
 *   than a quasi-identifier, but reads a `*` only for the personal tables it covers, so the columns
 *   of a joined `range()` (whose values a join condition chooses row by row, or a REPLACE fills with
 *   a personal column) are shown unchecked;
 * - an unseeded sample (`USING SAMPLE`, `TABLESAMPLE`) inside a subquery of the WHERE clause: the
 *   answer and its companion are two runs of the query, and a sample is drawn afresh in each, so the
 *   answer can read one person's rows while the companion counts everybody; samples are refused in
 *   the FROM only, and the check for "values not the same in every run" reads function names only;
 * - the rest of the brief's list that held (STOPPED): samples in the FROM, the joined relation's
 *   column named or grouped, star items in an aggregate, aggregates returning individual values or
 *   spreads (entropy, regr_slope, covar_pop, max_by, arg_min), DISTINCT counts, two aggregates in a
 *   column, an aggregate's alias read by another item, set operations, getvariable, semi and ASOF
 *   joins, a FILTER with a subquery.
 * `was a hole` tests failed when written: they assert the SAFE outcome, and the comment says what was seen, which
 * file:line lets it through, what SAFE means and a suggested fix. `STOPPED:` tests held.
 *
 * Setup (test/helpers/crafted-domain.ts: a dataset ingested through the trusted pipeline, its
 * personal column set plain with a reason as the supervisor's choice, granted to rt36b-org):
 * - `rt36b_pay(mobile, ref_no, district, amount)`: 150 payers keyed by their own mobile (one
 *   payment each, 100–149) in 一区/二区/三区, and the victim V (a mobile of its own, in 一区) with one
 *   payment of 777. `district` is a quasi-identifier (by name); `mobile` the entity; `ref_no` and
 *   `amount` are neither.
 * The truth is computed independently from the generating SQL in an in-memory DuckDB (`real`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mobileSql } from '../../desensitize/index.js';
import { craftedDomain } from '../helpers/crafted-domain.js';
import { prodAsker, type ProdAnswer } from '../helpers/prod-answer.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import { twinProbes } from '../helpers/twin-probes.js';
import { type TestApp } from '../helpers/test-app.js';

const ORG = 'rt36b-org';
const OPERATOR = { role: 'operator', org: ORG, sub: 'oskar' } as const;
const LAB = { id: 'rt36b-lab', name: 'RT36b Lab' };
/** The victim's mobile (no placeholder's shape) and their one payment. */
const V = '13957024861';
const V_AMOUNT = 777;

const PAY_SQL = `SELECT mobile, ref_no, district, amount FROM (
    SELECT ${mobileSql('p', 3636)} AS mobile, 'R' || lpad(CAST(p AS VARCHAR), 6, '0') AS ref_no, ['一区', '二区', '三区'][1 + p % 3] AS district,
      CAST(100 + (p * 37) % 50 AS DECIMAL(10,2)) AS amount
    FROM (SELECT range AS p FROM range(150))
    UNION ALL SELECT '${V}', 'V000001', '一区', CAST(${V_AMOUNT} AS DECIMAL(10,2)))`;

/** A join condition that gives each payment the row 0 of `range(1000)`, and V's payment the row of its amount. */
const STEERED = `r.range = CASE WHEN p.mobile = '${V}' THEN CAST(p.amount AS BIGINT) ELSE 0 END`;
/** True in about half of the runs of a query: a sample drawn afresh each run (50.5: DuckDB 1.5 cannot render a whole-number percentage back from its parse). */
const COIN = 'EXISTS (SELECT 1 FROM range(1) USING SAMPLE 50.5 PERCENT (bernoulli))';


describe('red team 36b: DuckDB dialect features the shape reader misjudges', () => {
  const memory = useMemoryConnection();
  const domain = craftedDomain(ORG, LAB, 'red team 36b');
  let t: TestApp;

  beforeAll(async () => {
    t = await domain.start();
    await domain.ingest('rt36b_pay', PAY_SQL);
    await domain.refresh();
  }, 600_000);
  afterAll(async () => {
    await t.close({ remove: true });
  });

  const { real } = twinProbes(() => t, memory, OPERATOR);
  const ask = prodAsker(() => t, OPERATOR);
  /** What an answer says: its status and code, or its rows. */
  const said = (a: ProdAnswer) => (a.status === 200 ? JSON.stringify(a.rows) : `${a.status} ${a.code}`);
  /** Whether any cell an answer shows is V's payment (777, as text or number, any scale). */
  const showsV = (a: ProdAnswer) => a.rows.some((row) => row.some((cell) => cell !== null && Number(cell) === V_AMOUNT));

  it('the setup: V is one person in 一区 with one payment of 777, the only payment above 149, beside 50 payers there', async () => {
    const [truth] = await real(`SELECT count(DISTINCT mobile) FILTER (WHERE district = '一区') AS payers, max(amount) FILTER (WHERE mobile = '${V}') AS v_amount,
        count(*) FILTER (WHERE mobile = '${V}') AS v_rows, count(*) FILTER (WHERE amount > 149) AS above, count(DISTINCT mobile) AS people FROM (${PAY_SQL})`);
    expect([Number(truth!.payers), Number(truth!.v_amount), Number(truth!.v_rows), Number(truth!.above), Number(truth!.people)]).toEqual([51, V_AMOUNT, 1, 1, 151]);
    expect((await domain.profileOf('rt36b_pay')).entity).toBe('mobile');
  }, 600_000);

  it('control: the checks work where they should: district totals of 50 people answer; V alone is withheld; the joined column named in a row-level answer is refused; the row-level districts answer', async () => {
    const [truth] = await real(`SELECT sum(amount) FILTER (WHERE district = '二区') AS two, sum(amount) AS everyone FROM (${PAY_SQL})`);
    const totals = await ask('SELECT district, sum(amount) AS s FROM rt36b_pay GROUP BY district ORDER BY district');
    expect(totals.status).toBe(200);
    expect(Number(totals.rows.find((r) => r[0] === '二区')![1])).toBe(Number(truth!.two));
    // The method of the sample hole without the coin: the whole table (151 people) answers ...
    const everyone = await ask(`SELECT sum(amount) AS s, count(*) AS n FROM rt36b_pay WHERE mobile = '${V}' OR EXISTS (SELECT 1 FROM range(1))`);
    expect(everyone.rows, said(everyone)).toEqual([[expect.anything(), '151']]);
    expect(Number(everyone.rows[0]![0])).toBe(Number(truth!.everyone));
    // ... and V alone is withheld (the selection describes fewer than 10 people).
    const alone = await ask(`SELECT sum(amount) AS s, count(*) AS n FROM rt36b_pay WHERE mobile = '${V}'`);
    expect(showsV(alone), said(alone)).toBe(false);
    // The joined relation's column, named, is refused in a row-level answer; a quasi-identifier answers.
    const named = await ask(`SELECT p.district, r.range FROM rt36b_pay p JOIN range(1000) r ON ${STEERED}`);
    expect(said(named)).toBe('422 DSC_ERR_UNCHECKABLE');
    const districts = await ask('SELECT district FROM rt36b_pay ORDER BY district');
    expect(districts.rows).toEqual([['一区'], ['三区'], ['二区']]);
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 1. `r.*` of a relation that is not personal, in a row-level answer.
  // ---------------------------------------------------------------------------------------------

  it('was a hole (fix: every `*` of a row-level answer over personal data shows individual values, a table\'s without personal data too): V\'s payment in a row-level prod answer through `r.*` of a joined range(): `SELECT p.district, r.* FROM rt36b_pay p JOIN range(1000) r ON r.range = CASE WHEN <V> THEN amount ELSE 0 END` lists (一区, 777)', async () => {
    const [truth] = await real(`SELECT amount FROM (${PAY_SQL}) WHERE mobile = '${V}'`);
    expect(Number(truth!.amount)).toBe(V_AMOUNT);
    const withDistrict = await ask(`SELECT p.district, r.* FROM rt36b_pay p JOIN range(1000) r ON ${STEERED}`);
    const bare = await ask(`SELECT r.* FROM rt36b_pay p JOIN range(1000) r ON ${STEERED}`);
    // Seen (when written): 200, rows [["一区","777"],["一区","0"],["三区","0"],["二区","0"]] and
    // [["0"],["777"]]: V's exact payment and district, in one uncounted answer; any other value of
    // one person (`CAST(epoch(birth) AS BIGINT)`, a hash of their ID...) is carried the same way.
    // Why: answer-shape.ts:274-283 treats a STAR select item as "every column of the personal
    // tables it covers": for `r.*` that is none (`inScope` at :278 is empty, so nothing is added to
    // `sensitive` or `quasi`), and the columns it does show, those of `range()`, are neither
    // refused (as `r.range` named is, :291) nor keyed for k-anonymity. The join picks r's row per
    // payment (one each: no repeated rows), so r.range is a column computed from V's row. SAFE: no
    // shown cell is 777 (the answer refused as uncheckable, or r's columns keyed and V's row left
    // out by k-anonymity). Fix: in the row-level branch, expand a STAR over every relation it
    // covers: a non-personal relation's columns are "sensitive" (refused) exactly like a named
    // column of it, unless the query reads no personal table; simplest, refuse any STAR item whose
    // relation is not a personal table (and COLUMNS(...), EXCLUDE/REPLACE/RENAME) in prod answers over
    // personal data. Check review-output.ts (exports) with the same shape for the same hole.
    expect({ withDistrict: showsV(withDistrict), bare: showsV(bare) }, JSON.stringify({ withDistrict: said(withDistrict), bare: said(bare) })).toEqual({ withDistrict: false, bare: false });
  }, 600_000);

  it('was a hole (fix: `* REPLACE` over personal data is uncheckable): every payment, row-level, in prod: `SELECT r.* REPLACE (p.amount AS range) FROM rt36b_pay p CROSS JOIN range(1) r` shows the amount column itself, 777 included', async () => {
    const truth = await real(`SELECT DISTINCT CAST(amount AS DOUBLE) AS a FROM (${PAY_SQL})`);
    expect(truth.map((r) => Number(r.a))).toContain(V_AMOUNT);
    const answer = await ask('SELECT r.* REPLACE (p.amount AS range) FROM rt36b_pay p CROSS JOIN range(1) r');
    // Seen (when written): 200 with 51 rows, one per distinct amount ("100.00" ... "149.00",
    // "777.00"): a personal column that the row-level rule refuses by name ("amount would show
    // individual values") is shown under the name of range()'s column. Why: as above,
    // answer-shape.ts:274-283 reads `r.*` as covering no personal table and never looks at its
    // `replace_list` (only `columns`/`expr` are refused, :276), whose expressions can be any
    // personal column or value. SAFE: the answer is refused (not 200), so no amount is shown.
    // Fix: as above; refuse a STAR with a non-empty replace_list (or walk it as select items) and
    // count a STAR over a non-personal relation as sensitive.
    expect({ status: answer.status, showsV: showsV(answer) }, said(answer).slice(0, 400)).toEqual({ status: 422, showsV: false });
  }, 600_000);

  it('STOPPED: the joined column in an aggregate answer: grouped (V\'s group of one is withheld) or as `r.*` (a star in an aggregate is refused)', async () => {
    const grouped = await ask(`SELECT district, r.range AS k, count(*) AS n FROM rt36b_pay p JOIN range(1000) r ON ${STEERED} GROUP BY ALL ORDER BY district`);
    const star = await ask(`SELECT district, r.*, count(*) AS n FROM rt36b_pay p JOIN range(1000) r ON ${STEERED} GROUP BY ALL`);
    expect(showsV(grouped), said(grouped)).toBe(false);
    expect(grouped.status).toBe(200);
    expect(said(star)).toBe('422 DSC_ERR_UNCHECKABLE');
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 2. A sample drawn afresh in each run: the answer and its companion read different rows.
  // ---------------------------------------------------------------------------------------------

  it('was a hole (fix: a sample anywhere in a query over personal data is uncheckable): V\'s payment from an aggregate answer whose WHERE holds an unseeded sample: `WHERE mobile = <V> OR EXISTS (SELECT 1 FROM range(1) USING SAMPLE 50.5 PERCENT (bernoulli))` reads V alone in the answer while the companion counts 151 people (about one try in four)', async () => {
    const [truth] = await real(`SELECT sum(amount) AS s FROM (${PAY_SQL}) WHERE mobile = '${V}'`);
    expect(Number(truth!.s)).toBe(V_AMOUNT);
    const spellings = [
      `SELECT sum(amount) AS s, count(*) AS n FROM rt36b_pay WHERE mobile = '${V}' OR ${COIN}`,
      `SELECT sum(amount) AS s FROM rt36b_pay WHERE mobile = '${V}' OR EXISTS (SELECT 1 FROM range(1) TABLESAMPLE 50.5 PERCENT (bernoulli))`,
    ];
    const seen: string[] = [];
    // 12 tries of each: the chance that none shows V when the hole is there is 0.75^24, about 0.1%.
    for (let i = 0; i < 12; i++) for (const sql of spellings) seen.push(said(await ask(sql)));
    const leaked = seen.filter((s) => s.includes(`"${V_AMOUNT}.00"`));
    // Seen (when written): of 24 answers, 4 to 6 per run showed V's payment ([["777.00","1"]]:
    // V's 777 and that it is one payment; [["777.00"]] for the TABLESAMPLE spelling), the others
    // the whole total (19452.00) or nothing (withheld); every one a 200, none
    // counted towards the probing budget. Why: the answer (the shown SQL) and its companion
    // (check-answer.ts, `measure`: `runAnswer(plan.shownSql)`, then `companionStats`) are two runs,
    // and the sample is drawn in each: when the answer's coin says "false" it reads V's row only,
    // and when the companion's says "true" it counts 151 people, so the lone cell passes every rule
    // (V's 777 is 4% of the table's total: no dominance). answer-shape.ts:150 refuses a sample on
    // the top-level node only and :159-164 walks `node.from_table` only, so a sample in a WHERE
    // subquery (or GROUP BY, HAVING-free ORDER BY, a join's ON is in from_table) is allowed; and
    // `usesUnstable` (answer-shape.ts:511) looks for function names, while a SAMPLE clause is no
    // function. SAFE: no answer shows 777 (refused as uncheckable for its shape). Fix: in
    // answerShape, refuse a sample anywhere in the query (walk the whole node for a non-null
    // `sample`, in SELECT_NODEs and table refs alike) unless it carries a seed (REPEATABLE), which
    // draws the same rows in every run; and treat it as unstable for prod workspace tables too.
    expect(leaked, seen.join(' | ')).toEqual([]);
  }, 600_000);

  it('STOPPED: a sample in the FROM (a joined subquery with USING SAMPLE, TABLESAMPLE on a joined range) and a FILTER with a subquery are refused for their shape', async () => {
    const refused = [
      'SELECT sum(p.amount) AS s FROM rt36b_pay p JOIN (SELECT 1 AS one FROM range(1) USING SAMPLE 50.5 PERCENT (bernoulli)) z ON true',
      'SELECT sum(p.amount) AS s FROM rt36b_pay p JOIN range(1) z TABLESAMPLE 50.5 PERCENT (bernoulli) ON true',
      `SELECT sum(amount) FILTER (WHERE mobile = '${V}' OR ${COIN}) AS s FROM rt36b_pay`,
    ];
    const seen: string[] = [];
    for (const sql of refused) seen.push(said(await ask(sql)));
    expect(seen).toEqual(refused.map(() => '422 DSC_ERR_UNCHECKABLE'));
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 3. The rest of the list.
  // ---------------------------------------------------------------------------------------------

  it('STOPPED: aggregates of individual values or spreads, DISTINCT counts, two aggregates in one column, an aggregate\'s alias read by another item, set operations, semi joins with the personal table on the right, and getvariable are refused', async () => {
    const uncheckable = [
      'SELECT district, entropy(amount) AS v FROM rt36b_pay GROUP BY district',
      'SELECT district, regr_slope(amount, amount) AS v FROM rt36b_pay GROUP BY district',
      'SELECT district, covar_pop(amount, amount) AS v FROM rt36b_pay GROUP BY district',
      'SELECT district, max_by(amount, amount) AS v FROM rt36b_pay GROUP BY district',
      'SELECT district, arg_min(ref_no, amount) AS v FROM rt36b_pay GROUP BY district',
      'SELECT district, count(DISTINCT ref_no) AS v FROM rt36b_pay GROUP BY district',
      'SELECT district, sum(amount) / count(*) AS v FROM rt36b_pay GROUP BY district',
      // A lateral alias: `t` reads the aggregate `s` but looks like a plain item (the companion, without `s`, fails to bind: refused).
      'SELECT district, sum(amount) AS s, s AS t FROM rt36b_pay GROUP BY district',
      "SELECT district, sum(amount) AS s FROM rt36b_pay GROUP BY district UNION ALL BY NAME SELECT 'x' AS district, 1 AS s",
      'SELECT count(*) AS n FROM range(1, 3) r SEMI JOIN rt36b_pay p ON r.range = 1',
    ];
    const seen: string[] = [];
    for (const sql of uncheckable) seen.push(said(await ask(sql)));
    expect(seen, JSON.stringify(seen)).toEqual(uncheckable.map(() => '422 DSC_ERR_UNCHECKABLE'));
    const variable = await ask("SELECT district, avg(amount) AS v FROM rt36b_pay WHERE mobile = getvariable('x') OR true GROUP BY district");
    expect(said(variable)).toBe('400 SBX_ERR_SQL_FORBIDDEN_FUNCTION');
  }, 600_000);

  it('STOPPED: ASOF joins: the personal table on the right of an inner ASOF join repeats rows (refused); on the left, the one payment past the threshold (V\'s) is withheld', async () => {
    const right = await ask('SELECT count(*) AS n FROM range(1, 3) r ASOF JOIN rt36b_pay p ON r.range >= CAST(p.amount AS BIGINT) - 700');
    const left = await ask('SELECT count(*) AS n FROM rt36b_pay p ASOF JOIN range(1, 3) r ON CAST(p.amount AS BIGINT) - 700 >= r.range');
    // (A sum there is refused outright: the join condition names the column summed.)
    const leftSum = await ask('SELECT sum(p.amount) AS s FROM rt36b_pay p ASOF JOIN range(1, 3) r ON CAST(p.amount AS BIGINT) - 700 >= r.range');
    expect(said(right)).toBe('422 DSC_ERR_REPEATED_ROWS');
    expect(said(left)).toBe('[]');
    expect(said(leftSum)).toBe('422 DSC_ERR_UNCHECKABLE');
  }, 600_000);
});
