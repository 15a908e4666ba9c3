/**
 * Issue #10: time from `npm start` to `/health` answering 200 on 127.0.0.1, on a built checkout:
 * on a fresh data dir (the demo domain is generated first: the progress lines give each step's
 * share) and on the data dir that start seeded. Also how long the token and audit CLIs take to
 * answer. Each figure is printed with the load average when it was taken (this machine is shared).
 * Prints figures; asserts nothing. Called from run.ts (`BENCH_ONLY=start`).
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' / ');

/**
 * CPU seconds (user + system) spent so far by the process group `pgid`: its live processes and the
 * children they reaped (npm's prestart check). Linux only (/proc); undefined elsewhere. On a loaded
 * machine wall time says more about the neighbours than about us; CPU time does not.
 */
function groupCpuSeconds(pgid: number): number | undefined {
  let ticks = 0;
  try {
    for (const pid of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let stat: string;
      try {
        stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        continue;
      }
      // Fields after the command name (which may hold spaces) start at state: pgrp is the 3rd, utime the 12th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== pgid) continue;
      ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    }
  } catch {
    return undefined;
  }
  return ticks / 100;
}

interface StartRun {
  healthyMs: number;
  cpuS: number | undefined;
  /** Progress lines with the ms since spawn at which each arrived. */
  lines: { ms: number; text: string }[];
}

/**
 * `npm start` (the real command: npm, its prestart staleness check, then the server) in its own
 * process group, polled on /health every 50 ms until 200; then SIGTERM to the group and wait.
 */
async function timeStart(dataDir: string): Promise<StartRun> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(NPM, ['start', '--silent'], {
    cwd: root,
    detached: true,
    env: { ...process.env, INDOMAIN_DATA_DIR: dataDir, INDOMAIN_HOST: '127.0.0.1', INDOMAIN_PORT: String(port), INDOMAIN_LOG_LEVEL: 'warn', INDOMAIN_MAX_EVENT_LOOP_DELAY_MS: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: StartRun['lines'] = [];
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const parts = pending.split('\n');
    pending = parts.pop()!;
    for (const text of parts) if (text.startsWith('indomain: ')) lines.push({ ms: performance.now() - started, text: text.slice('indomain: '.length) });
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let ended = false;
  void exited.then(() => (ended = true));
  try {
    for (;;) {
      if (ended) throw new Error(`npm start exited before /health answered:\n${stderr}`);
      const ok = await fetch(`http://127.0.0.1:${port}/health`).then((res) => res.status === 200, () => false);
      if (ok) return { healthyMs: performance.now() - started, cpuS: groupCpuSeconds(child.pid!), lines };
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    process.kill(-child.pid!, 'SIGTERM');
    await exited;
    // npm has gone; wait for the server itself (same process group) to finish its checkpoint.
    for (let i = 0; i < 200; i++) {
      try {
        process.kill(-child.pid!, 0);
      } catch {
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

async function timeCommand(args: string[], env: Record<string, string>): Promise<{ ms: number; code: number }> {
  const started = performance.now();
  const code = await exec(args[0]!, args.slice(1), { cwd: root, env: { ...process.env, ...env } }).then(() => 0, (error: { code?: number }) => error.code ?? 1);
  return { ms: performance.now() - started, code };
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const cpu = (seconds: number | undefined) => (seconds === undefined ? 'CPU n/a' : `${seconds.toFixed(1)} s CPU`);

export async function benchStart(): Promise<void> {
  console.log('\n## Issue #10: npm start to /health, and the CLIs');
  // As on a checkout built at install: npm start's staleness check then finds dist current.
  await exec(process.execPath, ['scripts/build-if-stale.mjs'], { cwd: root });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'indomain-bench-start-'));
  try {
    const before = load();
    const fresh = await timeStart(dataDir);
    console.log(`npm start, fresh data dir (demo domain generated)   ${s(fresh.healthyMs).padStart(7)} to /health 200, ${cpu(fresh.cpuS)}   (load ${before})`);
    for (const { ms, text } of fresh.lines) console.log(`    at ${s(ms).padStart(7)}  ${text}`);
    for (let i = 1; i <= 2; i++) {
      const loadNow = load();
      const seeded = await timeStart(dataDir);
      console.log(`npm start, seeded data dir (run ${i})                  ${s(seeded.healthyMs).padStart(7)} to /health 200, ${cpu(seeded.cpuS)}   (load ${loadNow})`);
    }
    const env = { INDOMAIN_DATA_DIR: dataDir };
    const cli = [
      ['token --help (node)', [process.execPath, 'dist/server/cli/token.js', '--help']],
      ['token, a real token (node)', [process.execPath, 'dist/server/cli/token.js', '--role', 'operator', '--org', 'demo', '--sub', 'bench']],
      ['token, a real token (npm run -s token)', [NPM, 'run', '-s', 'token', '--', '--role', 'operator', '--org', 'demo', '--sub', 'bench']],
      ['token --bogus (usage error)', [process.execPath, 'dist/server/cli/token.js', '--bogus']],
      ['audit:verify --help (node)', [process.execPath, 'dist/server/cli/audit-verify.js', '--help']],
      ['audit:verify of the seeded dir (node)', [process.execPath, 'dist/server/cli/audit-verify.js', '--data-dir', dataDir]],
      ['bare node, for scale', [process.execPath, '-e', '']],
    ] as const;
    for (const [label, args] of cli) {
      const loadNow = load();
      const { ms, code } = await timeCommand([...args], env);
      console.log(`${label.padEnd(52)} ${s(ms).padStart(7)}   exit ${code}   (load ${loadNow})`);
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
