/**
 * Red-team attacks, pass 14b, on the export review door (issue 11, invariants 4, 5, 6 and 8), from
 * outside: HTTP as operators of org `p14`, supervisors and applicants, and the `trace` CLI on crafted
 * files. What earlier passes cover (downloads by others, the limit under 6 concurrent downloads, two
 * supervisors at once, stale versions, differencing, another tenant's ids) is not repeated. Each
 * attack's SAFE expectation is written as the platform should behave: `HOLE:` tests fail on it (the
 * comment says what happened), `STOPPED:` tests held when written.
 *
 * Setup: the `pay` dataset (test/helpers/pay-fixture.ts) granted to tenant `p14`; the applicant
 * `city-lab` registered. The policy-tightening test runs last (it changes `pay`'s policy).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { createSigner } from 'fast-jwt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../sandbox/index.js';
import { expectStatus } from '../helpers/expect-status.js';
import { paymentsPerDistrict, startPayApp } from '../helpers/pay-fixture.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { startTestApp, SUPERVISOR, TEST_JWT_SECRET, type TestApp } from '../helpers/test-app.js';
import { buildZip, WORKBOOK_ENTRIES, zeroBomb } from '../helpers/zip-fixture.js';

const exec = promisify(execFile);
const OP = { role: 'operator', org: 'p14', sub: 'olga' } as const;
const SAM = { role: 'supervisor', org: 'authority', sub: 'sam' } as const;
const CITY = { role: 'applicant', org: 'city-lab', sub: 'rita' } as const;
type CheckBody = { name: string; status: string };

describe('attacks on the export review door', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startPayApp('p14');
  }, 300_000);
  afterAll(() => t.close({ remove: true }));

  const create = async (sql: string, recipient = 'city-lab', format = 'csv') =>
    t.call(OP, 'POST', '/v1/exports', { source: { sql }, recipient, purpose: 'red team 14b', format });
  /** Submits with a justification for every check that asks for review. */
  const submit = async (id: string, checks: CheckBody[]) => expectStatus(await t.call(OP, 'POST', `/v1/exports/${id}/submit`, {
    justifications: Object.fromEntries(checks.filter((c) => c.status === 'review').map((c) => [c.name, 'red team 14b'])),
  }), 200);
  const approve = (id: string, claims: typeof SUPERVISOR = SUPERVISOR, version = 1) => t.call(claims, 'POST', `/v1/exports/${id}/reviews`, { version, decision: 'approve' });

  it('was a hole (an org id names one organization: an applicant cannot take a tenant\'s id, nor a tenant an applicant\'s, and no export goes to an operating entity): an applicant registered under a licensed tenant\'s id receives that tenant\'s own export: the operating entity takes the data out of the domain to itself', async () => {
    // The org claim is one namespace for operating entities and application entities, but nothing
    // keeps them apart: POST /v1/applicants {id: 'p14'} (the tenant's id) was 201, the operator of
    // p14 exported to recipient 'p14' (201), one supervisor approved it (an outcome of pass), and a
    // token {role: applicant, org: p14} downloaded the file (200). Licensing a tenant under an
    // applicant's id is not refused either (not tried here: its refusal would be the same fix).
    // Usable-but-invisible (可用不可见) is for the operator: it should never be the recipient.
    const registered = await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'p14', name: 'the operator itself' });
    const exported = await create('SELECT 42 AS answer', 'p14');
    let downloaded: number | undefined;
    if (exported.statusCode === 201) {
      const { id, checks } = exported.json();
      await submit(id, checks);
      expectStatus(await approve(id), 200);
      downloaded = (await t.call({ role: 'applicant', org: 'p14', sub: 'olga' }, 'GET', `/v1/exports/${id}/download`)).statusCode;
    }
    // SAFE: the id of a licensed tenant is not registered as an application entity, or an export
    // to the exporting tenant's own org is refused; either way nothing is downloaded by it.
    expect({ registered: registered.statusCode, exported: exported.statusCode, downloaded }).not.toMatchObject({ registered: 201, exported: 201, downloaded: 200 });
    expect(registered.json().code).toBe('APP_ERR_ALREADY_EXISTS');
  });

  it('was a hole (formula characters after a ; or , inside a cell, and a leading line feed, are prefixed too): CSV injection past the guard: a text cell "a;=…" is written unquoted (a new cell, and a formula, where ";" separates cells), and a cell starting with a line feed is not prefixed', async () => {
    // The guard (desensitize/csv-cells.ts FORMULA_START) prefixes cells that START with = + - @ tab
    // or CR. OWASP's advice, which the code cites, also lists line feed (0x0A), and warns that
    // separators inside a cell (',' or ';') let a dangerous character begin a cell: Excel or WPS
    // with ';' as list separator (European locales) split `a;=HYPERLINK(…)` and run the formula.
    // DuckDB's writer quotes a cell only for ',', '"' or a line break. Delivered (seen), with an
    // outcome of pass on one supervisor's approval:
    //   note,lf\r\na;=HYPERLINK('http://x.invalid/'),"\n=1+1"\r\n
    // Public free text (addresses, names) reaches exports as it is: any data subject can plant it.
    const created = expectStatus(await create(`SELECT 'a;=HYPERLINK(''http://x.invalid/'')' AS note, chr(10) || '=1+1' AS lf`), 201).json();
    expect(created.outcome).toBe('pass');
    await submit(created.id, created.checks);
    expectStatus(await approve(created.id), 200);
    const csv = expectStatus(await t.call(CITY, 'GET', `/v1/exports/${created.id}/download`), 200).body.replace(/^\uFEFF/, '');
    const row = csv.slice(csv.indexOf('\r\n') + 2);
    // SAFE: a cell holding a separator is quoted as one cell (or its formula neutralized) …
    expect.soft(row.startsWith('"') || !row.includes(';=')).toBe(true);
    // … and a cell starting with a line feed is prefixed like one starting with a carriage return
    // (and, since pass 17b, the formula after the line feed too: pasted text splits there).
    expect.soft(row).toContain(`"'\n'=1+1"`);
  });

  it('was noticed (free text people write and others read refuses display controls): a NUL or a right-to-left override in a purpose, a justification, a review comment or an applicant\'s name reached the recipient\'s manifest', async () => {
    for (const text of ['red team\u0000 14b', 'paid \u202Egnp.exe', 'bell\u0007']) {
      const purpose = await t.call(OP, 'POST', '/v1/exports', { source: { sql: 'SELECT 1 AS one' }, recipient: 'city-lab', purpose: text, format: 'csv' });
      expect(purpose.statusCode, JSON.stringify(text)).toBe(400);
      expect(purpose.json().message).toMatch(/must not contain control characters/);
      expect((await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'lab-x', name: text })).statusCode).toBe(400);
    }
    const created = expectStatus(await create('SELECT 1 AS one'), 201).json();
    const justified = await t.call(OP, 'POST', `/v1/exports/${created.id}/submit`, { justifications: { 'row-cap': 'fine\u202E' } });
    expect(justified.statusCode).toBe(400);
    await submit(created.id, created.checks);
    expect((await t.call(SUPERVISOR, 'POST', `/v1/exports/${created.id}/reviews`, { version: 1, decision: 'reject', comment: 'no\u0000' })).statusCode).toBe(400);
    // Line breaks and tabs are text.
    expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/exports/${created.id}/reviews`, { version: 1, decision: 'reject', comment: 'no:\n\tnot needed' }), 200);
  });

  it('STOPPED: the second approval, a withdrawal and 10 downloads fired at once end in one consistent state: no download of a withdrawn export, at most 3 of a released one, one package, every attempt audited', async () => {
    // Row-level over personal data: differencing says review, so two supervisors must approve.
    const created = expectStatus(await create("SELECT district FROM pay WHERE district IN ('一区', '三区') ORDER BY district"), 201).json();
    expect(created.outcome).toBe('review');
    await submit(created.id, created.checks);
    expect(expectStatus(await approve(created.id), 200).json().status).toBe('submitted');
    const id = created.id as string;
    const [second, withdrawn, ...downloads] = await Promise.all([
      approve(id, SAM),
      t.call(OP, 'POST', `/v1/exports/${id}/withdraw`),
      ...Array.from({ length: 10 }, () => t.call(CITY, 'GET', `/v1/exports/${id}/download`)),
    ]);
    const ok = downloads.filter((d) => d.statusCode === 200);
    const detail = expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/exports/${id}`), 200).json();
    const audit = async (action: string) => (await t.call(SUPERVISOR, 'GET', `/v1/audit?target=export:${id}&action=${action}&limit=100`)).json().entries as { details: { outcome?: string } }[];
    if (withdrawn.statusCode === 200) {
      // Withdrawn before any download (a released export cannot be withdrawn): nothing went out, no data file is left.
      expect(detail.status).toBe('withdrawn');
      expect(ok).toHaveLength(0);
      expect(fs.existsSync(path.join(t.dataDir, 'exports', id, 'v1', 'package', 'data.csv'))).toBe(false);
    } else {
      expect(withdrawn.json().code).toBe('EXP_ERR_INVALID_STATE');
      expect(second.statusCode).toBe(200);
      expect(detail.status).toBe('released');
      expect(ok.length).toBeGreaterThanOrEqual(1);
      expect(ok.length).toBeLessThanOrEqual(3);
      const manifest = expectStatus(await t.call(CITY, 'GET', `/v1/exports/${id}/manifest`), 200).json();
      for (const d of ok) expect(d.headers['x-content-sha256']).toBe(manifest.dataFile.sha256);
    }
    expect(detail.downloads).toBe(ok.length);
    expect((await audit('export.package')).length).toBe(second.statusCode === 200 ? 1 : 0);
    // Every attempt is in the chain, the refusals with their code.
    const attempts = await audit('export.download');
    expect(attempts).toHaveLength(10);
    expect(attempts.filter((e) => e.details.outcome === 'ok')).toHaveLength(ok.length);
    for (const d of downloads.filter((r) => r.statusCode !== 200)) expect(d.json().code).toMatch(/^EXP_ERR_(NOT_APPROVED|NOT_FOUND|DOWNLOAD_LIMIT)$/);
  });

  it('STOPPED: look-alikes of the recipient (case, spaces, Cyrillic с, U+2010 hyphen), role spellings, extra claims and odd version strings neither download nor see the export, nor spend its downloads', async () => {
    const created = expectStatus(await create(paymentsPerDistrict([])), 201).json();
    expect(created.outcome).toBe('pass');
    await submit(created.id, created.checks);
    expectStatus(await approve(created.id), 200);
    const id = created.id as string;
    const sign = createSigner({ key: TEST_JWT_SECRET, algorithm: 'HS256', expiresIn: '1h' });
    const as = (claims: Record<string, unknown>, url: string) => t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${sign(claims)}` } });
    const lookalikes: Record<string, unknown>[] = [
      { sub: 'x', role: 'applicant', org: 'City-Lab' }, { sub: 'x', role: 'applicant', org: 'city-lab ' }, { sub: 'x', role: 'applicant', org: '\u0441ity-lab' },
      { sub: 'x', role: 'applicant', org: 'city\u2010lab' }, { sub: 'x', role: 'Applicant', org: 'city-lab' }, { sub: 'x', role: 'applicant', org: ['city-lab'] },
      { sub: 'x', role: ['applicant', 'supervisor'], org: 'city-lab' }, { sub: 'x', role: 'operator', org: 'city-lab' }, { sub: 'x', role: 'applicant', org: 'city-lab\u0000' },
      { sub: 'x', role: 'operator', org: 'p14', recipient: 'city-lab', roles: ['applicant'] },
    ];
    for (const claims of lookalikes) {
      for (const suffix of ['/download', '/manifest', '']) {
        const res = await as(claims, `/v1/exports/${id}${suffix}`);
        const label = `${JSON.stringify(claims)} ${suffix}`;
        if (claims.org === 'p14') {
          // The owning operator sees its export (that is its right) but never the data file.
          expect(res.statusCode === 200 ? suffix : res.json().code, label).not.toBe('/download');
          continue;
        }
        expect(res.statusCode, label).toBeGreaterThanOrEqual(400);
        expect(res.body, label).not.toContain('一区');
      }
    }
    // Extra claims add nothing: an applicant token claiming supervisor roles cannot review.
    const extra = await t.app.inject({ method: 'POST', url: `/v1/exports/${id}/reviews`, payload: { version: 1, decision: 'reject', comment: 'x' },
      headers: { authorization: `Bearer ${sign({ sub: 'x', role: 'applicant', org: 'city-lab', roles: ['supervisor'], scope: 'admin' })}` } });
    expect(extra.json().code).toBe('AUTH_ERR_ROLE_FORBIDDEN');
    // Version strings: no other version is served, whatever its spelling.
    for (const query of ['?version=2', '?version=1&version=2', '?version=-1', '?version=1e400', '?version=abc', '?version=1&recipient=p14']) {
      const res = await t.call(CITY, 'GET', `/v1/exports/${id}/download${query}`);
      expect(res.statusCode, query).toBeGreaterThanOrEqual(400);
    }
    // None of this spent a download.
    expect(expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/exports/${id}`), 200).json().downloads).toBe(0);
    expect(expectStatus(await t.call(CITY, 'GET', `/v1/exports/${id}/download?version=01`), 200).headers['x-downloads-left']).toBe('2');
  });

  it('was a hole (an approval after a policy change is refused as stale and the export goes back to its operator): a version submitted before the supervisor tightened the dataset\'s policy is approved and delivered afterwards: the approval lets out what the tenant may no longer see', async () => {
    // Snapshots and mitigations refuse a source whose policy changed (SBX_ERR_REBUILDING: "nothing
    // of data the tenant may no longer see is derived again"), but the approval that lets the data
    // leave checks only that grants have not ENDED (`assertGrantsLive` in export-service.ts skips
    // the verdict `changed`). Seen: export of payments per district submitted; supervisor sets
    // `district` hidden (e.g. after an objection); the approval was 200 `approved`, the package was
    // built under the old policy and the recipient downloaded the districts (200), while the same
    // SQL as a new export or a prod query was refused. Approval is the act of release, after the
    // change: docs/exports.md's "reviewed under the policy it was computed with" covers packages
    // approved BEFORE a change, not approvals made after it.
    const created = expectStatus(await create(paymentsPerDistrict([])), 201).json();
    await submit(created.id, created.checks);
    expectStatus(await t.call(SUPERVISOR, 'PUT', '/v1/datasets/pay/policy', { columns: { district: { kind: 'hidden', reason: 'red team 14b: an objection' } } }), 200);
    // The tenant may no longer see districts: the same SQL is refused now.
    const again = await create(paymentsPerDistrict([]));
    expect(again.statusCode).toBeGreaterThanOrEqual(400);
    const approval = await approve(created.id, SAM);
    const download = approval.statusCode === 200 ? await t.call(CITY, 'GET', `/v1/exports/${created.id}/download`) : undefined;
    // SAFE: the approval is refused as stale (the version must be made again under the new policy), and nothing is delivered.
    expect({ approval: approval.statusCode, download: download?.statusCode, districts: download?.body.includes('一区') ?? false })
      .toEqual({ approval: 409, download: undefined, districts: false });
  });
});

describe('trace on crafted files', () => {
  const temp = makeTempDir('indomain-rt14b-');
  const leaks = makeTempDir('indomain-rt14b-leaks-');
  let dataDir: string;
  /** The trace CLI over a data dir whose server is stopped (the CLI audits through the control store). */
  const trace = async (file: string) => {
    try {
      const { stdout, stderr } = await exec(process.execPath, [path.resolve('dist/server/cli/trace.js'), file, '--data-dir', dataDir], { env: { PATH: process.env.PATH ?? '' }, maxBuffer: 1 << 24 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  /** The `export.trace` audit entries' details, in order. */
  const traced = async (): Promise<{ file: { name: string }; outcome: string }[]> => {
    const db = await openDatabase(path.join(dataDir, 'control.duckdb'), { readOnly: true });
    try {
      const connection = await db.connect();
      const rows = await connection.all(`SELECT details FROM audit_log WHERE action = 'export.trace' ORDER BY seq`);
      connection.close();
      return rows.map((r) => JSON.parse(String(r.details)));
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    // A data dir with a control store and a token master, its server stopped.
    const t = await startTestApp({ dataDir: temp.dir });
    dataDir = t.dataDir;
    await t.close();
  }, 120_000);
  afterAll(() => {
    temp.remove();
    leaks.remove();
  });

  it('was a hole (the file is hashed as a stream, and one over 1 GiB is refused cleanly, audited): a leaked file over 2 GiB (sparse: no disk, no memory) crashes trace with an uncaught RangeError, exit 1 (the CLI\'s "no fingerprint found"), and the trace is not audited', async () => {
    // server/cli/trace.ts reads the whole file with fs.readFileSync to hash it, outside the try:
    // Node refuses files over 2 GiB (ERR_FS_FILE_TOO_LARGE). Seen: exit 1, a stack trace on stderr,
    // no stdout, no `export.trace` entry, the control store left open by the dead process. A
    // caller scripting on the exit status reads "no fingerprint found" for a leak that was never
    // looked at. (Hashing as a stream, and DuckDB reading at most TRACE_MAX_ROWS, would trace it.)
    const huge = path.join(leaks.dir, 'huge.csv');
    fs.writeFileSync(huge, 'a,b\r\n1,2\r\n');
    fs.truncateSync(huge, 2 ** 31 + 4096);
    const before = (await traced()).length;
    const result = await trace(huge);
    fs.rmSync(huge);
    const after = await traced();
    // SAFE: a clean refusal (exit 2, one line naming the problem) or an answer, and either way an audit entry.
    expect({ code: result.code, stack: /\n\s+at /.test(result.stderr), audited: after.length - before }).toEqual({ code: 2, stack: false, audited: 1 });
  }, 120_000);

  it('STOPPED: a malformed Parquet file, an XLSX zip bomb and a binary CSV with a 16 MiB line fail cleanly: exit 2, nothing of their content echoed, each trace audited with its code', async () => {
    const files: Record<string, Buffer> = {
      'broken.parquet': Buffer.concat([Buffer.from('PAR1'), Buffer.from('SECRET-CONTENT '.repeat(1000)), Buffer.from([0xff, 0xff, 0xff, 0x7f]), Buffer.from('PAR1')]),
      'bomb.xlsx': buildZip([...WORKBOOK_ENTRIES, { name: 'xl/worksheets/sheet1.xml', ...zeroBomb(2048) }]),
      'junk.csv': Buffer.concat([Buffer.from('SECRET-CONTENT,"'), Buffer.alloc(16 << 20, 0x41), Buffer.from([0x00, 0xfe, 0xff])]),
    };
    const before = (await traced()).length;
    for (const [name, content] of Object.entries(files)) {
      const file = path.join(leaks.dir, name);
      fs.writeFileSync(file, content);
      const result = await trace(file);
      expect(result.code, `${name}: ${result.stderr.slice(0, 500)}`).toBe(2);
      expect(result.stderr, name).toMatch(/^trace: [A-Z]+_ERR_[A-Z_]+: /);
      expect(result.stderr, name).not.toMatch(/\n\s+at /);
      expect(result.stdout + result.stderr, name).not.toContain('SECRET-CONTENT');
    }
    const entries = (await traced()).slice(before);
    expect(entries.map((e) => e.file.name)).toEqual(Object.keys(files));
    for (const entry of entries) expect(entry.outcome).toMatch(/^[A-Z]+_ERR_[A-Z_]+$/);
  }, 300_000);
});
