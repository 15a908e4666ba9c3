/**
 * The gate's verdict and lineage must not depend on literal values (issue #9, items 1 and 2).
 * The optimizer removes scans under constant-false filters and answers `count(*)` from statistics,
 * so a verdict cached per query shape was poisoned: `… FROM duckdb_databases WHERE 1=0` passed and
 * `… WHERE 1=1` then returned the data dir's paths; and lineage taken from surviving scans missed
 * two-part names and `count(*)`. Here fast-check generates sequences of literal variants of refused
 * and allowed queries, sends them in random order to one real engine (so any shared cache entry
 * would be hit), and requires every refused variant to be refused and every allowed variant to
 * carry its full lineage.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDomainError } from '../../core/errors.js';
import type { Env } from '../../sandbox/index.js';
import { licenseTenantWithData, residents } from '../helpers/tenant-fixture.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const GATE_CODES = ['SBX_ERR_SQL_FORBIDDEN_FUNCTION', 'SBX_ERR_SQL_FORBIDDEN_TABLE', 'SBX_ERR_SQL_FORBIDDEN_CONSTRUCT'];

/** Predicates that are constant true, constant false or NULL: each changes the optimized plan. */
const predicate = fc.oneof(
  fc.constantFrom('1=0', '1=1', 'NULL', 'false', 'true', "'a'='b'", "'a'='a'", '2>1', 'NOT true', 'NULL IS NULL'),
  fc.tuple(fc.integer({ min: -3, max: 3 }), fc.integer({ min: -3, max: 3 })).map(([a, b]) => `${a} < ${b}`),
);
const limit = fc.oneof(fc.constant(''), fc.integer({ min: 0, max: 3 }).map((n) => ` LIMIT ${n}`));

/** Queries the gate must refuse in `env`, whatever the literals. */
const refused = (env: Env) => {
  const other = env === 'prod' ? 'dev' : 'granted';
  return fc.constantFrom(
    'SELECT database_name, path FROM duckdb_databases WHERE {p}{l}',
    'SELECT name, value FROM duckdb_settings() WHERE {p}{l}',
    'SELECT * FROM duckdb_tables WHERE {p}{l}',
    'SELECT * FROM duckdb_columns WHERE {p}{l}',
    'SELECT * FROM information_schema.schemata WHERE {p}{l}',
    `SELECT t.table_name FROM information_schema.tables t, ${other}.residents WHERE {p}{l}`,
    'SELECT * FROM sqlite_master WHERE {p}{l}',
    `SELECT name FROM ${other}.residents WHERE {p}{l}`,
    `SELECT count(*) FROM ${other}.main.residents WHERE {p}{l}`,
    `SELECT (SELECT max(name) FROM "${other}".residents WHERE {p}) FROM residents{l}`,
    "SELECT * FROM residents WHERE {p} UNION ALL SELECT 1, path, 1 FROM duckdb_databases{l}",
  );
};

/** Queries the gate must allow, each with the tables its lineage must name. */
const allowed = (env: Env) => {
  const own = env === 'prod' ? 'granted' : 'dev';
  return fc.constantFrom(
    ['SELECT count(*) FROM residents WHERE {p}{l}', [`${own}.residents`]],
    ['SELECT count(*) FROM main.residents WHERE {p}{l}', [`${own}.residents`]],
    [`SELECT count(*) FROM ${own}.residents WHERE {p}{l}`, [`${own}.residents`]],
    [`SELECT count(*) FROM ${own}.main.residents WHERE {p}{l}`, [`${own}.residents`]],
    ['SELECT name FROM residents WHERE {p}{l}', [`${own}.residents`]],
    ['SELECT 1 WHERE {p} OR EXISTS (SELECT 1 FROM main.residents){l}', [`${own}.residents`]],
    ['SELECT max(id) FROM residents WHERE {p} AND id > 3{l}', [`${own}.residents`]],
    // information_schema.tables is answered from the env's listing (docs/sandbox.md, Discovery).
    ['SELECT count(*) FROM information_schema.tables WHERE {p}{l}', ['information_schema.tables']],
  ) as fc.Arbitrary<[string, string[]]>;
};

const fill = (template: string, p: string, l: string) => template.replaceAll('{p}', p).replaceAll('{l}', l);

describe('gate soundness under literal variants', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { INDOMAIN_QUERY_MAX_REJECTIONS_PER_MINUTE: '100000' } });
    await licenseTenantWithData(t, 'acme', [residents('PRODSECRET', 20)]);
  });
  afterAll(() => t.close({ remove: true }));

  /** Runs one query on the real engine; returns its lineage, or the code it was refused with. */
  async function run(sql: string, env: Env): Promise<{ tables: string[]; body: string } | { code: string }> {
    try {
      const result = await t.app.engine.query({ tenantId: 'acme', sql, env, maxRows: 100, maxBytes: 1 << 20, timeoutMs: 10_000, admissible: t.app.controlPlane.admissible('acme') });
      return { tables: result.tables, body: JSON.stringify(result.rows) };
    } catch (error) {
      if (isDomainError(error)) return { code: error.code };
      throw error;
    }
  }

  for (const env of ['prod', 'dev'] as const) {
    it(`gives every literal variant the verdict and lineage of its query, in any order (${env})`, async () => {
      const step = fc.oneof(
        fc.tuple(fc.constant('refused' as const), refused(env), predicate, limit),
        fc.tuple(fc.constant('allowed' as const), allowed(env), predicate, limit),
      );
      await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 2, maxLength: 8 }), async (steps) => {
        for (const [kind, query, p, l] of steps) {
          if (kind === 'refused') {
            const sql = fill(query as string, p, l);
            const outcome = await run(sql, env);
            expect('code' in outcome ? outcome.code : `answered: ${outcome.body}`, sql).toSatisfy((code: string) => GATE_CODES.includes(code));
          } else {
            const [template, lineage] = query as [string, string[]];
            const sql = fill(template, p, l);
            const outcome = await run(sql, env);
            expect('tables' in outcome, `${sql}: ${JSON.stringify(outcome)}`).toBe(true);
            if ('tables' in outcome) for (const table of lineage) expect(outcome.tables, sql).toContain(table);
          }
        }
      }), { numRuns: 40 });
    });
  }

  it('refuses the poisoning pair from the report through HTTP and never shows a path', async () => {
    const operator = { role: 'operator', org: 'acme', sub: 'mallory' } as const;
    for (const p of ['1=0', '1=1']) {
      const res = await t.call(operator, 'POST', '/v1/query', { sql: `SELECT database_name, path FROM duckdb_databases WHERE ${p}`, env: 'prod' });
      expect(res.statusCode).toBe(400);
      expect(GATE_CODES).toContain(res.json().code);
      expect(res.body).not.toContain(t.dataDir);
    }
  });
});
