/**
 * `npm run -s audit:verify [-- --data-dir <dir>]`: verifies the audit chain offline, against a data
 * dir whose server is stopped (DuckDB lets one process open the store). Prints the report as JSON;
 * exits 0 when the chain verifies, 1 when it does not, 2 on usage errors, a missing store or an
 * unusable public key file.
 *
 * Arguments are checked before the control plane (and DuckDB with it) is loaded, so `--help` and a
 * bad option answer at once (docs/decisions.md, "The CLIs start light").
 */
import fs from 'node:fs';
import path from 'node:path';
import { configFromProcessEnv } from '../env.js';
import { exitOnSecretFileError } from '../secrets.js';
import { parseCliArgs, USAGE_ERROR_EXIT } from './args.js';

const USAGE = `usage: npm run -s audit:verify [-- --data-dir <dir>]

Verifies the audit chain offline (links, hashes, signed checkpoints, the head anchor) and prints
the report as JSON. The server must be stopped: only one process can open the control store.

  --data-dir   the data dir to verify (default INDOMAIN_DATA_DIR, else ./data)
  --help       this text

Exit status: 0 the chain verifies, 1 it does not, 2 usage or an unreadable data dir or key.`;

const values = parseCliArgs('audit:verify', USAGE, { 'data-dir': { type: 'string' } });
const dataDir = path.resolve(values['data-dir'] ?? configFromProcessEnv().dataDir);
const { CONTROL_DB_FILE, loadAuditVerifier, openDuckDbControlStore, SECRETS_DIR, verifyStoredChain } = await import('../../tenants/index.js');
// Before the store is opened, so a bad key file exits with its one line and nothing to close.
let verifier: ReturnType<typeof loadAuditVerifier>;
try {
  verifier = loadAuditVerifier(path.join(dataDir, SECRETS_DIR));
} catch (error) {
  exitOnSecretFileError(error);
}
const storeFile = path.join(dataDir, CONTROL_DB_FILE);
if (!fs.existsSync(storeFile)) {
  // DuckDB would create an empty store here; an auditor pointed at the wrong dir learns that instead.
  process.stderr.write(`audit:verify: no control store in the data dir ${dataDir} (${storeFile} does not exist)\n`);
  process.exit(USAGE_ERROR_EXIT);
}
const store = await openDuckDbControlStore({
  path: storeFile,
  clock: () => new Date(),
  readOnly: true,
  onCallbackError: (error) => process.stderr.write(`${String(error)}\n`),
}).catch((error: unknown) => {
  process.stderr.write(`audit:verify: cannot open ${storeFile} (is the server still running?): ${(error as Error).message}\n`);
  process.exit(USAGE_ERROR_EXIT);
});
try {
  const report = await verifyStoredChain(store.reader, dataDir, verifier);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  process.exitCode = report.ok ? 0 : 1;
} finally {
  await store.close();
}
