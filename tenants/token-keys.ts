import { createHmac, randomBytes } from 'node:crypto';
import path from 'node:path';
import { loadOrCreateSecretFile } from '../sandbox/index.js';

export const TOKEN_MASTER_FILE = 'token-master.key';
const MASTER_BYTES = 32;

/**
 * The master secret from which each tenant's token key is derived. It lives in the data dir's
 * `secrets/` (never in a tenant file); a tenant's key only ever appears in the refinery's SQL.
 * Throws SecretFileError when the file is not 32 bytes of key or is readable by others.
 */
export function loadOrCreateTokenMaster(secretsDir: string): Buffer {
  return loadOrCreateSecretFile(path.join(secretsDir, TOKEN_MASTER_FILE), {
    generate: () => randomBytes(MASTER_BYTES),
    // SECURITY: an empty or short master makes every tenant's token key guessable, so every pseudonym reversible.
    check: (content) => {
      if (content.length !== MASTER_BYTES) return `is ${content.length} bytes, expected ${MASTER_BYTES}`;
      // A file zeroed by a crash or a bad copy has the right length and no secret.
      if (content.every((byte) => byte === content[0])) return `holds ${MASTER_BYTES} identical bytes, not a random key`;
      return undefined;
    },
    // Not "delete it": a new master changes every tenant's tokens, which breaks joins with earlier results.
    remedy: 'restore it from a backup of the data dir (a new master key would change every tenant\'s tokens, so do not replace it)',
  });
}

/** A tenant's token key: the same person's tokens join within the tenant and never across tenants. */
export function tenantTokenKey(master: Buffer, tenantId: string): Buffer {
  return createHmac('sha256', master).update(`indomain.token.v1.${tenantId}`).digest();
}

/**
 * The domain's entity key: one per domain (not per tenant), so that the disclosure checks can count
 * the same person once across datasets and compare released cells across tenants. Entity keys live
 * only in `__entities_*` side tables that tenant SQL can never read.
 */
export function entityKey(master: Buffer): Buffer {
  return createHmac('sha256', master).update('indomain.entity.v1').digest();
}

/**
 * The key of one export's fingerprint for its recipient (`desensitize/fingerprint.ts`): re-keyed
 * tokens and keyed marks. Per (export, recipient): two recipients, or two exports, cannot join on
 * tokens. Derived here, inside the domain, whenever a package is built or a leak traced; never
 * stored in a package.
 */
export function exportFingerprintKey(master: Buffer, exportId: string, recipient: string): Buffer {
  return createHmac('sha256', master).update(`indomain.export-fingerprint.v1.${exportId}.${recipient}`).digest();
}
