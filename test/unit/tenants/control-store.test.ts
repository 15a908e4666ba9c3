/**
 * The DuckDB control store: group commit keeps every mutation atomic with its audit entry, isolates
 * one job's failure from the rest of its batch, and refuses unaudited writes.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DomainError } from '../../../core/errors.js';
import { GENESIS_HASH, SYSTEM_ACTOR } from '../../../tenants/audit/audit-entry.js';
import { verifyAuditChain } from '../../../tenants/audit/verify-chain.js';
import { openDuckDbControlStore, type ControlStore } from '../../../tenants/index.js';
import { applyMigrations, MIGRATIONS } from '../../../tenants/store/migrations.js';
import { openDatabase } from '../../../sandbox/index.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

const tenant = (id: string) => ({ id, name: id, status: 'active' as const, licenseFrom: '2026-01-01', licenseTo: '2027-01-01', createdAt: 'x', updatedAt: 'x' });

describe('DuckDB control store', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let store: ControlStore;
  beforeEach(async () => {
    temp = makeTempDir();
    store = await openDuckDbControlStore({ path: path.join(temp.dir, 'control.duckdb'), clock: () => new Date(), onCallbackError: (error) => { throw error; } });
  });
  afterEach(async () => {
    await store.close();
    temp.remove();
  });

  const create = (id: string) =>
    store.mutate(async (tx) => {
      if (await tx.reader.getTenant(id)) throw new DomainError('TNT_ERR_ALREADY_EXISTS', id);
      await tx.insertTenant(tenant(id));
      await tx.appendAudit({ actor: SYSTEM_ACTOR, action: 'tenant.create', target: id });
      return id;
    });

  it('commits concurrent mutations as one contiguous, verifiable chain', async () => {
    const ids = Array.from({ length: 300 }, (_, i) => `t${i}`);
    expect(await Promise.all(ids.map(create))).toEqual(ids);
    expect(await store.reader.listTenants()).toHaveLength(300);
    // The store alone has no anchor file: hand the walk a genesis anchor as if read and verified.
    const genesis = { kind: 'valid' as const, anchor: { seq: 0, hash: GENESIS_HASH, keyId: 'k', signature: 's' } };
    const report = await verifyAuditChain(store.reader.scanAudit(), { verifier: undefined, anchor: genesis });
    expect(report).toMatchObject({ ok: true, entries: 300, head: { seq: 300 } });
  });

  it("isolates a failing job: its batch-mates commit, it alone fails, nothing of it remains", async () => {
    await create('taken');
    const outcomes = await Promise.allSettled([create('a1'), create('taken'), create('a2'), create('a1')]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'TNT_ERR_ALREADY_EXISTS' });
    expect((await store.reader.listTenants()).map((t) => t.id)).toEqual(['a1', 'a2', 'taken']);
    expect((await store.reader.auditHead()).seq).toBe(3);
  });

  it('rolls back a mutation that throws after writing, with its audit entry', async () => {
    await expect(store.mutate(async (tx) => {
      await tx.insertTenant(tenant('half'));
      await tx.appendAudit({ actor: SYSTEM_ACTOR, action: 'tenant.create', target: 'half' });
      throw new Error('disk on fire');
    })).rejects.toThrow('disk on fire');
    expect(await store.reader.getTenant('half')).toBeUndefined();
    expect((await store.reader.auditHead()).seq).toBe(0);
    await create('after');
    expect((await store.reader.auditHead()).seq).toBe(1);
  });

  it('refuses a state change without an audit entry', async () => {
    await expect(store.mutate(async (tx) => tx.insertTenant(tenant('silent')))).rejects.toThrow(/must append an audit entry/);
    expect(await store.reader.getTenant('silent')).toBeUndefined();
  });

  it('runs after-commit steps only after a commit', async () => {
    const ran: string[] = [];
    await store.mutate(async (tx) => {
      await tx.appendAudit({ actor: SYSTEM_ACTOR, action: 'x', target: 'y' });
      tx.afterCommit(() => ran.push('committed'));
    });
    await store.mutate(async (tx) => {
      tx.afterCommit(() => ran.push('rolled back'));
      throw new Error('no');
    }).catch(() => undefined);
    expect(ran).toEqual(['committed']);
  });

  it('applies migrations once, in order', async () => {
    const db = await openDatabase(path.join(temp.dir, 'other.duckdb'));
    const session = await db.connect();
    try {
      expect(await applyMigrations(session)).toEqual(MIGRATIONS.map((m) => m.version));
      expect(await applyMigrations(session)).toEqual([]);
    } finally {
      session.close();
      db.close();
    }
  });
});
