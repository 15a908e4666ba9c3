/**
 * The audit journal of the control store: audit-only commits (the query log) become durable in the
 * journal, state changes move them into the table first, readers see one chain, and a copy of the
 * files taken while the store runs (what a crash leaves) opens to the same chain.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GENESIS_HASH, SYSTEM_ACTOR, type AuditActor } from '../../../tenants/audit/audit-entry.js';
import { verifyAuditChain } from '../../../tenants/audit/verify-chain.js';
import { openDuckDbControlStore, type AuditFilter, type ControlStore } from '../../../tenants/index.js';
import { AUDIT_JOURNAL_FILE } from '../../../tenants/store/audit-journal.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

const OPERATOR: AuditActor = { sub: 'olga', role: 'operator', org: 'acme' };
const GENESIS = { kind: 'valid' as const, anchor: { seq: 0, hash: GENESIS_HASH, keyId: 'k', signature: 's' } };

const open = (dir: string, readOnly = false) =>
  openDuckDbControlStore({ path: path.join(dir, 'control.duckdb'), clock: () => new Date(), readOnly, onCallbackError: (error) => { throw error; } });

/** Opens a store over `dir` for `use`, and closes it (which moves the journal into the table). */
async function withOpen<T>(dir: string, use: (store: ControlStore) => Promise<T>, readOnly = false): Promise<T> {
  const opened = await open(dir, readOnly);
  try {
    return await use(opened);
  } finally {
    await opened.close();
  }
}

const logQuery = (store: ControlStore, n: number, actor = OPERATOR) =>
  store.mutate((tx) => tx.appendAudit({ actor, action: 'query.run', target: `tenant:${actor.org}`, details: { sql: `SELECT ${n}` } }));

const createTenant = (store: ControlStore, id: string) =>
  store.mutate(async (tx) => {
    await tx.insertTenant({ id, name: id, status: 'active', licenseFrom: '2026-01-01', licenseTo: '2027-01-01', createdAt: 'x', updatedAt: 'x' });
    await tx.appendAudit({ actor: SYSTEM_ACTOR, action: 'tenant.create', target: `tenant:${id}` });
  });

const journalLines = (dir: string) => fs.readFileSync(path.join(dir, AUDIT_JOURNAL_FILE), 'utf8').split('\n').filter(Boolean).length;

async function verify(store: ControlStore) {
  return verifyAuditChain(store.reader.scanAudit(), { verifier: undefined, anchor: GENESIS });
}

describe('audit journal', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let store: ControlStore;
  const copies: ReturnType<typeof makeTempDir>[] = [];
  beforeEach(async () => {
    temp = makeTempDir();
    store = await open(temp.dir);
  });
  afterEach(async () => {
    await store.close();
    temp.remove();
    for (const copy of copies.splice(0)) copy.remove();
  });

  /** A data dir as a crash would leave it: copied while its store is open, nothing in flight. */
  function crashCopy(dir = temp.dir): string {
    const copy = makeTempDir();
    copies.push(copy);
    fs.cpSync(dir, copy.dir, { recursive: true });
    return copy.dir;
  }

  it('journals query-log entries until a state change moves them into the table, as one gapless chain', async () => {
    for (let i = 0; i < 5; i++) await logQuery(store, i);
    expect(journalLines(temp.dir)).toBe(5);
    expect((await store.reader.queryAudit({ limit: 100 })).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);

    await createTenant(store, 't1');
    expect(journalLines(temp.dir)).toBe(0);
    await logQuery(store, 6);
    expect(await verify(store)).toMatchObject({ ok: true, entries: 7, head: { seq: 7 } });
    expect(await store.reader.auditHead()).toMatchObject({ seq: 7 });
  });

  it('answers filtered reads over journaled entries exactly as over the table', async () => {
    const other: AuditActor = { sub: 'otto', role: 'operator', org: 'other' };
    await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 7 === 0 ? createTenant(store, `t${i}`) : logQuery(store, i, i % 3 === 0 ? other : OPERATOR))));
    for (let i = 40; i < 60; i++) await logQuery(store, i, i % 2 === 0 ? other : OPERATOR);
    expect(journalLines(temp.dir)).toBe(20);
    const middle = (await store.reader.queryAudit({ limit: 100 }))[30]!.ts;
    const filters: AuditFilter[] = [
      { limit: 1000 },
      { limit: 10 },
      { limit: 15, afterSeq: 33 },
      { limit: 1000, action: 'query.*' },
      { limit: 1000, action: 'tenant.create' },
      { limit: 1000, org: 'other', afterSeq: 20 },
      { limit: 5, actorSub: 'olga', afterSeq: 45 },
      { limit: 1000, target: 'tenant:acme', fromTs: middle },
      { limit: 1000, toTs: middle },
    ];
    const merged = await Promise.all(filters.map((f) => store.reader.queryAudit(f)));
    await store.close(); // moves the journal into the table
    store = await open(temp.dir);
    expect(journalLines(temp.dir)).toBe(0);
    const fromTable = await Promise.all(filters.map((f) => store.reader.queryAudit(f)));
    expect(merged).toEqual(fromTable);
    expect(merged[0]).toHaveLength(60);
  });

  it('moves the journal into the table once a thousand entries wait', async () => {
    await Promise.all(Array.from({ length: 1_100 }, (_, i) => logQuery(store, i)));
    await logQuery(store, -1); // queued behind the move
    expect(journalLines(temp.dir)).toBeLessThan(1_000);
    expect(await verify(store)).toMatchObject({ ok: true, entries: 1_101 });
  });

  it('recovers every acknowledged entry from the journal after a crash, and the chain goes on', async () => {
    await createTenant(store, 't1');
    for (let i = 0; i < 8; i++) await logQuery(store, i);
    const dir = crashCopy();
    expect(journalLines(dir)).toBe(8);

    await withOpen(dir, async (readOnly) => {
      expect(await verify(readOnly)).toMatchObject({ ok: true, entries: 9 });
    }, true);
    expect(journalLines(dir)).toBe(8);

    await withOpen(dir, async (recovered) => {
      expect(await recovered.reader.auditHead()).toEqual(await store.reader.auditHead());
      await createTenant(recovered, 't2');
      expect(await verify(recovered)).toMatchObject({ ok: true, entries: 10 });
    });
  });

  it('drops a torn last line (a write never acknowledged) and appends after the last whole one', async () => {
    for (let i = 0; i < 3; i++) await logQuery(store, i);
    const torn = crashCopy();
    fs.appendFileSync(path.join(torn, AUDIT_JOURNAL_FILE), '{"seq":4,"ts":"2026-');
    const crashedAgain = await withOpen(torn, async (recovered) => {
      expect((await recovered.reader.auditHead()).seq).toBe(3);
      await logQuery(recovered, 4);
      return crashCopy(torn);
    });
    expect(journalLines(crashedAgain)).toBe(4);
    await withOpen(crashedAgain, async (reopened) => {
      expect(await verify(reopened)).toMatchObject({ ok: true, entries: 4 });
    });
  });

  it('refuses to open over a damaged journal line or reordered entries, naming the line', async () => {
    for (let i = 0; i < 4; i++) await logQuery(store, i);
    const damaged = crashCopy();
    const file = path.join(damaged, AUDIT_JOURNAL_FILE);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    fs.writeFileSync(file, [lines[0], 'not an entry', ...lines.slice(1)].join('\n'));
    await expect(open(damaged)).rejects.toThrow(/line 2 of the audit journal .* is not an audit entry/);
    await expect(open(damaged, true)).rejects.toThrow(/line 2/);

    const reordered = crashCopy();
    fs.writeFileSync(path.join(reordered, AUDIT_JOURNAL_FILE), [lines[1], lines[0], ...lines.slice(2)].join('\n'));
    await expect(open(reordered)).rejects.toThrow(/line 2 of the audit journal .* repeats or reorders sequence number 1/);
  });
});
