/**
 * Invariant 5: any edit to past audit entries is detected. Each test tampers with the real data
 * files of a stopped server (the DuckDB store, the anchor file), then verifies both online
 * (GET /v1/audit/verify on a restarted app) and offline (`audit:verify` CLI), which must name the
 * kind of tampering and the first bad sequence number.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../sandbox/index.js';
import { hashAuditEntry } from '../../tenants/audit/audit-entry.js';
import { CONTROL_DB_FILE, type AuditEntry, type VerifyReport } from '../../tenants/index.js';
import { AUDIT_JOURNAL_FILE } from '../../tenants/store/audit-journal.js';
import { expectStatus } from '../helpers/expect-status.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { licenseAround, startTestApp, SUPERVISOR } from '../helpers/test-app.js';

const run = promisify(execFile);
const CLI = path.resolve('dist/server/cli/audit-verify.js');

let template: { dir: string; remove: () => void };
/** The template's files copied while its server ran: the query log still in the audit journal. */
let crashed: { dir: string; remove: () => void };
let entryCount = 0;

beforeAll(async () => {
  template = makeTempDir();
  const t = await startTestApp({ dataDir: template.dir });
  const now = new Date();
  for (let i = 0; i < 5; i++) {
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants', { id: `t${i}`, name: `tenant ${i}`, ...licenseAround(now, -1, 100) }), 201);
  }
  expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/t1/suspend'), 200);
  expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/t1/resume'), 200);
  expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'a1', name: 'applicant' }), 201);
  expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/t2/revoke'), 200); // revoke + wipe: two entries
  for (let i = 0; i < 3; i++) {
    expectStatus(await t.call({ role: 'operator', org: 't0', sub: 'olga' }, 'POST', '/v1/query', { sql: `SELECT ${i}`, env: 'dev' }), 200);
  }
  entryCount = (await t.call(SUPERVISOR, 'GET', '/v1/audit?limit=1000')).json().entries.length;
  expect(entryCount).toBe(13);
  crashed = makeTempDir();
  fs.cpSync(template.dir, crashed.dir, { recursive: true });
  await t.close(); // writes a signed checkpoint and anchors it
});
afterAll(() => {
  template.remove();
  crashed.remove();
});

/** Tampers with a copy of the template data dir while no server runs, then expects detection. */
async function expectTamperingDetected(tamper: (dir: string) => Promise<void> | void, reason: VerifyReport['reason'], firstBadSeq: number, from = template.dir): Promise<void> {
  const copy = makeTempDir();
  try {
    fs.cpSync(from, copy.dir, { recursive: true });
    await tamper(copy.dir);
    await expectDetected(copy.dir, reason, firstBadSeq);
  } finally {
    copy.remove();
  }
}

async function withStore(dir: string, use: (sql: (text: string, params?: (string | number)[]) => Promise<Record<string, unknown>[]>) => Promise<void>): Promise<void> {
  const db = await openDatabase(path.join(dir, CONTROL_DB_FILE));
  const connection = await db.connect();
  try {
    await use((text, params) => connection.all(text, params));
  } finally {
    connection.close();
    db.close();
  }
}

async function verifyOnline(dir: string): Promise<VerifyReport> {
  const t = await startTestApp({ dataDir: dir });
  try {
    const res = await t.call(SUPERVISOR, 'GET', '/v1/audit/verify');
    expect(res.statusCode).toBe(200);
    return res.json() as VerifyReport;
  } finally {
    await t.app.close();
  }
}

async function verifyOffline(dir: string): Promise<{ exitCode: number; report: VerifyReport }> {
  try {
    const { stdout } = await run(process.execPath, [CLI, '--data-dir', dir]);
    return { exitCode: 0, report: JSON.parse(stdout) as VerifyReport };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { exitCode: failed.code, report: JSON.parse(failed.stdout) as VerifyReport };
  }
}

/**
 * Offline first, on the tampered files as they are; then online, which restarts a server over them.
 * A restarted server appends entries of its own (an integrity alert, a shutdown checkpoint), so a
 * cut tail regrows: the first bad sequence of a truncation then moves, the verdict must not.
 */
async function expectDetected(dir: string, reason: VerifyReport['reason'], firstBadSeq: number): Promise<void> {
  const offline = await verifyOffline(dir);
  expect(offline.exitCode).toBe(1);
  expect(offline.report).toMatchObject({ ok: false, reason, firstBadSeq });
  const stable = reason === 'truncated' ? {} : { firstBadSeq };
  const online = await verifyOnline(dir);
  expect(online).toMatchObject({ ok: false, reason, ...stable });
  // A restart must not launder the evidence (e.g. by anchoring the shortened log).
  const afterRestart = await verifyOffline(dir);
  expect(afterRestart.report).toMatchObject({ ok: false, reason, ...stable });
}

describe('audit chain tampering', () => {
  it('verifies the untouched chain, with its checkpoint and anchor', async () => {
    const { exitCode, report } = await verifyOffline(template.dir);
    expect(exitCode).toBe(0);
    expect(report).toMatchObject({ ok: true, entries: entryCount + 1, checkpoints: 1, anchoredSeq: entryCount + 1 });
  });

  it('names an edited entry', async () => {
    await expectTamperingDetected((dir) => withStore(dir, async (sql) => {
      await sql(`UPDATE audit_log SET details = '{"name":"nobody"}' WHERE seq = 3`);
    }), 'hash_mismatch', 3);
  });

  it('names a deleted entry', async () => {
    await expectTamperingDetected((dir) => withStore(dir, async (sql) => {
      await sql('DELETE FROM audit_log WHERE seq = 4');
    }), 'missing_entry', 4);
  });

  it('names two swapped entries', async () => {
    await expectTamperingDetected((dir) => withStore(dir, async (sql) => {
      // Swap everything but the sequence numbers of entries 5 and 6.
      await sql('UPDATE audit_log SET seq = -5 WHERE seq = 5');
      await sql('UPDATE audit_log SET seq = 5 WHERE seq = 6');
      await sql('UPDATE audit_log SET seq = 6 WHERE seq = -5');
    }), 'broken_link', 5);
  });

  it('names a truncated tail, which leaves a chain that is valid on its own', async () => {
    await expectTamperingDetected((dir) => withStore(dir, async (sql) => {
      await sql('DELETE FROM audit_log WHERE seq >= 9');
    }), 'truncated', 9);
  });

  it('names a rewrite whose hashes were all recomputed, through the signed checkpoint', async () => {
    await expectTamperingDetected((dir) => withStore(dir, async (sql) => {
      const rows = await sql('SELECT * FROM audit_log ORDER BY seq');
      let prevHash = '0'.repeat(64);
      for (const row of rows) {
        const entry: Omit<AuditEntry, 'hash'> = {
          seq: Number(row.seq), ts: String(row.ts),
          actor: { sub: String(row.actor_sub), role: row.actor_role as AuditEntry['actor']['role'], org: String(row.actor_org) },
          action: String(row.action), target: String(row.target),
          details: Number(row.seq) === 3 ? { name: 'nobody' } : (JSON.parse(String(row.details)) as Record<string, unknown>),
          prevHash,
        };
        const hash = hashAuditEntry(entry);
        await sql('UPDATE audit_log SET details = $1, prev_hash = $2, hash = $3 WHERE seq = $4', [JSON.stringify(entry.details), prevHash, hash, entry.seq]);
        prevHash = hash;
      }
    }), 'bad_checkpoint', entryCount + 1);
  });

  it('names a deleted anchor file', async () => {
    await expectTamperingDetected((dir) => fs.rmSync(path.join(dir, 'audit-anchor.json')), 'bad_anchor', 0);
  });

  it('verifies the chain of a crashed server, whose query log is in the audit journal', async () => {
    const { exitCode, report } = await verifyOffline(crashed.dir);
    expect(exitCode).toBe(0);
    expect(report).toMatchObject({ ok: true, entries: entryCount });
  });

  it('names an entry edited in the audit journal of a crashed server', async () => {
    await expectTamperingDetected((dir) => {
      const file = path.join(dir, AUDIT_JOURNAL_FILE);
      const lines = fs.readFileSync(file, 'utf8').split('\n');
      const at = lines.findIndex((line) => line.startsWith(`{"seq":${entryCount - 1},`));
      const entry = JSON.parse(lines[at]!) as AuditEntry;
      expect(entry.action).toBe('query.run');
      lines[at] = JSON.stringify({ ...entry, details: { ...entry.details, sql: 'SELECT 42' } });
      fs.writeFileSync(file, lines.join('\n'));
    }, 'hash_mismatch', entryCount - 1, crashed.dir);
  });

  it('names a forged anchor file', async () => {
    await expectTamperingDetected((dir) => {
      const file = path.join(dir, 'audit-anchor.json');
      const anchor = JSON.parse(fs.readFileSync(file, 'utf8')) as { seq: number };
      fs.writeFileSync(file, JSON.stringify({ ...anchor, seq: anchor.seq - 3 }));
    }, 'bad_anchor', 0);
  });
});
