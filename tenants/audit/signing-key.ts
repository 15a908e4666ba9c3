import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { canonicalJson } from './canonical-json.js';

/**
 * The Ed25519 key that signs audit checkpoints and the head anchor. The private key stays in the
 * data dir's `secrets/` (never in a tenant file); the public key alone verifies, so an auditor can
 * check a copy of the log without being able to forge one.
 */
export interface AuditVerifier {
  readonly keyId: string;
  verify(message: Record<string, unknown>, signature: string): boolean;
}

export interface AuditSigner extends AuditVerifier {
  sign(message: Record<string, unknown>): string;
}

const PRIVATE_FILE = 'audit-signing-key.pem';
const PUBLIC_FILE = 'audit-signing-key.pub.pem';

export function loadOrCreateAuditSigner(secretsDir: string): AuditSigner {
  const privatePath = path.join(secretsDir, PRIVATE_FILE);
  if (!fs.existsSync(privatePath)) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    fs.mkdirSync(secretsDir, { recursive: true, mode: 0o700 });
    // `wx`: two processes racing to create the key must not overwrite each other's.
    fs.writeFileSync(privatePath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    fs.writeFileSync(path.join(secretsDir, PUBLIC_FILE), publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
  }
  const privateKey = createPrivateKey(fs.readFileSync(privatePath));
  const publicKey = createPublicKey(privateKey);
  const verifier = verifierFor(publicKey);
  return {
    ...verifier,
    sign: (message) => sign(null, Buffer.from(canonicalJson(message)), privateKey).toString('base64'),
  };
}

/** The verifier from the public key file; undefined when no key was ever created. */
export function loadAuditVerifier(secretsDir: string): AuditVerifier | undefined {
  const publicPath = path.join(secretsDir, PUBLIC_FILE);
  if (!fs.existsSync(publicPath)) return undefined;
  return verifierFor(createPublicKey(fs.readFileSync(publicPath)));
}

function verifierFor(publicKey: KeyObject): AuditVerifier {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const keyId = createHash('sha256').update(der).digest('hex').slice(0, 16);
  return {
    keyId,
    verify(message, signature) {
      try {
        return verify(null, Buffer.from(canonicalJson(message)), publicKey, Buffer.from(signature, 'base64'));
      } catch {
        return false;
      }
    },
  };
}
