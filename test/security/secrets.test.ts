/**
 * Attacks on the data dir from the same machine. The token master (every tenant's pseudonyms), the
 * audit signing key and the development HS256 secret are only as secret as their files: an empty
 * or short key makes tokens guessable, and a file other users can read hands the key to them. The
 * raw domain data and tenant files are as sensitive as the keys. So:
 * - the app refuses to start on an empty or short token master, a token master or audit key other
 *   users can read, PEM garbage for the audit key, or a short development secret, naming the file;
 * - the server and the CLIs say so in one line and exit with status 2, not a stack trace;
 * - after a start over a data dir left open (0755) by an earlier version, the data dir is 0700 and
 *   everything created in it (control store, secrets, audit files, a supervisor's ingested domain
 *   file) is owner-only; the token CLI narrows it too, and never creates a secret of its own.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { datasetMeta, ingest, residentsCsv } from '../helpers/dataset-fixture.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { startTestApp } from '../helpers/test-app.js';

const run = promisify(execFile);

let temp: ReturnType<typeof makeTempDir>;
let dataDir: string;
let secrets: string;
beforeEach(() => {
  temp = makeTempDir();
  dataDir = path.join(temp.dir, 'data');
  secrets = path.join(dataDir, 'secrets');
  fs.mkdirSync(secrets, { recursive: true, mode: 0o700 });
});
afterEach(() => temp.remove());

const master = () => path.join(secrets, 'token-master.key');
const auditKey = () => path.join(secrets, 'audit-signing-key.pem');
const jwtSecret = () => path.join(secrets, 'jwt-secret');

/** Every file and directory under `dir`, with its permission bits. */
function modesUnder(dir: string): { path: string; mode: number; isDir: boolean }[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).map((entry) => {
    const full = path.join(entry.parentPath, entry.name);
    return { path: path.relative(dir, full), mode: fs.statSync(full).mode & 0o777, isDir: entry.isDirectory() };
  });
}

describe('the app refuses to start on a bad secret', () => {
  const cases: { name: string; arrange: () => void; file: () => string; problem: string; env?: Record<string, string> }[] = [
    { name: 'an empty token master', arrange: () => writeWithMode(master(), '', 0o600), file: master, problem: 'is 0 bytes, expected 32' },
    { name: 'a short token master', arrange: () => writeWithMode(master(), randomBytes(16), 0o600), file: master, problem: 'is 16 bytes, expected 32' },
    { name: 'a token master others can read', arrange: () => writeWithMode(master(), randomBytes(32), 0o644), file: master, problem: 'has mode 0644' },
    { name: 'an audit key others can read', arrange: () => writeAuditKey(0o644), file: auditKey, problem: 'has mode 0644' },
    { name: 'PEM garbage for the audit key', arrange: () => writeWithMode(auditKey(), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', 0o600), file: auditKey, problem: 'is not a PEM private key' },
    {
      name: 'a short development secret', arrange: () => writeWithMode(jwtSecret(), 'secret', 0o600), file: jwtSecret, problem: 'holds 6 characters, expected at least 32',
      env: { INDOMAIN_JWT_SECRET: '' },
    },
  ];
  for (const { name, arrange, file, problem, env } of cases) {
    it(`refuses ${name}, naming the file`, async () => {
      arrange();
      const before = fs.readFileSync(file());
      expect(await startOutcome(env)).toMatchObject({ name: 'SecretFileError', message: expect.stringContaining(`${file()} ${problem}`) });
      // Refused, not repaired behind the operator's back: the key is as it was.
      expect(fs.readFileSync(file()).equals(before)).toBe(true);
    });
  }

  it('refuses a secrets dir others can enter', async () => {
    fs.chmodSync(secrets, 0o755);
    expect(await startOutcome()).toMatchObject({ message: `${secrets} has mode 0755, open to group or others: run chmod 700 ${secrets}` });
  });
});

describe('entry points print one line and exit with status 2', () => {
  const expectOneLine = (error: { code?: number; stderr?: string }, file: string, advice: string) => {
    expect(error.code).toBe(2);
    expect(error.stderr).toMatch(new RegExp(`^indomain: ${escape(file)} [^\\n]*${escape(advice)}[^\\n]*\\n$`));
  };

  it('npm start on a short token master', async () => {
    writeWithMode(master(), randomBytes(8), 0o600);
    const error = await run(process.execPath, [path.resolve('dist/server/main.js')], {
      env: { PATH: process.env.PATH ?? '', INDOMAIN_DATA_DIR: dataDir, INDOMAIN_DEMO: 'false', INDOMAIN_PORT: '0', INDOMAIN_LOG_LEVEL: 'silent' },
      // A server that starts anyway is stopped (SIGTERM) rather than left running.
      timeout: 15_000,
    }).catch((e: unknown) => e as { code?: number; stderr?: string });
    expectOneLine(error, master(), 'restore it from a backup');
  });

  it('the token CLI on a development secret others can read', async () => {
    writeWithMode(jwtSecret(), 'x'.repeat(64), 0o644);
    const error = await run(process.execPath, [path.resolve('dist/server/cli/token.js'), '--role', 'supervisor', '--org', 'authority', '--sub', 'sue'], {
      env: { PATH: process.env.PATH ?? '', INDOMAIN_DATA_DIR: dataDir },
    }).catch((e: unknown) => e as { code?: number; stderr?: string });
    expectOneLine(error, jwtSecret(), `chmod 600 ${jwtSecret()}`);
  });

  it('audit:verify on a public key file that is not a key', async () => {
    fs.writeFileSync(path.join(secrets, 'audit-signing-key.pub.pem'), 'garbage');
    const error = await run(process.execPath, [path.resolve('dist/server/cli/audit-verify.js'), '--data-dir', dataDir]).catch((e: unknown) => e as { code?: number; stderr?: string });
    expectOneLine(error, path.join(secrets, 'audit-signing-key.pub.pem'), 'is not a PEM public key');
  });
});

describe('the data dir is owner-only', () => {
  it('after a start over a data dir left open: 0700, and every file created in it 0600', async () => {
    fs.rmSync(secrets, { recursive: true });
    fs.chmodSync(dataDir, 0o755);
    const t = await startTestApp({ dataDir });
    try {
      const ingested = await ingest(t, datasetMeta('residents'), Buffer.from(residentsCsv(50).csv));
      expect(ingested.statusCode, ingested.body).toBe(201);
    } finally {
      await t.close();
    }
    expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
    const entries = modesUnder(dataDir);
    // What the test means to cover is there: the store, each secret, the raw domain file written by an engine process.
    expect(entries.map((e) => e.path)).toEqual(expect.arrayContaining(['control.duckdb', 'secrets/token-master.key', 'secrets/audit-signing-key.pem', 'domain/residents/v1.duckdb']));
    for (const entry of entries) expect(entry.mode, entry.path).toBe(entry.isDir ? 0o700 : 0o600);
  });

  it('after the token CLI reads the development secret', async () => {
    fs.chmodSync(dataDir, 0o755);
    writeWithMode(jwtSecret(), 'x'.repeat(64), 0o600);
    const { stdout } = await run(process.execPath, [path.resolve('dist/server/cli/token.js'), '--role', 'supervisor', '--org', 'authority', '--sub', 'sue'], {
      env: { PATH: process.env.PATH ?? '', INDOMAIN_DATA_DIR: dataDir },
    });
    expect(stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(modesUnder(dataDir)).toEqual([{ path: 'secrets', mode: 0o700, isDir: true }, { path: 'secrets/jwt-secret', mode: 0o600, isDir: false }]);
  });

  it('the token CLI never invents a secret for a data dir that has none, and says which dir it read', async () => {
    fs.rmSync(secrets, { recursive: true });
    const error = await run(process.execPath, [path.resolve('dist/server/cli/token.js'), '--role', 'supervisor', '--org', 'authority', '--sub', 'sue'], {
      env: { PATH: process.env.PATH ?? '', INDOMAIN_DATA_DIR: dataDir },
    }).catch((e: unknown) => e as { code?: number; stderr?: string; stdout?: string });
    expect(error).toMatchObject({ code: 2, stdout: '' });
    expect(error.stderr).toContain(`no development secret in the data dir ${dataDir} (${jwtSecret()} does not exist)`);
    // Nothing created: a server started later on this dir generates its own secret, as it would have.
    expect(modesUnder(dataDir)).toEqual([]);
  });
});

/** The error the app's start fails with, or 'started' (after closing the app). */
function startOutcome(env?: Record<string, string>): Promise<unknown> {
  return startTestApp({ dataDir, ...(env ? { env } : {}) }).then(
    async (t) => {
      await t.close();
      return 'started';
    },
    (error: unknown) => error,
  );
}

/** Writes `content` with exactly `mode`: the umask of this process is 077 once an app has started. */
function writeWithMode(file: string, content: string | Buffer, mode: number): void {
  fs.writeFileSync(file, content);
  fs.chmodSync(file, mode);
}

function writeAuditKey(mode: number): void {
  const { privateKey } = generateKeyPairSync('ed25519');
  writeWithMode(auditKey(), privateKey.export({ type: 'pkcs8', format: 'pem' }), mode);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
