/**
 * `npm run -s audit:verify [-- --data-dir <dir>]`: verifies the audit chain offline, against a data
 * dir whose server is stopped (DuckDB lets one process open the store). Prints the report as JSON;
 * exits 0 when the chain verifies, 1 when it does not, 2 on usage errors or an unusable public key file.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CONTROL_DB_FILE, loadAuditVerifier, openDuckDbControlStore, SECRETS_DIR, verifyStoredChain } from '../../tenants/index.js';
import { configFromProcessEnv } from '../env.js';
import { exitOnSecretFileError } from '../secrets.js';

const { values } = parseArgs({ options: { 'data-dir': { type: 'string' } }, strict: true });
const dataDir = values['data-dir'] ?? configFromProcessEnv().dataDir;
// Before the store is opened, so a bad key file exits with its one line and nothing to close.
let verifier: ReturnType<typeof loadAuditVerifier>;
try {
  verifier = loadAuditVerifier(path.join(dataDir, SECRETS_DIR));
} catch (error) {
  exitOnSecretFileError(error);
}
const store = await openDuckDbControlStore({
  path: path.join(dataDir, CONTROL_DB_FILE),
  clock: () => new Date(),
  readOnly: true,
  onCallbackError: (error) => process.stderr.write(`${String(error)}\n`),
}).catch((error: unknown) => {
  process.stderr.write(`cannot open ${path.join(dataDir, CONTROL_DB_FILE)} (is the server still running?): ${(error as Error).message}\n`);
  process.exit(2);
});
try {
  const report = await verifyStoredChain(store.reader, dataDir, verifier);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  process.exitCode = report.ok ? 0 : 1;
} finally {
  await store.close();
}
