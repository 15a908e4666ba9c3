import path from 'node:path';
import { loadOrCreateAuditSigner } from './audit/signing-key.js';
import { SECRETS_DIR } from './control-plane.js';
import { loadOrCreateTokenMaster } from './token-keys.js';

/**
 * Creates the control plane's secrets on first use and checks them, without opening anything else:
 * the server calls it before it starts any engine process, so a bad key stops the start at once.
 * `openControlPlane` loads them again. Throws SecretFileError (see sandbox/secret-file.ts).
 */
export function ensureControlPlaneSecrets(dataDir: string): void {
  const secretsDir = path.join(dataDir, SECRETS_DIR);
  loadOrCreateAuditSigner(secretsDir);
  loadOrCreateTokenMaster(secretsDir);
}
