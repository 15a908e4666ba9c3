/**
 * Issue #10 item 5: time from a supervisor's POST of a grant (a 100k-row dataset, added to the demo
 * tenant, which already holds the 620k-row demo domain) to the operator's first successful query on
 * it, and to the grant reading `active`: with the incremental refinery, against a full rebuild of
 * every table measured in the same run (a second server over the same data dir, carrying turned off).
 */
import { signDevToken } from '../server/dev-tokens.js';

interface Started { port: number; stop(): Promise<void> }
type StartServer = (mode: 'app', env: Record<string, string>) => Promise<Started>;

const DATASETS = { incremental: 'bench_grant_incremental', full: 'bench_grant_full' } as const;
const POLL_MS = 20;

export async function call(port: number, token: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: await response.json() };
}

/** Grants `dataset` to the demo tenant; returns ms to the first 200 query on it, and to `active`. */
async function timeGrant(port: number, secret: string, dataset: string): Promise<{ queryMs: number; activeMs: number; firstStatus: string }> {
  const supervisor = signDevToken(secret, { role: 'supervisor', org: 'authority', sub: 'bench' }, '2h');
  const operator = signDevToken(secret, { role: 'operator', org: 'demo', sub: 'bench' }, '2h');
  // The tenant is working: its engine process runs when the grant arrives.
  const warm = await call(port, operator, 'POST', '/v1/query', { sql: 'SELECT count(*) FROM social_insurance', env: 'prod' });
  if (warm.status !== 200) throw new Error(`warm-up query failed: ${warm.status} ${JSON.stringify(warm.json)}`);
  const tenant = await call(port, supervisor, 'GET', '/v1/tenants/demo');
  const until = tenant.json.licenseTo as string;
  const started = performance.now();
  const created = await call(port, supervisor, 'POST', '/v1/tenants/demo/grants', { dataset, purpose: 'bench', until });
  if (created.status !== 201) throw new Error(`grant failed: ${created.status} ${JSON.stringify(created.json)}`);
  let queryMs = 0;
  for (;;) {
    const res = await call(port, operator, 'POST', '/v1/query', { sql: `SELECT count(*) FROM ${dataset}`, env: 'prod' });
    if (res.status === 200) {
      queryMs = performance.now() - started;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  for (;;) {
    const res = await call(port, supervisor, 'GET', '/v1/tenants/demo/grants');
    if (res.status === 200 && (res.json.grants as { dataset: string; status: string }[]).find((g) => g.dataset === dataset)?.status === 'active') break;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return { queryMs, activeMs: performance.now() - started, firstStatus: created.json.status };
}

export async function benchIncrementalGrant(startServer: StartServer, env: Record<string, string>, secret: string): Promise<void> {
  const serverEnv = { ...env, BENCH_GRANT_DATASETS: `${DATASETS.incremental},${DATASETS.full}`, BENCH_GRANT_ROWS: '100000', INDOMAIN_QUERY_MAX_REJECTIONS_PER_MINUTE: '100000',
    // The polls must not be shed on a loaded machine: the figure is the refinery's, not the shedder's.
    INDOMAIN_MAX_EVENT_LOOP_DELAY_MS: '0' };
  const incremental = await startServer('app', serverEnv);
  let carried: Awaited<ReturnType<typeof timeGrant>>;
  try {
    carried = await timeGrant(incremental.port, secret, DATASETS.incremental);
  } finally {
    await incremental.stop();
  }
  // The same data dir, the same tenant (now holding the demo domain and the first grant), carrying off.
  const full = await startServer('app', { ...serverEnv, BENCH_FULL_REBUILDS: '1' });
  let rebuilt: Awaited<ReturnType<typeof timeGrant>>;
  try {
    rebuilt = await timeGrant(full.port, secret, DATASETS.full);
  } finally {
    await full.stop();
  }
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log('\n## Incremental grants (#10): POST grant of a 100k-row dataset to the demo tenant (620k rows held) → first successful prod query');
  console.log(`incremental (carry unchanged tables): first query ${s(carried.queryMs)}, grant active (prod and dev) ${s(carried.activeMs)}; answer said ${carried.firstStatus}; target <= 3 s: ${carried.queryMs <= 3000 ? 'met' : 'NOT met'}`);
  console.log(`full rebuild (every table from the domain): first query ${s(rebuilt.queryMs)}, grant active ${s(rebuilt.activeMs)}`);
  console.log(`speed-up to first query: ${(rebuilt.queryMs / carried.queryMs).toFixed(1)}x`);
}
