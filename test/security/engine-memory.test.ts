/**
 * Reading the engine's memory through aggregate states (found by an outside attack on issue #9):
 * `EXPORT_STATE` returned an aggregate's raw state (heap pointers, uninitialized padding holding
 * other queries' values: real prod mobiles came back in dev answers), and `cast_to_type` with
 * `finalize` rebuilt a state with a forged pointer (an arbitrary read, or a crash at a chosen
 * address). Every way in is refused before anything runs, in both envs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { licenseTenantWithData, residents } from '../helpers/tenant-fixture.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const OPERATOR = { role: 'operator', org: 'acme', sub: 'mallory' } as const;

const ATTACKS = [
  'SELECT (sum(id) EXPORT_STATE)::BLOB FROM residents',
  'SELECT hex((min(id::UHUGEINT) FILTER (WHERE false) EXPORT_STATE)::BLOB) FROM residents GROUP BY name',
  "WITH st AS (SELECT first(name || '-padding-long-string') EXPORT_STATE AS s FROM residents) SELECT hex(finalize(cast_to_type(unhex('00000400' || substr(hex(s::BLOB), 9)), s))) FROM st",
  'SELECT finalize(x) FROM (SELECT sum(id) EXPORT_STATE AS x FROM residents)',
  'SELECT combine(x, 1) FROM (SELECT sum(id) EXPORT_STATE AS x FROM residents)',
  "SELECT cast_to_type(unhex('41414141'), 1::BIGINT)",
  "SELECT replace_type(1, NULL::INTEGER, NULL::VARCHAR)",
  "SELECT remap_struct({'a': 1}, NULL::STRUCT(b INTEGER), {'b': 'a'}, NULL)",
  "SELECT variant_bytes_to_variant(unhex('0000'), unhex('0000'), unhex('0000'))",
  'SELECT avg(id) EXPORT_STATE FROM residents',
];

describe('aggregate states and raw memory', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { INDOMAIN_QUERY_MAX_REJECTIONS_PER_MINUTE: '100000' } });
    await licenseTenantWithData(t, 'acme', [residents('PRODSECRET', 200)]);
  });
  afterAll(() => t.close({ remove: true }));

  for (const env of ['dev', 'prod'] as const) {
    it.each(ATTACKS)(`refuses in ${env}: %s`, async (sql) => {
      const res = await t.call(OPERATOR, 'POST', '/v1/query', { sql, env });
      expect(res.statusCode, res.body).toBe(400);
      expect(['SBX_ERR_SQL_FORBIDDEN_CONSTRUCT', 'SBX_ERR_SQL_FORBIDDEN_FUNCTION']).toContain(res.json().code);
      expect(res.body).not.toContain('PRODSECRET');
    });
  }

  it('refuses EXPORT_STATE when saving a table too', async () => {
    const res = await t.call(OPERATOR, 'POST', '/v1/tables', { name: 'states', sql: 'SELECT sum(id) EXPORT_STATE AS s FROM residents', env: 'prod' });
    expect(res.json().code).toBe('SBX_ERR_SQL_FORBIDDEN_CONSTRUCT');
  });
});
