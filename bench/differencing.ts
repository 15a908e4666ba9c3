/**
 * Issue #11 item 2: the cost of differencing. A 1,000-cell aggregate over 100,000 payment rows of
 * 20,000 people (`pay_personal`: 20 people per cell) is exported and approved again and again; each
 * new export writes its cells' entity sets and is compared with every release so far (the same
 * cells: every entity matches, the largest join), and each approval compares again and adds its
 * sets to the release store. The anchor is the same export over `pay_plain` (the same rows keyed
 * by a plain number: no person-level checks, no cell sets), in the same run.
 */
import { signDevToken } from '../server/dev-tokens.js';
import { call } from './refinery.js';

interface Started { port: number; stop(): Promise<void> }
type StartServer = (mode: 'app', env: Record<string, string>) => Promise<Started>;

const RELEASES = 8;
const SQL = (table: string) => `SELECT district, count(*) AS n FROM ${table} GROUP BY district ORDER BY district`;

export async function benchDifferencing(startServer: StartServer, env: Record<string, string>, secret: string, rows: number): Promise<void> {
  const supervisor = signDevToken(secret, { role: 'supervisor', org: 'authority', sub: 'bench-reviewer' }, '2h');
  const operator = signDevToken(secret, { role: 'operator', org: 'bench', sub: 'bench' }, '2h');
  const app = await startServer('app', { ...env, BENCH_TENANT_ROWS: '10', BENCH_BIG_ROWS: '10', BENCH_DISCLOSURE_ROWS: String(rows) });
  const timed = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
    const started = performance.now();
    return [await work(), performance.now() - started];
  };
  const expect = (res: { status: number; json: any }, status: number, what: string) => {
    if (res.status !== status) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.json)}`);
    return res.json;
  };
  const create = (table: string) => timed(async () => expect(await call(app.port, operator, 'POST', '/v1/exports', { source: { sql: SQL(table) }, recipient: 'bench-lab', purpose: 'bench', format: 'csv' }), 201, 'create'));
  const lines: string[] = [];
  try {
    expect(await call(app.port, supervisor, 'POST', '/v1/applicants', { id: 'bench-lab', name: 'Bench Lab' }), 201, 'applicant');
    await create('pay_plain');
    const [, plainMs] = await create('pay_plain');
    for (let released = 0; released < RELEASES; released++) {
      const [created, createMs] = await create('pay_personal');
      const differencing = created.checks.find((c: { name: string }) => c.name === 'differencing');
      if (differencing?.status !== 'pass') throw new Error(`differencing: ${JSON.stringify(differencing)}`);
      expect(await call(app.port, operator, 'POST', `/v1/exports/${created.id}/submit`, {}), 200, 'submit');
      const [, approveMs] = await timed(async () => expect(await call(app.port, supervisor, 'POST', `/v1/exports/${created.id}/reviews`, { version: 1, decision: 'approve' }), 200, 'approve'));
      lines.push(`| ${released} | ${createMs.toFixed(0)} | ${approveMs.toFixed(0)} |`);
    }
    console.log(`\n## Differencing (${rows.toLocaleString('en')} rows, 1,000 cells of 20 people; export of the same cells over pay_plain, no checks: ${plainMs.toFixed(0)} ms)`);
    console.log('| releases before | create (snapshot, checks, cell sets, differencing) ms | approval (differencing again, store, package) ms |');
    console.log('|---|---|---|');
    for (const line of lines) console.log(line);
  } finally {
    await app.stop();
  }
}
