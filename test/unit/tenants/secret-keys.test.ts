/**
 * The control plane's two secrets, as an operator could find them on disk: the token master (32
 * random bytes; every tenant's pseudonyms derive from it) and the audit signing key (Ed25519 PKCS8
 * PEM, with its public key for auditors). Each is created owner-only and reused; an empty, short,
 * zeroed or garbage key, or one readable by others, is refused with a message that names the file
 * and says to restore it (never to delete the token master). The public key file is rewritten when
 * missing and refused when it names another key.
 */
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadAuditVerifier, loadOrCreateAuditSigner } from '../../../tenants/audit/signing-key.js';
import { loadOrCreateTokenMaster } from '../../../tenants/token-keys.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

const mode = (file: string) => fs.statSync(file).mode & 0o777;

let temp: ReturnType<typeof makeTempDir>;
let secrets: string;
beforeEach(() => {
  temp = makeTempDir();
  secrets = path.join(temp.dir, 'secrets');
});
afterEach(() => temp.remove());

describe('token master', () => {
  const file = () => path.join(secrets, 'token-master.key');

  it('refuses an empty, short, long or zeroed master, and says to restore it rather than replace it', () => {
    fs.mkdirSync(secrets, { mode: 0o700 });
    const cases: [Buffer, string][] = [
      [Buffer.alloc(0), 'is 0 bytes, expected 32'],
      [Buffer.from('short'), 'is 5 bytes, expected 32'],
      [Buffer.alloc(33, 7), 'is 33 bytes, expected 32'],
      [Buffer.alloc(32), 'holds 32 identical bytes, not a random key'],
    ];
    for (const [content, problem] of cases) {
      fs.writeFileSync(file(), content, { mode: 0o600 });
      const message = errorOf(() => loadOrCreateTokenMaster(secrets));
      expect(message).toContain(`${file()} ${problem}: restore it from a backup`);
      expect(message).not.toMatch(/delete/i);
      expect(fs.readFileSync(file()).equals(content)).toBe(true);
    }
  });

  it('is 32 random bytes, 0600, the same on every load, until it is readable by others', () => {
    const master = loadOrCreateTokenMaster(secrets);
    expect(master).toHaveLength(32);
    expect(mode(file())).toBe(0o600);
    expect(mode(secrets)).toBe(0o700);
    expect(loadOrCreateTokenMaster(secrets).equals(master)).toBe(true);
    fs.chmodSync(file(), 0o644);
    expect(errorOf(() => loadOrCreateTokenMaster(secrets))).toContain(`${file()} has mode 0644, readable by group or others: run chmod 600 ${file()}`);
  });
});

describe('audit signing key', () => {
  const privateFile = () => path.join(secrets, 'audit-signing-key.pem');
  const publicFile = () => path.join(secrets, 'audit-signing-key.pub.pem');

  it('refuses an empty key, PEM garbage and a key of another type', () => {
    fs.mkdirSync(secrets, { mode: 0o700 });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    const cases: [string | Buffer, string][] = [
      ['', 'is not a PEM private key'],
      ['-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n', 'is not a PEM private key'],
      [rsa, 'holds a rsa key, expected Ed25519'],
    ];
    for (const [content, problem] of cases) {
      fs.writeFileSync(privateFile(), content, { mode: 0o600 });
      expect(errorOf(() => loadOrCreateAuditSigner(secrets))).toBe(`${privateFile()} ${problem}: restore it from a backup of the data dir (checkpoints signed with it verify only against its own public key)`);
    }
  });

  it('is an Ed25519 key, private 0600, its public key beside it, the same on every load, until it is readable by others', () => {
    const signer = loadOrCreateAuditSigner(secrets);
    expect(mode(privateFile())).toBe(0o600);
    expect(fs.readFileSync(privateFile(), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(loadOrCreateAuditSigner(secrets).keyId).toBe(signer.keyId);
    expect(loadAuditVerifier(secrets)!.verify({ a: 1 }, signer.sign({ a: 1 }))).toBe(true);
    fs.chmodSync(privateFile(), 0o640);
    expect(errorOf(() => loadOrCreateAuditSigner(secrets))).toContain(`${privateFile()} has mode 0640`);
  });

  it('writes a missing public key again from the private key, and refuses one of another key', () => {
    const signer = loadOrCreateAuditSigner(secrets);
    const publicPem = fs.readFileSync(publicFile(), 'utf8');
    fs.rmSync(publicFile());
    expect(loadOrCreateAuditSigner(secrets).keyId).toBe(signer.keyId);
    expect(fs.readFileSync(publicFile(), 'utf8')).toBe(publicPem);

    const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' });
    fs.writeFileSync(publicFile(), other);
    expect(errorOf(() => loadOrCreateAuditSigner(secrets))).toContain(`${publicFile()} is not the public key of audit-signing-key.pem`);
  });

  it('refuses a public key file that is not a key or is the private key, for the offline verifier too', () => {
    loadOrCreateAuditSigner(secrets);
    fs.writeFileSync(publicFile(), 'garbage');
    expect(errorOf(() => loadAuditVerifier(secrets))).toContain(`${publicFile()} is not a PEM public key`);
    expect(errorOf(() => loadOrCreateAuditSigner(secrets))).toContain(`${publicFile()} is not a PEM public key`);
    // The file auditors are given must not be the private key (node:crypto would derive the public key from it).
    fs.copyFileSync(privateFile(), publicFile());
    expect(errorOf(() => loadAuditVerifier(secrets))).toContain(`${publicFile()} holds a private key: delete it now`);
  });
});

function errorOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect((error as Error).name).toBe('SecretFileError');
    return (error as Error).message;
  }
  throw new Error('expected an error');
}
