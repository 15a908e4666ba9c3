/**
 * `npm run -s trace -- <file> [--data-dir <dir>]`: names the export and recipient a leaked CSV,
 * Parquet or XLSX file was delivered to (issue 11, item 6; `tenants/exports/trace-leak.ts`), on the
 * operator's machine inside the domain. Reads the packages under `<dataDir>/exports/` and the token
 * master; never the server. Every trace is appended to the audit chain through the control store,
 * which only one process can open: the server must be stopped (as for audit:verify, which opens it
 * read-only). A trace that cannot be audited is not run.
 *
 * Exit status: 0 a fingerprint was found, 1 no fingerprint found, 2 usage, an unreadable file or
 * data dir, or a store held by a running server.
 *
 * Arguments are checked before the control plane (and DuckDB with it) is loaded (docs/decisions.md,
 * "The CLIs start light").
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDomainError } from '../../core/errors.js';
import { configFromProcessEnv } from '../env.js';
import { exitOnSecretFileError } from '../secrets.js';
import { parseCliArgsWithFile, USAGE_ERROR_EXIT } from './args.js';

const USAGE = `usage: npm run -s trace -- <file> [--data-dir <dir>]

Names the export and recipient a leaked file (CSV, Parquet or XLSX; any order of rows and
columns, any share of the rows) was delivered to, and prints {export, recipient, confidence} with
the evidence as JSON, or "no fingerprint found". Aggregates are matched against released cells.
Each trace is recorded in the audit chain: the server must be stopped.

  --data-dir   the data dir whose exports to search (default INDOMAIN_DATA_DIR, else ./data)
  --help       this text

Exit status: 0 found, 1 no fingerprint found, 2 usage, an unreadable file or data dir, or a
running server.`;

const { values, file: leakedArg } = parseCliArgsWithFile('trace', USAGE, { 'data-dir': { type: 'string' } });
const dataDir = path.resolve(values['data-dir'] ?? configFromProcessEnv().dataDir);
const leaked = path.resolve(leakedArg);
const fail = (problem: string): never => {
  process.stderr.write(`trace: ${problem}\n`);
  process.exit(USAGE_ERROR_EXIT);
};
if (!fs.existsSync(leaked) || !fs.statSync(leaked).isFile()) fail(`${leaked} is not a file`);
const { CONTROL_DB_FILE, loadOrCreateTokenMaster, openDuckDbControlStore, SECRETS_DIR, TOKEN_MASTER_FILE, traceLeak } = await import('../../tenants/index.js');
const storeFile = path.join(dataDir, CONTROL_DB_FILE);
// Both checked before anything is opened: DuckDB would create an empty store, and the loader a new master.
if (!fs.existsSync(storeFile)) fail(`no control store in the data dir ${dataDir} (${storeFile} does not exist)`);
if (!fs.existsSync(path.join(dataDir, SECRETS_DIR, TOKEN_MASTER_FILE))) fail(`no token master in the data dir ${dataDir}: nothing delivered from it can be traced`);
let master: Buffer;
try {
  master = loadOrCreateTokenMaster(path.join(dataDir, SECRETS_DIR));
} catch (error) {
  exitOnSecretFileError(error);
}
// Hashed as a stream: a leaked file may be larger than one buffer holds (2 GiB), and is read again only in part.
const leakedFile = await hashFile(leaked).catch((error: unknown) => fail(`cannot read ${leaked}: ${(error as NodeJS.ErrnoException).code ?? 'unknown error'}`));
const store = await openDuckDbControlStore({ path: storeFile, clock: () => new Date(), onCallbackError: (error) => process.stderr.write(`${String(error)}\n`) })
  .catch((error: unknown) => fail(`cannot open ${storeFile} to audit the trace (is the server running? stop it first): ${(error as Error).message.split('\n')[0]}`));
const actor = { sub: `trace-cli:${safeUserName()}`, role: 'system' as const, org: 'platform' };
try {
  let report: Awaited<ReturnType<typeof traceLeak>> | undefined;
  let unreadable: string | undefined;
  try {
    report = await traceLeak({ dataDir, file: leaked, tokenMaster: master, downloaded: async (id) => (await store.reader.exportDownloads(id)).length > 0 });
  } catch (error) {
    if (!isDomainError(error)) throw error;
    unreadable = `${error.code}: ${error.message}`;
    await store.mutate((tx) => tx.appendAudit({ actor, action: 'export.trace', target: 'exports', details: { file: leakedFile, outcome: error.code } }));
  }
  if (report) {
    const matches = report.found ? report.matches.map(({ export: exportId, version, recipient, method, confidence }) => ({ export: exportId, version, recipient, method, confidence })) : [];
    // SECURITY: issue 11 item 7: every trace is audited, before its answer is shown.
    await store.mutate((tx) => tx.appendAudit({
      actor, action: 'export.trace', target: report.found ? `export:${report.export}` : 'exports',
      details: { file: leakedFile, outcome: report.found ? 'found' : 'no fingerprint found', matches },
    }));
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    process.exitCode = report.found ? 0 : 1;
  } else {
    process.stderr.write(`trace: ${unreadable}\n`);
    process.exitCode = USAGE_ERROR_EXIT;
  }
} finally {
  await store.close();
}

async function hashFile(file: string): Promise<{ name: string; sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of fs.createReadStream(file)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { name: path.basename(file), sha256: hash.digest('hex'), bytes };
}

function safeUserName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}
