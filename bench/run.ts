/**
 * `npm run bench`: the figures behind docs/performance.md, each measured in this one run next to
 * the anchor its issue names. Servers run in child processes on 127.0.0.1; the load generator
 * (autocannon) runs here. Nothing here asserts a time: it prints figures and ratios.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { signDevToken } from '../server/dev-tokens.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 8);
const CONNECTIONS = 16;
const JWT_SECRET = 'bench-secret-bench-secret-bench-secret-0123';

interface Server {
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function startServer(mode: 'app' | 'bare', env: Record<string, string> = {}): Promise<Server> {
  const devNull = fs.openSync('/dev/null', 'w');
  const child = spawn(process.execPath, [path.join(here, 'serve.js'), mode], { env: { ...process.env, ...env }, stdio: ['ignore', devNull, 'inherit', 'ipc'] });
  fs.closeSync(devNull);
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message) => resolve((message as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`${mode} server exited with ${code}`)));
  });
  child.disconnect();
  return {
    port,
    child,
    stop: () => new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

interface Load {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(options: autocannon.Options, warmupS = 2): Promise<Load> {
  await autocannon({ ...options, duration: warmupS });
  const result = await autocannon({ ...options, duration: DURATION_S });
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx };
}

function line(label: string, value: Load): string {
  return `${label.padEnd(48)} ${value.rps.toFixed(0).padStart(7)} req/s   p50 ${String(value.p50).padStart(3)} ms   p99 ${String(value.p99).padStart(3)} ms   errors ${value.errors}`;
}

async function benchMutations(appEnv: Record<string, string>, token: string): Promise<void> {
  const server = await startServer('app', appEnv);
  try {
    let counter = 0;
    const today = new Date();
    const window = { licenseFrom: today.toISOString().slice(0, 10), licenseTo: new Date(today.getTime() + 300 * 86_400_000).toISOString().slice(0, 10) };
    const options = (connections: number): autocannon.Options => ({
      url: `http://127.0.0.1:${server.port}`,
      connections,
      requests: [{
        method: 'POST',
        path: '/v1/tenants',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        setupRequest: (request) => ({ ...request, body: JSON.stringify({ id: `b${counter++}`, name: 'bench', ...window }) }),
      }],
    });
    const concurrent = await load(options(CONNECTIONS));
    const serial = await load(options(1));
    console.log('\n## Audited mutations (POST /v1/tenants: auth, validation, commit + audit entry fsynced before the response)');
    console.log(line(`concurrency ${CONNECTIONS} (group commit)`, concurrent));
    console.log(line('concurrency 1 (one commit per mutation)', serial));
    console.log(`target >= 500/s: ${concurrent.rps >= 500 ? 'met' : 'NOT met'} at concurrency ${CONNECTIONS}`);
  } finally {
    await server.stop();
  }
}

async function benchReads(appEnv: Record<string, string>, token: string): Promise<void> {
  const bare = await startServer('bare');
  let bareLoad: Load;
  try {
    bareLoad = await load({ url: `http://127.0.0.1:${bare.port}/bare`, connections: CONNECTIONS });
  } finally {
    await bare.stop();
  }
  const app = await startServer('app', appEnv);
  let appLoad: Load;
  try {
    appLoad = await load({ url: `http://127.0.0.1:${app.port}/v1/tenants/demo`, connections: CONNECTIONS, headers: { authorization: `Bearer ${token}` } });
  } finally {
    await app.stop();
  }
  const ratio = appLoad.rps / bareLoad.rps;
  console.log('\n## Authenticated reads (GET /v1/tenants/demo: JWT verify, claims, org state, role, schema serialization)');
  console.log(line('bare Fastify route (anchor)', bareLoad));
  console.log(line('authenticated read', appLoad));
  console.log(`ratio authenticated / bare: ${ratio.toFixed(2)} (target >= 0.5: ${ratio >= 0.5 ? 'met' : 'NOT met'})`);
}

const dataDirs: string[] = [];
const freshEnv = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'indomain-bench-'));
  dataDirs.push(dir);
  return { INDOMAIN_DATA_DIR: dir, INDOMAIN_JWT_SECRET: JWT_SECRET, INDOMAIN_DEMO: 'true', INDOMAIN_MAX_INFLIGHT: '4096' };
};

console.log(`# indomain bench: ${new Date().toISOString()}, node ${process.version}, ${os.cpus().length} cores, ${DURATION_S}s per figure, ${CONNECTIONS} connections`);
const supervisor = signDevToken(JWT_SECRET, { role: 'supervisor', org: 'authority', sub: 'bench' }, '2h');
try {
  await benchMutations(freshEnv(), supervisor);
  await benchReads(freshEnv(), supervisor);
} finally {
  for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
}
