import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../sandbox/index.js';
import type { AuditHead } from './audit-entry.js';
import type { AuditSigner, AuditVerifier } from './signing-key.js';

/**
 * The head anchor: a signed note, outside the database, of a checkpoint entry's sequence and hash.
 * Verification requires that entry to exist unchanged, so cutting entries off the tail of the log
 * (which leaves a valid shorter chain) is detected back to the last anchor. A new log gets a genesis
 * anchor (sequence 0) before its first entry, so a missing anchor file always means tampering.
 */
export const AnchorSchema = z.object({ seq: z.number().int().nonnegative(), hash: z.string(), keyId: z.string(), signature: z.string() });
export type Anchor = z.infer<typeof AnchorSchema>;

export const ANCHOR_FILE = 'audit-anchor.json';

export function anchorMessage(head: AuditHead, keyId: string): Record<string, unknown> {
  return { kind: 'indomain.audit.anchor', seq: head.seq, hash: head.hash, keyId };
}

/** Atomically replaces the anchor (see writeFileAtomic). */
export function writeAnchor(dataDir: string, head: AuditHead, signer: AuditSigner): void {
  const anchor: Anchor = { seq: head.seq, hash: head.hash, keyId: signer.keyId, signature: signer.sign(anchorMessage(head, signer.keyId)) };
  writeFileAtomic(path.join(dataDir, ANCHOR_FILE), JSON.stringify(anchor), 0o644);
}

export type AnchorReading = { kind: 'none' } | { kind: 'valid'; anchor: Anchor } | { kind: 'invalid'; reason: string };

export function readAnchor(dataDir: string, verifier: AuditVerifier | undefined): AnchorReading {
  const file = path.join(dataDir, ANCHOR_FILE);
  if (!fs.existsSync(file)) return { kind: 'none' };
  let parsed: Anchor;
  try {
    parsed = AnchorSchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
  } catch {
    return { kind: 'invalid', reason: 'the anchor file is not a valid anchor' };
  }
  if (!verifier || verifier.keyId !== parsed.keyId || !verifier.verify(anchorMessage(parsed, parsed.keyId), parsed.signature)) {
    return { kind: 'invalid', reason: 'the anchor signature does not verify with the audit public key' };
  }
  return { kind: 'valid', anchor: parsed };
}
