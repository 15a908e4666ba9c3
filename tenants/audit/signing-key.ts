import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createFileOnce, loadOrCreateSecretFile, SecretFileError } from '../../sandbox/index.js';
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

/** Checkpoints and the anchor name the key that signed them: a replacement key verifies none of them. */
const KEEP_THE_KEY = 'restore it from a backup of the data dir (checkpoints signed with it verify only against its own public key)';

/**
 * The signer, from the private key in `secretsDir` (generated on first use). Also writes the public
 * key file when it is missing (a crash between the two writes) and refuses a public key file that
 * is not the private key's. Throws SecretFileError on a bad key or mode.
 */
export function loadOrCreateAuditSigner(secretsDir: string): AuditSigner {
  const privatePath = path.join(secretsDir, PRIVATE_FILE);
  const pem = loadOrCreateSecretFile(privatePath, {
    generate: () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }),
    check: (content) => {
      const key = parseKey(() => createPrivateKey(content));
      if (!key) return 'is not a PEM private key';
      // SECURITY: only Ed25519: the verifier signs and checks with `sign(null, …)`, which another key type would change.
      if (key.asymmetricKeyType !== 'ed25519') return `holds a ${key.asymmetricKeyType ?? 'non-asymmetric'} key, expected Ed25519`;
      return undefined;
    },
    remedy: KEEP_THE_KEY,
  });
  const privateKey = createPrivateKey(pem);
  const publicKey = createPublicKey(privateKey);
  const publicPath = path.join(secretsDir, PUBLIC_FILE);
  // Public: readable by auditors, so not held to the private key's mode.
  if (!fs.existsSync(publicPath)) createFileOnce(publicPath, publicKey.export({ type: 'spki', format: 'pem' }), 0o644);
  const verifier = verifierFor(publicKey);
  // An auditor verifies with the public file: one that names another key would fail every checkpoint.
  if (loadAuditVerifier(secretsDir)?.keyId !== verifier.keyId) {
    throw new SecretFileError(publicPath, `is not the public key of ${PRIVATE_FILE}`, `restore both from the same backup, or delete ${publicPath} to have it written again from the private key`);
  }
  return {
    ...verifier,
    sign: (message) => sign(null, Buffer.from(canonicalJson(message)), privateKey).toString('base64'),
  };
}

/**
 * The verifier from the public key file; undefined when no key was ever created. Throws
 * SecretFileError when the file is not a PEM public key.
 */
export function loadAuditVerifier(secretsDir: string): AuditVerifier | undefined {
  const publicPath = path.join(secretsDir, PUBLIC_FILE);
  if (!fs.existsSync(publicPath)) return undefined;
  const content = fs.readFileSync(publicPath);
  const rewrite = `restore it from a backup of the data dir, or delete it to have it written again from ${PRIVATE_FILE} on the next start`;
  // SECURITY: this file goes to auditors: createPublicKey would accept the private key here and derive the public one.
  if (content.includes('PRIVATE KEY-----')) throw new SecretFileError(publicPath, 'holds a private key', `delete it now, treat the key as exposed if anyone else read the file, and ${rewrite}`);
  const key = parseKey(() => createPublicKey(content));
  if (!key) throw new SecretFileError(publicPath, 'is not a PEM public key', rewrite);
  return verifierFor(key);
}

/** node:crypto's parse errors carry no more than "not a key" for the operator. */
function parseKey(parse: () => KeyObject): KeyObject | undefined {
  try {
    return parse();
  } catch {
    return undefined;
  }
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
