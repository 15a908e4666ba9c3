/**
 * Red-team attacks, pass 17b, on the walls other than single prod answers (issue 11, invariants 4,
 * 5, 6 and 8), from outside: HTTP as operators of org `p17b` (and of two more tenants of the same
 * app, `p17r` and `p17n`, for the races), supervisors and the applicant `city-lab`. What earlier
 * passes cover (downloads by others, look-alike tokens, the limit under concurrency, stale
 * versions, approvals after a policy, grant or dataset change, CSV injection at the start of a
 * cell and after ; or ,, display controls C0 and U+202A..U+202E, U+2066..U+2069 in purposes,
 * comments and names) is not repeated. `HOLE:` tests fail on the platform (the comment says what
 * was seen, and why the code lets it through); `STOPPED:` tests held when written.
 *
 * Setup: `pay` (test/helpers/pay-fixture.ts) granted to `p17b`; person 7 (四区) paid 140..149:
 * above 145 (yes: 4 payments 146..149) or above 149 (no). The races, then a new version of `pay`
 * without person 7, run last.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../sandbox/index.js';
import { expectStatus } from '../helpers/expect-status.js';
import { BOUNDARY, multipartForm } from '../helpers/multipart.js';
import { fourWithSeven, ingestPayWithout, licensePayGrantee } from '../helpers/pay-fixture.js';
import { SUPERVISOR } from '../helpers/test-app.js';
import { payRedTeam } from '../helpers/two-worlds.js';

const exec = promisify(execFile);
const SAM = { role: 'supervisor', org: 'authority', sub: 'sam' } as const;
const CITY = { role: 'applicant', org: 'city-lab', sub: 'rita' } as const;
type CheckBody = { name: string; status: string };
type Operator = { role: 'operator'; org: string; sub: string };

const { app, operator } = payRedTeam('p17b');

/** An export of `sql` by `who` (a fresh operator unless given), 201 expected. */
async function created(sql: string, options: { who?: Operator; format?: string; purpose?: string } = {}) {
  const who = options.who ?? operator();
  const res = await app().call(who, 'POST', '/v1/exports', { source: { sql }, recipient: 'city-lab', purpose: options.purpose ?? 'red team 17b', format: options.format ?? 'csv' });
  return { who, body: expectStatus(res, 201).json() as { id: string; outcome: string; checks: CheckBody[] } };
}

/** Submits with a justification for every check that asks for review. */
async function submit(who: Operator, id: string, checks: CheckBody[]) {
  const justifications = Object.fromEntries(checks.filter((c) => c.status === 'review').map((c) => [c.name, 'red team 17b']));
  expectStatus(await app().call(who, 'POST', `/v1/exports/${id}/submit`, { justifications }), 200);
}

/** Approved by as many supervisors as the outcome needs (one for pass, two for review). */
async function approved(who: Operator, id: string, checks: CheckBody[], version = 1) {
  await submit(who, id, checks);
  const first = expectStatus(await app().call(SUPERVISOR, 'POST', `/v1/exports/${id}/reviews`, { version, decision: 'approve' }), 200).json();
  if (first.status !== 'approved') expect(expectStatus(await app().call(SAM, 'POST', `/v1/exports/${id}/reviews`, { version, decision: 'approve' }), 200).json().status).toBe('approved');
}

const auditEntries = async (query: string) =>
  expectStatus(await app().call(SUPERVISOR, 'GET', `/v1/audit?${query}&limit=1000`), 200).json().entries as { action: string; details: Record<string, unknown> }[];

describe('who sees what of an export', () => {
  it('was a hole (operators get the manifest without rows, snapshot and data file hashes and size): the manifest gives the owning operator the row count and the snapshot SHA-256 that GET /v1/exports/:id withholds from it: a row-level export of 四区 with person 7\'s payments above x has 1,964 rows or 1,960', async () => {
    // GET /v1/exports/:id gives operators `rowCount: null` and `snapshotSha256: null` (export-service.ts
    // `get`, rowsOf / "reviewers only": "a snapshot's row count is a count no check has seen", red-team
    // passes 4 and 6). GET /v1/exports/:id/manifest is open to the owning tenant's operators
    // (`manifest` uses `visible`, which lets any operator of the tenant through, export-service.ts
    // `mayView`), and the manifest holds `rows: version.rowCount` and `snapshotSha256`
    // (package-builder.ts buildManifest). The export: `SELECT district FROM pay WHERE <四区 without
    // person 3, person 7 only above x>`: every row reads 四区 (k-anonymous, no identifier), the checks
    // are the same in both worlds (differencing: review, as for any row-level output), and two
    // supervisors reading 1,964 or 1,960 rows of "四区" have nothing to tell them apart. Once
    // approved, the operator (who is not the recipient) reads the count. Seen: the operator's
    // detail alike in both worlds (rowCount null); manifest rows 1964 (yes) against 1960 (no), and
    // two snapshot hashes (DuckDB's Parquet of N rows of one string, recomputable offline).
    const seenByOperator = async (x: number) => {
      const { who, body } = await created(`SELECT district FROM pay WHERE ${await fourWithSeven(x)}`);
      expect(body.outcome).toBe('review');
      const detail = expectStatus(await app().call(who, 'GET', `/v1/exports/${body.id}`), 200).json();
      await approved(who, body.id, body.checks);
      const manifest = expectStatus(await app().call(who, 'GET', `/v1/exports/${body.id}/manifest`), 200).json();
      return { checks: body.checks, detailRows: detail.rowCount, detailSha: detail.snapshotSha256, rows: manifest.rows as number, snapshotSha256: manifest.snapshotSha256 as string };
    };
    const yes = await seenByOperator(145);
    const no = await seenByOperator(149);
    // The detail holds (control): the same checks, no count, no hash.
    expect({ checks: yes.checks, rows: yes.detailRows, sha: yes.detailSha }).toEqual({ checks: no.checks, rows: null, sha: null });
    // SAFE: the operator's manifest says no more than its detail: the two worlds look the same.
    expect.soft({ rows: yes.rows, snapshotSha256: yes.snapshotSha256 }).toEqual({ rows: no.rows, snapshotSha256: no.snapshotSha256 });
  }, 180_000);

  it('STOPPED: a withdrawn approved export: the recipient neither downloads it nor reads its manifest or listing, its data file is gone, the attempt is audited', async () => {
    const { who, body } = await created("SELECT district, count(*) AS payments FROM pay WHERE district IN ('一区', '三区') GROUP BY district");
    expect(body.outcome).toBe('pass');
    await approved(who, body.id, body.checks);
    expectStatus(await app().call(who, 'POST', `/v1/exports/${body.id}/withdraw`), 200);
    const download = await app().call(CITY, 'GET', `/v1/exports/${body.id}/download`);
    expect(download.statusCode).toBeGreaterThanOrEqual(400);
    expect(download.body).not.toContain('一区');
    expect((await app().call(CITY, 'GET', `/v1/exports/${body.id}/manifest`)).statusCode).toBe(404);
    expect(JSON.stringify(expectStatus(await app().call(CITY, 'GET', '/v1/exports'), 200).json())).not.toContain(body.id);
    expect(fs.existsSync(path.join(app().dataDir, 'exports', body.id, 'v1', 'package', 'data.csv'))).toBe(false);
    expect((await auditEntries(`target=export:${body.id}&action=export.download`)).map((e) => e.details.outcome)).toEqual([download.json().code]);
  }, 120_000);
});

describe('what reviewers and recipients read is what it holds', () => {
  it('was a hole (the gate refuses display controls in SQL, SBX_ERR_SQL_HIDDEN_TEXT; export column names too, EXP_ERR_COLUMN_NAME): the export\'s SQL and its column names carry bidirectional overrides to the reviewers (Trojan Source): the text two supervisors approve reads differently from the query that ran', async () => {
    // humanText (tenants/model.ts DISPLAY_CONTROLS) refuses U+202A..U+202E and U+2066..U+2069 in a
    // purpose, a justification, a comment, a name, since pass 14b ("what a reviewer or recipient
    // reads in the manifest is what it holds"). The SQL is the text reviewers read most closely
    // (a row-level output's `differencing` check says "a reviewer must judge it against what was
    // released before", i.e. read what the SQL selects), but the source SQL is only
    // `z.string().min(1).max(20_000)` (export-model.ts ExportSourceSchema) and is stored and shown as
    // the operator wrote it (`sql: version.sql` in the detail and the manifest). A comment or a
    // string literal can hold an override (the gate parses it like any comment), and a quoted alias
    // puts one into `columns`, the manifest and the CSV header. Below, the condition that leaves one
    // masked mobile out sits between U+2066/U+202E and U+2069 inside a comment span, so that a
    // viewer applying the bidi algorithm shows it reversed inside what looks like a comment. Seen:
    // 201 (outcome review), `sql` in GET /v1/exports/:id for the supervisor holding U+202E and
    // U+2066, and a column named with U+202E; the purpose with the same character is 400.
    const trojan = "SELECT district, id_card_gender AS \"gender\u202E\" FROM pay WHERE district = '二区' /*\u2066\u202E */ AND mobile <> '138****0000' /* \u2069*/";
    const purpose = await app().call(operator(), 'POST', '/v1/exports', { source: { sql: 'SELECT 1 AS one' }, recipient: 'city-lab', purpose: 'x\u202Ey', format: 'csv' });
    expect(purpose.statusCode).toBe(400);
    const res = await app().call(operator(), 'POST', '/v1/exports', { source: { sql: trojan }, recipient: 'city-lab', purpose: 'red team 17b', format: 'csv' });
    // What the reviewers read (nothing when refused).
    const shown = res.statusCode === 201 ? JSON.stringify((({ sql, columns }) => ({ sql, columns }))(expectStatus(await app().call(SUPERVISOR, 'GET', `/v1/exports/${res.json().id}`), 200).json())) : '';
    // SAFE: no bidi control reaches the reviewers (the request refused like the purpose, 400).
    expect.soft(shown).not.toMatch(/[\u202A-\u202E\u2066-\u2069]/);
  }, 120_000);

  it('was a hole (humanText needs visible text): a comment required to reject or request changes, and a justification required to submit, can be invisible (U+200B, U+2800, U+3164): the rule "say why" is met by nothing anyone can read', async () => {
    // decideReview (review-flow.ts) refuses a reject or request_changes without `comment?.trim()`,
    // decideSubmit a review check without `justifications[name]?.trim()`; humanText trims and
    // refuses display controls only. String.prototype.trim removes white space (U+0020, U+00A0,
    // U+3000, U+FEFF…) but not the zero-width space U+200B, the braille blank U+2800 or the Hangul
    // filler U+3164, which render as nothing. export-door.test.ts refuses "  " as a comment; these
    // spellings pass. Seen: reject with "\u200B" 200 (rejected, comment "\u200B" in the detail),
    // request_changes with "\u2800" 200, a justification "\u3164" for `differencing` 200 (submitted).
    const outcomes: Record<string, number> = {};
    for (const [decision, comment] of [['reject', '\u200B'], ['request_changes', '\u2800']] as const) {
      const { who, body } = await created('SELECT 42 AS answer');
      await submit(who, body.id, body.checks);
      outcomes[`${decision} ${JSON.stringify(comment)}`] = (await app().call(SUPERVISOR, 'POST', `/v1/exports/${body.id}/reviews`, { version: 1, decision, comment })).statusCode;
    }
    const { who, body } = await created("SELECT district FROM pay WHERE district IN ('一区', '三区')");
    const needed = body.checks.filter((c) => c.status === 'review').map((c) => c.name);
    expect(needed).toContain('differencing');
    outcomes['justification "\\u3164"'] = (await app().call(who, 'POST', `/v1/exports/${body.id}/submit`, { justifications: Object.fromEntries(needed.map((n) => [n, '\u3164'])) })).statusCode;
    // SAFE: each is refused as missing (400 EXP_ERR_COMMENT_REQUIRED / EXP_ERR_JUSTIFICATION_MISSING).
    expect.soft(outcomes).toEqual({ 'reject "\u200B"': 400, 'request_changes "\u2800"': 400, 'justification "\\u3164"': 400 });
  }, 120_000);

  it('was a hole (DISPLAY_CONTROLS covers C1, bidi marks and zero-width characters): control characters of the C1 block (U+0085, U+009B) and the bidi marks U+200E, U+200F, U+061C pass humanText and reach the recipient\'s manifest', async () => {
    // DISPLAY_CONTROLS (tenants/model.ts:22) lists C0 controls, DEL and the bidi overrides and
    // isolates; the refusal says "must not contain control characters or bidirectional overrides".
    // U+0080..U+009F are control characters too (Unicode Cc; U+009B is CSI: in a terminal that reads
    // C1 controls, `cat manifest.json` runs "\u009B2J" as "clear screen"), and JSON.stringify writes
    // them as they are. U+200E/U+200F/U+061C (LRM, RLM, ALM) are the bidi marks the Trojan Source
    // paper lists beside the overrides: they reorder the neutral characters around them
    // ("approve 1\u200F-2" shows as "approve 2-1" under some renderers). Seen: every purpose below 201,
    // and the recipient's manifest `purpose` holding U+009B.
    const spellings = ['\u009B2J red team', 'red\u0085team', 'amount 1\u200F-2', 'left\u200Eright', 'alm\u061C-x'];
    const statuses: Record<string, number> = {};
    let manifestPurpose = '';
    for (const purpose of spellings) {
      const who = operator();
      const res = await app().call(who, 'POST', '/v1/exports', { source: { sql: 'SELECT 42 AS answer' }, recipient: 'city-lab', purpose, format: 'csv' });
      statuses[JSON.stringify(purpose)] = res.statusCode;
      if (res.statusCode === 201 && purpose.includes('\u009B')) {
        await approved(who, res.json().id, res.json().checks);
        manifestPurpose = expectStatus(await app().call(CITY, 'GET', `/v1/exports/${res.json().id}/manifest`), 200).json().purpose;
      }
    }
    // SAFE: each is refused (400), so no manifest holds one.
    expect.soft(statuses).toEqual(Object.fromEntries(spellings.map((s) => [JSON.stringify(s), 400])));
    expect.soft(manifestPurpose).not.toContain('\u009B');
  }, 120_000);

  it('was a hole (the description is humanText): a dataset\'s description is not checked at all: NUL and U+202E reach every operator and applicant through GET /v1/datasets', async () => {
    // Pass 14b made "the names of organizations and datasets" humanText; DatasetMetaSchema keeps
    // `description: z.string().max(2000)` (tenants/model.ts:132), and the catalog view for operators
    // and applicants is the record's metadata (catalog-service.ts `view`), description included.
    // Seen: 201, and the applicant's GET /v1/datasets/rt17_desc holding "\u0000" and "\u202E".
    const meta = {
      id: 'rt17_desc', name: 'description test', provider: 'red team', grade: 'general', shareAttribute: 'unconditional', openAttribute: 'unconditional',
      updateFrequency: 'once', acquiredAt: '2026-01-01', description: 'fees per \u202Eexe.ecnalab\u202C district\u0000',
    };
    const res = await app().app.inject({
      method: 'POST', url: '/v1/datasets', payload: multipartForm({ meta: JSON.stringify(meta) }, { filename: 'fees.csv', content: Buffer.from('district,fee\n1,10\n2,20\n') }),
      headers: { authorization: `Bearer ${app().token(SUPERVISOR)}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
    });
    let seenByApplicant = '';
    if (res.statusCode === 201) seenByApplicant = (await app().call(CITY, 'GET', '/v1/datasets/rt17_desc')).body;
    // SAFE: refused as the name would be (400), so no reader gets it.
    expect.soft(res.statusCode).toBe(400);
    expect.soft(seenByApplicant).not.toMatch(/\\u202e|\\u0000|\u202E/i);
  }, 120_000);

  it('STOPPED: a suppressed export delivered as Parquet and as XLSX carries nothing of the withheld rows and cells: not in the rows, the Parquet statistics, dictionaries or key-value metadata, nor the workbook\'s shared strings, and the manifest names neither', async () => {
    // Payments and total paid per district: 孤岛区 (person 0 alone) fails minimum-entities, 二区's
    // total is dominated by person 1 (20 × 10,000,000). Suppression removes 孤岛区 and a second
    // row, and nulls 二区's total and a second total.
    const sql = 'SELECT district, count(*) AS payments, sum(amount) AS paid FROM pay GROUP BY district';
    for (const format of ['parquet', 'xlsx']) {
      const { who, body } = await created(sql, { format });
      expect(body.outcome).toBe('fail');
      const v2 = expectStatus(await app().call(who, 'POST', `/v1/exports/${body.id}/versions`, { mitigation: 'suppress' }), 201).json();
      expect(v2.outcome).not.toBe('fail');
      await approved(who, body.id, v2.checks, 2);
      const file = expectStatus(await app().call(CITY, 'GET', `/v1/exports/${body.id}/download`), 200).rawPayload;
      const manifest = JSON.stringify(expectStatus(await app().call(CITY, 'GET', `/v1/exports/${body.id}/manifest`), 200).json());
      expect(manifest).not.toContain('孤岛区');
      // A number of nine digits from 2, not digits inside a hex hash (the manifest carries SHA-256s).
      expect(manifest).not.toMatch(/(?<![\w.])2\d{8}(\.\d+)?(?![\w])/);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rt17b-'));
      try {
        const leaked = path.join(dir, `data.${format}`);
        fs.writeFileSync(leaked, file);
        let everything: string;
        if (format === 'parquet') {
          const db = await openDatabase(':memory:');
          const connection = await db.connect();
          try {
            const read = async (q: string) => JSON.stringify(await connection.all(q), (_k, v) => (typeof v === 'bigint' ? String(v) : v));
            everything = [
              await read(`SELECT * FROM read_parquet('${leaked}')`),
              await read(`SELECT * FROM parquet_metadata('${leaked}')`),
              await read(`SELECT * FROM parquet_kv_metadata('${leaked}')`),
              await read(`SELECT * FROM parquet_schema('${leaked}')`),
              file.toString('latin1'),
            ].join('\n');
          } finally {
            connection.close();
            db.close();
          }
        } else {
          const { stdout } = await exec('unzip', ['-p', leaked], { maxBuffer: 1 << 24 });
          everything = stdout;
        }
        expect(everything, format).toContain('三区');
        // SAFE: the removed row's key and the dominated total are nowhere in the delivered file.
        expect(everything, format).not.toContain('孤岛区');
        expect(everything, format).not.toMatch(/\b2\d{8}(\.\d+)?\b/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  }, 240_000);
});

describe('CSV cells', () => {
  it('was a hole (tabs and line ends separate cells in the CSV guard): a tab inside a text cell, followed by "=", is delivered unquoted and unprefixed: wherever the line is split on tabs (pasted into a sheet, or read as tab-separated) the formula starts a cell of its own', async () => {
    // neutralizeCsvCell (desensitize/csv-cells.ts FORMULA_START `(^|[;,])(?=[=+\-@\t\r\n\0])`)
    // prefixes a formula character at the start of a cell and after ; or , (pass 14b: where ";" is
    // the list separator, the line is split there). A tab is the other separator spreadsheets split
    // text on: Excel and WPS split pasted text into cells at tabs (and evaluate a pasted "=…"), and
    // delimiter sniffers take the tab when it is as regular as the commas. DuckDB's CSV writer
    // quotes a cell only for ",", '"' or a line break, so the tab stays bare in the line. Public free
    // text (names, addresses) reaches exports as it is: a data subject can plant it. Seen (outcome
    // pass, one approval): the data row `a\t=HYPERLINK('http://x.invalid/')` and `b\t@SUM(1)`, as
    // they are. (No spreadsheet was run here.)
    const { who, body } = await created("SELECT 'a' || chr(9) || '=HYPERLINK(''http://x.invalid/'')' AS note, 'b' || chr(9) || '@SUM(1)' AS other");
    expect(body.outcome).toBe('pass');
    await approved(who, body.id, body.checks);
    const csv = expectStatus(await app().call(CITY, 'GET', `/v1/exports/${body.id}/download`), 200).body.replace(/^\uFEFF/, '');
    const row = csv.split('\r\n')[1]!;
    expect(row).toContain('x.invalid');
    // SAFE: no formula character right after a tab.
    expect.soft(row).not.toMatch(/\t[=+\-@]/);
  }, 120_000);
});

describe('the audit of the door', () => {
  it('was a hole (route-level onError audits refusals before the service): attempts to download a data file refused before the export service (an operator\'s or a supervisor\'s token, a malformed version) leave no export.download entry: "every download attempt" is audited only once the route let it through', async () => {
    // docs/exports.md (Audit): `export.download` "every download attempt: ok with its count, or the
    // refusal code". The route (server/routes/exports.ts, `roles: ['applicant']`, and a zod
    // querystring) refuses operators and supervisors with 403 AUTH_ERR_ROLE_FORBIDDEN in the
    // access guard (server/auth.ts installAccessGuard) and `?version=abc` with 400, before
    // `exports.download`, whose `refuse` writes the entry. The owning operator trying to take its
    // own export's file out is the attempt a supervisor most needs to see. Seen: 403, 403, 400, and
    // no new export.download entry (an applicant of another org, refused inside the service, is).
    const { who, body } = await created("SELECT district, count(*) AS payments FROM pay WHERE district IN ('一区', '三区') GROUP BY district");
    await approved(who, body.id, body.checks);
    const before = (await auditEntries(`target=export:${body.id}&action=export.download`)).length;
    const attempts = [
      await app().call(who, 'GET', `/v1/exports/${body.id}/download`),
      await app().call(SUPERVISOR, 'GET', `/v1/exports/${body.id}/download`),
      await app().call(CITY, 'GET', `/v1/exports/${body.id}/download?version=abc`),
    ];
    expect(attempts.map((a) => a.statusCode)).toEqual([403, 403, 400]);
    const after = (await auditEntries(`target=export:${body.id}&action=export.download`)).length;
    // SAFE: each refused attempt is in the chain.
    expect.soft(after - before).toBe(attempts.length);
  }, 120_000);
});

describe('the audit of reviews', () => {
  it('was a hole (export.review audits every refusal with its code): a supervisor\'s refused reviews leave no entry: approving one version twice (to count as two approvals), approving a failing export that was never submitted, approving a superseded version', async () => {
    // review() (tenants/exports/export-service.ts) calls decideReview (review-flow.ts) before it
    // writes anything: EXP_ERR_ALREADY_REVIEWED, EXP_ERR_INVALID_STATE and EXP_ERR_VERSION_CHANGED are
    // thrown and the request ends with no `export.review` (nor any other) entry on the export.
    // Refused creations and downloads are audited with their code (docs/exports.md, Audit); a
    // supervisor trying to be both approvers of a review outcome, or to let a failing output out, is
    // a separation-of-duties attempt the chain should show. Seen: the three codes (409) and no new entry.
    const twice = await created("SELECT district FROM pay WHERE district IN ('一区', '三区')");
    expect(twice.body.outcome).toBe('review');
    await submit(twice.who, twice.body.id, twice.body.checks);
    expectStatus(await app().call(SUPERVISOR, 'POST', `/v1/exports/${twice.body.id}/reviews`, { version: 1, decision: 'approve' }), 200);
    const failing = await created("SELECT district, count(*) AS payments FROM pay GROUP BY district");
    expect(failing.body.outcome).toBe('fail');
    const superseded = await created("SELECT district, count(*) AS payments FROM pay WHERE district IN ('一区', '三区') GROUP BY district");
    await submit(superseded.who, superseded.body.id, superseded.body.checks);
    expectStatus(await app().call(superseded.who, 'POST', `/v1/exports/${superseded.body.id}/versions`, { mitigation: 'round5', columns: ['payments'] }), 201);
    const entries = async () => (await Promise.all([twice, failing, superseded].map(async (e) => (await auditEntries(`target=export:${e.body.id}`)).length))).reduce((a, b) => a + b, 0);
    const before = await entries();
    const refused = [
      await app().call(SUPERVISOR, 'POST', `/v1/exports/${twice.body.id}/reviews`, { version: 1, decision: 'approve' }),
      await app().call(SUPERVISOR, 'POST', `/v1/exports/${failing.body.id}/reviews`, { version: 1, decision: 'approve' }),
      await app().call(SUPERVISOR, 'POST', `/v1/exports/${superseded.body.id}/reviews`, { version: 1, decision: 'approve' }),
    ];
    expect(refused.map((r) => r.json().code)).toEqual(['EXP_ERR_ALREADY_REVIEWED', 'EXP_ERR_INVALID_STATE', 'EXP_ERR_VERSION_CHANGED']);
    // SAFE: each refused review is in the chain with its code.
    expect.soft((await entries()) - before).toBe(refused.length);
  }, 120_000);
});

describe('races with revocation and narrowing (these run last: they add tenants p17r and p17n)', () => {
  /** A prod export whose snapshot runs for seconds (about 7 s alone here, within the 60 s limit): an uncorrelated count over 500 million numbers in the WHERE of an aggregate over pay. */
  const SLOW = "SELECT district, count(*) AS payments FROM pay WHERE district IN ('一区', '三区') AND (SELECT count(*) FROM range(500000000) r WHERE r.range % 7 = 1) > 0 GROUP BY district";

  it('STOPPED: a tenant revoked while its export is being snapshotted gets no export: 403, no record, no files, the refusal audited', async () => {
    await licensePayGrantee(app(), 'p17r');
    const who: Operator = { role: 'operator', org: 'p17r', sub: 'rex' };
    const exportsDir = path.join(app().dataDir, 'exports');
    const before = new Set(fs.existsSync(exportsDir) ? fs.readdirSync(exportsDir) : []);
    const pending = app().call(who, 'POST', '/v1/exports', { source: { sql: SLOW }, recipient: 'city-lab', purpose: 'red team 17b', format: 'csv' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expectStatus(await app().call(SUPERVISOR, 'POST', '/v1/tenants/p17r/revoke'), 200);
    const res = await pending;
    expect(res.statusCode, res.body).toBe(403);
    expect(res.json().code).toBe('AUTH_ERR_TENANT_REVOKED');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const listed = expectStatus(await app().call(SUPERVISOR, 'GET', '/v1/exports'), 200).json().exports as { tenant: string }[];
    expect(listed.filter((e) => e.tenant === 'p17r')).toEqual([]);
    const left = (fs.existsSync(exportsDir) ? fs.readdirSync(exportsDir) : []).filter((d) => !before.has(d));
    expect(left).toEqual([]);
    const refused = (await auditEntries('action=export.create&target=tenant:p17r')).map((e) => e.details.outcome);
    expect(refused).toEqual(['AUTH_ERR_TENANT_REVOKED']);
  }, 180_000);

  it('STOPPED: a grant narrowed (district no longer granted) while an export over district is being snapshotted: the export is refused, nothing is kept', async () => {
    await licensePayGrantee(app(), 'p17n');
    const who: Operator = { role: 'operator', org: 'p17n', sub: 'nina' };
    const pending = app().call(who, 'POST', '/v1/exports', { source: { sql: SLOW }, recipient: 'city-lab', purpose: 'red team 17b', format: 'csv' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const until = (expectStatus(await app().call(SUPERVISOR, 'GET', '/v1/tenants/p17n/grants'), 200).json().grants as { until: string }[])[0]!.until;
    expectStatus(await app().call(SUPERVISOR, 'POST', '/v1/tenants/p17n/grants', { dataset: 'pay', columns: ['id_card', 'mobile', 'amount'], purpose: 'narrowed', until }), 201);
    const res = await pending;
    // Refused for the narrowed grant once the snapshot ran (not a timeout): the verdict is "changed".
    expect([res.statusCode, res.json().code], res.body).toEqual([503, 'SBX_ERR_REBUILDING']);
    const listed = expectStatus(await app().call(SUPERVISOR, 'GET', '/v1/exports'), 200).json().exports as { tenant: string }[];
    expect(listed.filter((e) => e.tenant === 'p17n')).toEqual([]);
  }, 180_000);
});

describe('a workspace table across a new version of its dataset (runs last: pay gets a version 2 without person 7)', () => {
  it('STOPPED: a prod workspace table built from version 1 keeps person 7\'s rows after version 2 (a table is rebuilt on a policy change, not on a new version), but an export of it is refused as stale at approval: nothing of version 1 leaves', async () => {
    // table-service.ts `reconcile` rebuilds a table whose sources' access verdict is not ok; the
    // verdict (lineage.ts) compares grant and policy fingerprints, not the dataset version, so a
    // new version with the same columns leaves the table as it was: 四区 at 2,000 payments, person
    // 7's 20 among them. The export snapshot records the table's sources (pay v1), and the approval
    // (`assertSourcesUnchanged`, export-service.ts) sends back a version whose source has a newer
    // version (pass 15b's fix), so the table's data never reaches the recipient.
    const who = operator();
    expectStatus(await app().call(who, 'POST', '/v1/tables', { name: 'per_district', sql: "SELECT district, count(*) AS payments FROM pay WHERE district <> '孤岛区' GROUP BY district", env: 'prod' }), 201);
    await ingestPayWithout(app(), 7, 'p17b');
    const answer = expectStatus(await app().call(operator(), 'POST', '/v1/query', { sql: "SELECT count(*) AS n FROM pay WHERE district = '四区'", env: 'prod' }), 200).json();
    expect(answer.rows.map((r: unknown[]) => Number(r[0]))).toEqual([1980]);
    const res = await app().call(who, 'POST', '/v1/exports', { source: { table: 'per_district' }, recipient: 'city-lab', purpose: 'red team 17b', format: 'csv' });
    const body = expectStatus(res, 201).json();
    // The table still holds version 1 (the reviewers' preview): 四区 at 2,000, person 7 included.
    const preview = expectStatus(await app().call(SUPERVISOR, 'GET', `/v1/exports/${body.id}`), 200).json().preview.rows as unknown[][];
    expect(preview.filter((r) => r[0] === '四区').map((r) => Number(r[1]))).toEqual([2000]);
    await submit(who, body.id, body.checks);
    expectStatus(await app().call(SUPERVISOR, 'POST', `/v1/exports/${body.id}/reviews`, { version: 1, decision: 'approve' }), 200);
    const second = await app().call(SAM, 'POST', `/v1/exports/${body.id}/reviews`, { version: 1, decision: 'approve' });
    const download = second.statusCode === 200 ? await app().call(CITY, 'GET', `/v1/exports/${body.id}/download`) : undefined;
    // SAFE: the approval is refused as stale, nothing delivered.
    expect({ approval: second.json().code, delivered: download?.statusCode }).toEqual({ approval: 'EXP_ERR_CHECKS_STALE', delivered: undefined });
  }, 300_000);
});
