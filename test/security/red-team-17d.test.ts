/**
 * Red-team pass 17d: dataset withdrawal (`POST /v1/datasets/:id/withdraw · /reinstate`, commit
 * 742289d), attacked from outside over HTTP. The promise (docs/catalog.md, "Withdrawing a dataset"):
 * from the commit of a withdrawal nothing reads the dataset (queries in both envs, tables built from
 * it at any depth, export creation, mitigation, approval and download) until it is reinstated, which
 * gives back exactly what was there; only supervisors act, both actions are audited, the reason is
 * shown to supervisors only.
 *
 * Each test is a safe expectation: it passes when the platform holds and fails on a hole. The holes
 * share one cause: a check made once before a long step (an export mitigation, an approval's package
 * build, an ingest holding the catalog's queue, the audit commit of an answer) and none after it,
 * plus two places that read or decide without looking at the withdrawal at all (the reviewers'
 * preview, a first approval of two) and refused export versions that are not audited.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { BOUNDARY, multipart, multipartForm } from '../helpers/multipart.js';
import { licenseTenantWithData, type FixtureDataset } from '../helpers/tenant-fixture.js';
import { licenseAround, startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';
import { waitUntil } from '../helpers/wait-until.js';

const ALPHA = { role: 'operator', org: 'alpha', sub: 'alice' } as const;
const BETA = { role: 'operator', org: 'beta', sub: 'bob' } as const;
const RECIPIENT = { role: 'applicant', org: 'city-lab', sub: 'rita' } as const;
const SAM = { role: 'supervisor', org: 'authority', sub: 'sam' } as const;
const WITHDRAWN = 'CAT_ERR_DATASET_WITHDRAWN';
const REASON = '数据主体异议-编号A7731';

/** Non-personal rows: district 0..3, amount 0..99, a running key. */
const rowsOf = (name: string, rows: number, factor = 13): FixtureDataset => ({ name, sql: `SELECT range % 4 AS district, (range * ${factor}) % 100 AS amount, range AS k FROM range(${rows})` });
const SALES = rowsOf('sales', 400);
const WEATHER = { name: 'weather', sql: 'SELECT range AS day, range % 30 AS degrees FROM range(10)' };

interface AuditEntry { seq: number; action: string; target: string; actor: { sub: string }; details: Record<string, unknown> }

describe('red-team 17d: dataset withdrawal', () => {
  let t: TestApp;
  /** Every body an operator or applicant was sent, to look for the withdrawal's reason. */
  const seenByOthers: string[] = [];
  const as = async (claims: typeof ALPHA | typeof BETA | typeof RECIPIENT, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown) => {
    const res = await t.call(claims, method, url, body);
    seenByOthers.push(res.body);
    return res;
  };
  const query = (sql: string, env: 'prod' | 'dev' = 'prod', claims: typeof ALPHA | typeof BETA = ALPHA) => as(claims, 'POST', '/v1/query', { sql, env });
  const withdraw = (id: string, reason = REASON) => t.call(SUPERVISOR, 'POST', `/v1/datasets/${id}/withdraw`, { reason });
  const reinstate = (id: string) => t.call(SUPERVISOR, 'POST', `/v1/datasets/${id}/reinstate`, { reason: '已核实' });
  const createExport = (sql: string) => as(ALPHA, 'POST', '/v1/exports', { source: { sql }, recipient: 'city-lab', purpose: 'red team 17d', format: 'csv' });
  const justify = (checks: { name: string; status: string }[]) => Object.fromEntries(checks.filter((c) => c.status === 'review').map((c) => [c.name, 'the recipient needs it']));
  const audit = async (query: string): Promise<AuditEntry[]> => expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/audit?limit=1000&${query}`), 200).json().entries;
  const refusedAsWithdrawn = (res: LightMyRequestResponse) => res.statusCode === 403 && res.json().code === WITHDRAWN;

  beforeAll(async () => {
    t = await startTestApp({ env: { INDOMAIN_QUERY_MAX_REJECTIONS_PER_MINUTE: '100000' } });
    await licenseTenantWithData(t, 'alpha', [SALES, WEATHER, rowsOf('orders', 200, 7), rowsOf('parcels', 200, 11), rowsOf('ledger_m', 900_000), rowsOf('ledger_p', 900_000), rowsOf('queue_ds', 100), rowsOf('policy_ds', 300, 17), rowsOf('version_ds', 100, 3), rowsOf('weather_b', 50, 19)]);
    await licenseTenantWithData(t, 'beta', [SALES]);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'city-lab', name: 'City Lab' }), 201);
  }, 300_000);
  afterAll(() => t.close({ remove: true }));

  // ---------------------------------------------------------------------------------------------
  // Holes: the export door's long steps check the withdrawal only before they start.
  // ---------------------------------------------------------------------------------------------

  it('was a hole (checked again in the commit, a withdrawal marked before it commits): a mitigation running when the withdrawal commits makes a new export version of the withdrawn data', async () => {
    // What happens: `newVersion` (tenants/exports/export-service.ts:447) checks the sources once
    // (`assertSourcesCurrent(previous.sources)`) and then derives the new version from the previous
    // snapshot (`mitigate` → engine exportDerive, ~0.3 s for 900k rows, then every check again) and
    // stores it (:454); nothing checks again when the derive returns, unlike queries (query-service.ts:77),
    // tables (table-service.ts:58) and snapshots (export-service.ts:157). Seen: the v2 directory
    // appears (the check has passed), the withdrawal answers 200, then the mitigation answers 201 with
    // its checks, and `export.version` is audited after `dataset.withdraw`: a version read from the
    // withdrawn dataset's snapshot, committed after the withdrawal.
    const created = expectStatus(await createExport('SELECT * FROM ledger_m'), 201).json();
    const mitigation = as(ALPHA, 'POST', `/v1/exports/${created.id}/versions`, { mitigation: 'round5', columns: ['amount'] });
    await waitUntil('the derive to start', () => fs.existsSync(path.join(t.dataDir, 'exports', created.id, 'v2')), { intervalMs: 1 });
    expectStatus(await withdraw('ledger_m'), 200);
    const res = await mitigation;
    const [withdrawal] = (await audit('action=dataset.withdraw&target=dataset:ledger_m'));
    const version = (await audit(`action=export.version&target=export:${created.id}`))[0];
    const madeAfterCommit = res.statusCode === 201 && version !== undefined && version.seq > withdrawal!.seq;
    expect(madeAfterCommit, `mitigation answered ${res.statusCode}; export.version #${version?.seq} after dataset.withdraw #${withdrawal!.seq}`).toBe(false);
    expect(refusedAsWithdrawn(res)).toBe(true);
  }, 120_000);

  it('was a hole (as above): an approval whose package is being built when the withdrawal commits is given, after the withdrawal', async () => {
    // What happens: `review` (export-service.ts:517) calls `assertGrantsLive` (:390) before
    // `assertSourcesUnchanged`, `release` and `buildPackage` (:531, engine exportDeliver: ~0.4 s to
    // write 900k rows with the recipient's fingerprint) and commits the approval afterwards (:539)
    // without looking again. Seen: the package directory appears (the check has passed), the withdrawal answers 200,
    // then the approval answers 200 `approved`, audited (`export.review` ok, `export.package`) after
    // `dataset.withdraw`. docs/catalog.md promises "their approval is refused while withdrawn". The
    // package is refused for download while withdrawn, and delivered after reinstatement on the
    // strength of an approval given while the dataset was withdrawn.
    const created = expectStatus(await createExport('SELECT * FROM ledger_p'), 201).json();
    expectStatus(await as(ALPHA, 'POST', `/v1/exports/${created.id}/submit`, { justifications: justify(created.checks) }), 200);
    expect(expectStatus(await t.call(SAM, 'POST', `/v1/exports/${created.id}/reviews`, { version: 1, decision: 'approve' }), 200).json().status).toBe('submitted');
    const approval = t.call(SUPERVISOR, 'POST', `/v1/exports/${created.id}/reviews`, { version: 1, decision: 'approve' });
    await waitUntil('the package to be built', () => fs.existsSync(path.join(t.dataDir, 'exports', created.id, 'v1', 'package')), { intervalMs: 1 });
    expectStatus(await withdraw('ledger_p'), 200);
    const res = await approval;
    const [withdrawal] = await audit('action=dataset.withdraw&target=dataset:ledger_p');
    const approved = (await audit(`action=export.review&target=export:${created.id}`)).find((e) => e.details.outcome === 'ok' && e.details.status === 'approved');
    const approvedAfterCommit = res.statusCode === 200 && approved !== undefined && approved.seq > withdrawal!.seq;
    // While withdrawn nothing is delivered (refused as withdrawn, or not approved at all).
    const whileWithdrawn = await as(RECIPIENT, 'GET', `/v1/exports/${created.id}/download`);
    expect(whileWithdrawn.statusCode).not.toBe(200);
    expectStatus(await reinstate('ledger_p'), 200);
    const afterReinstatement = (await as(RECIPIENT, 'GET', `/v1/exports/${created.id}/download`)).statusCode;
    expect(approvedAfterCommit, `approval answered ${res.statusCode} ${res.json().status ?? res.json().code}; export.review #${approved?.seq} after dataset.withdraw #${withdrawal!.seq}; download after reinstatement: ${afterReinstatement}`).toBe(false);
  }, 120_000);

  it('was a hole (every approval checks the sources): the first of two approvals is accepted while the dataset is withdrawn, and counts after reinstatement', async () => {
    // What happens: `review` checks the withdrawal only when this approval completes the export
    // (`if (next === 'approved')`, export-service.ts:514); an export whose outcome is `review`
    // needs two, so the first is recorded (`export.review` ok, status `submitted`) while the dataset
    // is withdrawn. After reinstatement one more supervisor approves and the package is built on an
    // approval given during the withdrawal. docs/catalog.md: "their approval is refused while
    // withdrawn (audited) and may be given after reinstatement".
    const created = expectStatus(await createExport('SELECT district, amount FROM parcels WHERE amount > 1000'), 201).json();
    expect(created.outcome).toBe('review');
    expectStatus(await as(ALPHA, 'POST', `/v1/exports/${created.id}/submit`, { justifications: justify(created.checks) }), 200);
    expectStatus(await withdraw('parcels'), 200);
    const first = await t.call(SUPERVISOR, 'POST', `/v1/exports/${created.id}/reviews`, { version: 1, decision: 'approve' });
    expectStatus(await reinstate('parcels'), 200);
    expect(first.statusCode, `first approval while withdrawn: ${first.body}`).toBe(403);
    expect(first.json().code).toBe(WITHDRAWN);
  }, 120_000);

  it('was a hole (no preview while a source is withdrawn): reviewers are shown the rows of a withdrawn dataset (export preview)', async () => {
    // What happens: `GET /v1/exports/:id` for supervisors (export-service.ts `get`, ~line 590) reads
    // the snapshot with engine exportRead (:622, :626) and answers its first 20 rows as `preview` (and the cell
    // diff as `changes`) without any lineage check: the rows of the withdrawn dataset keep being read
    // and shown. GET is not audited, so these reads leave no trace. Seen while `orders` is withdrawn:
    // preview.rows = 20 rows of orders.
    const created = expectStatus(await createExport('SELECT district, amount FROM orders'), 201).json();
    expectStatus(await as(ALPHA, 'POST', `/v1/exports/${created.id}/submit`, { justifications: justify(created.checks) }), 200);
    expectStatus(await withdraw('orders'), 200);
    const detail = await t.call(SAM, 'GET', `/v1/exports/${created.id}`);
    expectStatus(await reinstate('orders'), 200);
    const shown = detail.statusCode === 200 ? (detail.json().preview?.rows ?? []) : [];
    expect(shown, 'rows of the withdrawn dataset in the preview').toEqual([]);
  }, 120_000);

  it('was a hole (refused versions are audited as export.version with the code): a refused export version over a withdrawn dataset leaves no audit entry', async () => {
    // What happens: `newVersion` (export-service.ts:436-469) has no audit on failure: the lineage
    // refusal (`assertSourcesCurrent`, or the snapshot's in `snapshotSource`) is thrown and nothing
    // is appended, whereas a refused export creation (export.create with outcome, :415), query,
    // table build, approval and download are each audited with the refusal's code. Seen: two 403
    // CAT_ERR_DATASET_WITHDRAWN answers (a round5 mitigation and a new SQL version) and no entry
    // on the export after its creation: attempts to read the withdrawn data leave no trace.
    const created = expectStatus(await createExport('SELECT district, amount FROM parcels'), 201).json();
    expectStatus(await withdraw('parcels'), 200);
    const attempts = [
      await as(ALPHA, 'POST', `/v1/exports/${created.id}/versions`, { mitigation: 'round5', columns: ['amount'] }),
      await as(ALPHA, 'POST', `/v1/exports/${created.id}/versions`, { source: { sql: 'SELECT district FROM parcels' } }),
    ];
    expectStatus(await reinstate('parcels'), 200);
    for (const res of attempts) expect(refusedAsWithdrawn(res), res.body).toBe(true);
    const traced = (await audit(`target=export:${created.id}`)).filter((e) => e.details.outcome === WITHDRAWN);
    expect(traced.length, 'audit entries of the two refused versions').toBe(2);
  }, 120_000);

  it('was a hole (withdrawals no longer queue behind ingests): a withdrawal waits behind an ingest of the same dataset while every tenant keeps reading it', async () => {
    // What happens: withdraw/reinstate run in the catalog's per-dataset queue (`serialized`,
    // catalog-service.ts:52, used at :222) that ingests also hold for their whole load and profile
    // (:335). A supervisor uploading a new version cannot stop the dataset until that load ends:
    // the withdrawal request hangs, and a tenant's query sent after it answers 200 with the data.
    // docs/catalog.md: "stops all use of a dataset at once".
    const csv = Buffer.from(`district,amount,k\n${Array.from({ length: 600_000 }, (_, i) => `${i % 4},${(i * 13) % 100},${i}`).join('\n')}\n`);
    const meta = { id: 'queue_ds', name: 'queue_ds', provider: 'test', grade: 'general', shareAttribute: 'conditional', openAttribute: 'none', updateFrequency: 'once', acquiredAt: new Date().toISOString().slice(0, 10) };
    const ingest = t.app.inject({
      method: 'POST', url: '/v1/datasets',
      headers: { authorization: `Bearer ${t.token(SUPERVISOR)}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
      payload: multipartForm({ meta: JSON.stringify(meta) }, { filename: 'queue.csv', content: csv }),
    });
    await waitUntil('the ingest to load', async () => 'loading' in expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/datasets/queue_ds'), 200).json(), { intervalMs: 5 });
    let withdrawn = false;
    const withdrawal = withdraw('queue_ds').then((res) => { withdrawn = true; return res; });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const read = await query('SELECT count(*) AS n FROM queue_ds');
    const answeredWhilePending = read.statusCode === 200 && !withdrawn;
    expectStatus(await ingest, 201);
    expectStatus(await withdrawal, 200);
    expect(answeredWhilePending, `query sent after the withdrawal request: ${read.statusCode} ${read.body}`).toBe(false);
  }, 120_000);

  it('was a hole (the answer is checked again in its audit commit; a withdrawal is marked before it commits): answers checked just before the withdrawal commits are delivered and audited after it', async () => {
    // What happens: `run` (tenants/query-service.ts:77) checks the lineage, then awaits the audit
    // commit (:88) and answers; the withdrawal's access change runs in its commit's after-commit step
    // (catalog-service.ts:232). A query checked while the withdrawal's batch commits waits for that
    // commit, then is journaled after it and answered: the chain shows `query.run` outcome ok, over
    // the withdrawn dataset, after `dataset.withdraw`. Four clients ask in a loop while it commits.
    let stop = false;
    const loop = async () => {
      for (let i = 0; i < 400 && !stop; i++) await query('SELECT district, count(*) AS n FROM weather_b GROUP BY district ORDER BY district');
    };
    const loops = [loop(), loop(), loop(), loop()];
    await new Promise((resolve) => setTimeout(resolve, 300));
    expectStatus(await withdraw('weather_b'), 200);
    stop = true;
    await Promise.all(loops);
    expectStatus(await reinstate('weather_b'), 200);
    const [withdrawal] = await audit('action=dataset.withdraw&target=dataset:weather_b');
    const late = (await audit(`action=query.run&target=tenant:alpha&after=${withdrawal!.seq}`))
      .filter((e) => e.details.outcome === 'ok' && JSON.stringify(e.details.sources).includes('weather_b'));
    expect(late.map((e) => e.seq), `answers over weather_b audited ok after dataset.withdraw #${withdrawal!.seq}`).toEqual([]);
  }, 120_000);

  // ---------------------------------------------------------------------------------------------
  // What held.
  // ---------------------------------------------------------------------------------------------

  it('STOPPED: other spellings of the id in the route (case, spaces, full-width, encoded slash, trailing dot)', async () => {
    for (const id of ['SALES', 'Sales', '%20sales', 'sales%20', 'ｓａｌｅｓ', 'sales%2F', 'sales.', 'sales%00', 's%C3%A4les', '..%2Fsales']) {
      const res = await withdraw(id);
      expect([400, 404], `${id}: ${res.body}`).toContain(res.statusCode);
    }
    // Still answering: none of those withdrew anything (nor something else).
    expectStatus(await query('SELECT count(*) AS n FROM sales'), 200);
    expect(expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/datasets'), 200).json().datasets.filter((d: { withdrawal?: unknown }) => d.withdrawal).map((d: { id: string }) => d.id))
      .not.toContain('sales');
    // A percent-encoded spelling of the same id is the same dataset, consistently: stopped, then given back.
    expectStatus(await withdraw('%73ales'), 200);
    expect((await query('SELECT count(*) AS n FROM sales')).json().code).toBe(WITHDRAWN);
    expect((await reinstate('sale%73')).statusCode).toBe(200);
    expectStatus(await query('SELECT count(*) AS n FROM sales'), 200);
  });

  it('STOPPED: tables two levels deep, both envs, an upload joined with it, and discovery over it', async () => {
    const upload = await t.app.inject({
      method: 'POST', url: '/v1/uploads',
      headers: { authorization: `Bearer ${t.token(ALPHA)}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
      payload: multipart('my_districts', { filename: 'd.csv', content: Buffer.from('district,label\n0,north\n1,south\n2,east\n3,west\n') }),
    });
    expectStatus(upload, 201);
    const tables: [string, string, 'prod' | 'dev'][] = [
      ['l1_prod', 'SELECT district, sum(amount) AS total, count(*) AS n FROM sales GROUP BY district', 'prod'],
      ['l2_prod', 'SELECT l.district, l.total, w.degrees FROM l1_prod l JOIN weather w ON w.day = l.district', 'prod'],
      ['l1_dev', 'SELECT district, amount FROM sales', 'dev'],
      ['l2_dev', 'SELECT district, count(*) AS n FROM l1_dev GROUP BY district', 'dev'],
      ['joined_up', 'SELECT u.label, count(*) AS n FROM my_districts u JOIN sales s ON s.district = u.district GROUP BY u.label', 'prod'],
    ];
    for (const [name, sql, env] of tables) expectStatus(await as(ALPHA, 'POST', '/v1/tables', { name, sql, env }), 201);
    const reads: [string, 'prod' | 'dev'][] = [
      ['SELECT * FROM l2_prod ORDER BY district', 'prod'], ['SELECT * FROM l2_dev ORDER BY district', 'dev'], ['SELECT * FROM joined_up ORDER BY label', 'prod'],
      ['SELECT count(*) AS n FROM weather WHERE EXISTS (SELECT 1 FROM sales WHERE amount > 1000)', 'prod'],
      ['SELECT (SELECT max(amount) FROM sales WHERE false) AS m', 'prod'],
      ['SELECT count(*) AS n FROM my_districts WHERE district IN (SELECT district FROM l2_dev)', 'dev'],
      ['SELECT label FROM my_districts UNION ALL SELECT CAST(total AS VARCHAR) FROM l1_prod WHERE false', 'prod'],
    ];
    const before = [];
    for (const [sql, env] of reads) before.push((await query(sql, env)).body);
    expectStatus(await withdraw('sales'), 200);
    for (const [sql, env] of [...reads,
      ['DESCRIBE sales', 'prod'], ['DESCRIBE l2_prod', 'prod'], ['DESCRIBE SELECT * FROM l1_dev', 'dev'], ['SUMMARIZE sales', 'prod'], ['SUMMARIZE sales', 'dev'],
      ['SUMMARIZE SELECT * FROM sales', 'prod'], ['SUMMARIZE l2_dev', 'dev'], ['SELECT * FROM information_schema.columns WHERE table_name = \'l1_prod\'', 'prod'],
    ] as [string, 'prod' | 'dev'][]) {
      const res = await query(sql, env);
      expect(res.statusCode, `${env}: ${sql}: ${res.body}`).toBe(403);
      expect(res.body).not.toContain('"rows"');
    }
    // The uploads alone still answer; EXPLAIN is no way around the gate either.
    expectStatus(await query('SELECT count(*) AS n FROM my_districts', 'prod'), 200);
    expect((await query('EXPLAIN SELECT * FROM sales', 'prod')).statusCode).toBeGreaterThanOrEqual(400);
    // No export of a derived table, no new table from one, nothing of them in the schema.
    expect((await as(ALPHA, 'POST', '/v1/exports', { source: { table: 'l2_prod' }, recipient: 'city-lab', purpose: 'x', format: 'csv' })).json().code).toBe(WITHDRAWN);
    expect((await as(ALPHA, 'POST', '/v1/tables', { name: 'l3_prod', sql: 'SELECT * FROM l2_prod', env: 'prod' })).json().code).toBe(WITHDRAWN);
    for (const env of ['prod', 'dev']) {
      const names = expectStatus(await as(ALPHA, 'GET', `/v1/schema?env=${env}`), 200).json().tables.map((x: { name: string }) => x.name);
      for (const name of ['sales', 'l1_prod', 'l2_prod', 'l1_dev', 'l2_dev', 'joined_up']) expect(names).not.toContain(name);
    }
    // A rebuild of the tenant's files meanwhile keeps them all (refused, not dropped).
    await t.app.controlPlane.refinery.refresh('alpha');
    expectStatus(await reinstate('sales'), 200);
    const after = [];
    for (const [sql, env] of reads) after.push((await query(sql, env)).body);
    const strip = (body: string) => body.replace(/"ms":\d+/, '');
    expect(after.map(strip)).toEqual(before.map(strip));
  }, 180_000);

  it('STOPPED: a query and a table build in flight when the withdrawal commits are refused on return, and the table is not kept', async () => {
    // Both are held between the engine's answer and the service's checks until the withdrawal has
    // committed (the engine itself, and every check after it, are the real ones): "in flight" is then
    // a fact, not a race a fast machine loses.
    const engine = t.app.engine;
    const { query: runQuery, createTable: runCreateTable } = engine;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let returned = 0;
    const hold = <A extends unknown[], R>(run: (...args: A) => Promise<R>) => async (...args: A): Promise<R> => {
      const result = await run.apply(engine, args);
      returned += 1;
      await held;
      return result;
    };
    engine.query = hold(runQuery);
    engine.createTable = hold(runCreateTable);
    const slowSql = 'SELECT (SELECT count(*) FROM sales) + count(*) AS n FROM range(400000) r WHERE r.range % 7 = 1';
    try {
      const running = query(slowSql);
      const building = as(ALPHA, 'POST', '/v1/tables', { name: 'slow_build', sql: 'SELECT district, count(*) AS n FROM sales GROUP BY district', env: 'prod' });
      await waitUntil('the query and the build to come back from the engine', () => returned === 2);
      expectStatus(await withdraw('sales'), 200);
      release();
      const [answer, table] = await Promise.all([running, building]);
      expectStatus(await reinstate('sales'), 200);
      expect(refusedAsWithdrawn(answer), answer.body).toBe(true);
      expect(refusedAsWithdrawn(table), table.body).toBe(true);
    } finally {
      release();
      engine.query = runQuery;
      engine.createTable = runCreateTable;
    }
    expect((await query('SELECT * FROM slow_build')).json().code).toBe('SBX_ERR_SQL_UNKNOWN_NAME');
    const refusals = (await audit('action=query.run&target=tenant:alpha')).filter((e) => e.details.outcome === WITHDRAWN);
    expect(refusals.some((e) => e.details.sql === slowSql)).toBe(true);
  }, 180_000);

  it('STOPPED: concurrent withdraw and reinstate calls end in one state, the same in the catalog, the audit and the answers', async () => {
    const calls = await Promise.all([withdraw('weather'), reinstate('weather'), withdraw('weather'), withdraw('weather'), reinstate('weather'), withdraw('weather')]);
    const accepted = calls.filter((c) => c.statusCode === 200).length;
    expect(calls.every((c) => c.statusCode === 200 || c.statusCode === 409)).toBe(true);
    const entries = (await audit('target=dataset:weather')).filter((e) => e.action === 'dataset.withdraw' || e.action === 'dataset.reinstate');
    expect(entries).toHaveLength(accepted);
    // Alternating, starting with a withdrawal.
    entries.forEach((e, i) => expect(e.action).toBe(i % 2 === 0 ? 'dataset.withdraw' : 'dataset.reinstate'));
    const stands = entries.at(-1)?.action === 'dataset.withdraw';
    expect(Boolean(expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/datasets/weather'), 200).json().withdrawal)).toBe(stands);
    expect((await query('SELECT count(*) AS n FROM weather')).statusCode).toBe(stands ? 403 : 200);
    if (stands) expectStatus(await reinstate('weather'), 200);
  });

  it('STOPPED: a policy changed while withdrawn: reinstating never serves the looser copy', async () => {
    expectStatus(await as(ALPHA, 'POST', '/v1/tables', { name: 'policy_copy', sql: 'SELECT district, amount FROM policy_ds', env: 'prod' }), 201);
    expectStatus(await withdraw('policy_ds'), 200);
    expectStatus(await t.call(SUPERVISOR, 'PUT', '/v1/datasets/policy_ds/policy', { columns: { amount: { kind: 'hidden' } } }), 200);
    expectStatus(await reinstate('policy_ds'), 200);
    // At once, before any rebuild: the old copies are refused (being rebuilt), never answered.
    for (const sql of ['SELECT sum(amount) AS s FROM policy_ds', 'SELECT sum(amount) AS s FROM policy_copy']) {
      const res = await query(sql);
      expect(res.statusCode, `${sql}: ${res.body}`).not.toBe(200);
    }
    await t.app.controlPlane.refinery.idle();
    for (const sql of ['SELECT sum(amount) AS s FROM policy_ds', 'SELECT sum(amount) AS s FROM policy_copy']) {
      expect((await query(sql)).statusCode, sql).not.toBe(200);
    }
  }, 180_000);

  it('STOPPED: a new version ingested while withdrawn answers nothing until reinstated, then the new version', async () => {
    expectStatus(await withdraw('version_ds'), 200);
    await t.app.controlPlane.catalog.ingestGenerated({ sub: 'sue', role: 'supervisor', org: 'authority' }, {
      id: 'version_ds', name: 'version_ds', provider: 'test', grade: 'general', shareAttribute: 'conditional', openAttribute: 'none', updateFrequency: 'once', acquiredAt: new Date().toISOString().slice(0, 10),
    }, 'SELECT range % 4 AS district, 1 AS amount, range AS k FROM range(7)');
    await t.app.controlPlane.refinery.idle();
    for (const env of ['prod', 'dev'] as const) expect((await query('SELECT count(*) AS n FROM version_ds', env)).json().code).toBe(WITHDRAWN);
    expect(expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/datasets/version_ds'), 200).json().withdrawal.reason).toBe(REASON);
    expectStatus(await reinstate('version_ds'), 200);
    await t.app.controlPlane.refinery.idle();
    expect(expectStatus(await query('SELECT count(*) AS n FROM version_ds'), 200).json().rows).toEqual([['7']]);
  }, 180_000);

  it('STOPPED: no grant renewal, and a tenant suspended and resumed meanwhile stays stopped', async () => {
    expectStatus(await withdraw('sales'), 200);
    const until = licenseAround(new Date(), 0, 60).licenseTo;
    expect((await t.call(SUPERVISOR, 'POST', '/v1/tenants/beta/grants', { dataset: 'sales', purpose: 'renewal', until })).json().code).toBe(WITHDRAWN);
    expect(expectStatus(await as(BETA, 'GET', '/v1/tenants/beta/grants'), 200).json().grants.find((g: { dataset: string }) => g.dataset === 'sales').until).not.toBe(until);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/beta/suspend'), 200);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/beta/resume'), 200);
    await t.app.controlPlane.refinery.idle();
    for (const env of ['prod', 'dev'] as const) expect((await query('SELECT count(*) AS n FROM sales', env, BETA)).json().code).toBe(WITHDRAWN);
    expectStatus(await reinstate('sales'), 200);
    expect(expectStatus(await query('SELECT count(*) AS n FROM sales', 'prod', BETA), 200).json().rows).toEqual([['400']]);
  }, 120_000);

  it('STOPPED: the reason never reaches operators or applicants (catalog, errors, grants, exports, manifest)', async () => {
    expectStatus(await withdraw('sales'), 200);
    await as(ALPHA, 'GET', '/v1/datasets');
    await as(ALPHA, 'GET', '/v1/datasets/sales');
    await as(BETA, 'GET', '/v1/tenants/beta/grants');
    await as(ALPHA, 'GET', '/v1/tables');
    await as(ALPHA, 'GET', '/v1/exports');
    await as(RECIPIENT, 'GET', '/v1/exports');
    await query('SELECT * FROM sales');
    await createExport('SELECT district FROM sales');
    await as(ALPHA, 'GET', '/v1/me');
    expectStatus(await reinstate('sales'), 200);
    for (const body of seenByOthers) {
      expect(body).not.toContain(REASON);
      expect(body).not.toContain('已核实');
    }
    expect(seenByOthers.length).toBeGreaterThan(20);
  });
});

