import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const MASTER_FILE = 'token-master.key';

/**
 * The master secret from which each tenant's token key is derived. It lives in the data dir's
 * `secrets/` (never in a tenant file); a tenant's key only ever appears in the refinery's SQL.
 */
export function loadOrCreateTokenMaster(secretsDir: string): Buffer {
  const file = path.join(secretsDir, MASTER_FILE);
  fs.mkdirSync(secretsDir, { recursive: true, mode: 0o700 });
  try {
    fs.writeFileSync(file, randomBytes(32), { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return fs.readFileSync(file);
}

/** A tenant's token key: the same person's tokens join within the tenant and never across tenants. */
export function tenantTokenKey(master: Buffer, tenantId: string): Buffer {
  return createHmac('sha256', master).update(`indomain.token.v1.${tenantId}`).digest();
}
