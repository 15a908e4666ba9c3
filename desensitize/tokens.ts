import { createHash, createHmac } from 'node:crypto';
import { normalizeIdentifier, trimSql, trimText, upgradeResidentId } from './identifiers.js';
import { letSql } from './sql.js';

/**
 * `token` policy: a keyed HMAC-SHA256 of the normalized value, hex, cut to 32 characters (128 bits).
 * With a per-tenant key, the same person's identifier gives the same token in every dataset of one
 * tenant (joinable) and unrelated tokens across tenants (unlinkable). An unkeyed hash would be
 * brute-forced in under a second (reference): the key is what protects.
 *
 * The SQL form computes HMAC from SHA-256 primitives inside the trusted refinery's DuckDB; the key
 * (as its HMAC pads) appears only in that SQL text, never in any tenant file.
 */
export const TOKEN_HEX_CHARS = 32;

/** What is tokenized: identifiers compared as the same person would be (15-digit IDs upgraded). */
export type TokenNormalization = 'identifier' | 'resident_id' | 'text';

export function normalizeForToken(value: string, how: TokenNormalization): string {
  if (how === 'text') return trimText(value);
  const id = normalizeIdentifier(value).toUpperCase();
  if (how === 'resident_id') return upgradeResidentId(id) ?? id;
  return id;
}

export function tokenize(value: string | null, key: Buffer, how: TokenNormalization): string | null {
  if (value === null) return null;
  return createHmac('sha256', key).update(normalizeForToken(value, how), 'utf8').digest('hex').slice(0, TOKEN_HEX_CHARS);
}

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

function normalizeSql(column: string, how: TokenNormalization): string {
  if (how === 'text') return trimSql(column);
  const id = `upper(translate(${trimSql(column)}, '０１２３４５６７８９xｘＸ', '0123456789XXX'))`;
  if (how === 'identifier') return id;
  const sum = ID_WEIGHTS.map((w, i) => `(ascii(substr(__f, ${i + 1}, 1)) - 48) * ${w}`).join(' + ');
  const upgraded = letSql('__f', `substr(__i, 1, 6) || '19' || substr(__i, 7, 9)`, `__f || substr('10X98765432', ((${sum}) % 11) + 1, 1)`);
  return letSql('__i', id, `CASE WHEN regexp_full_match(__i, '[0-9]{15}') THEN ${upgraded} ELSE __i END`);
}

/** HMAC-SHA256 from SHA-256 (RFC 2104): H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)). */
export function tokenizeSql(column: string, key: Buffer, how: TokenNormalization): string {
  const block = Buffer.alloc(64);
  // RFC 2104: a key longer than the block is hashed first.
  (key.length > 64 ? createHash('sha256').update(key).digest() : key).copy(block);
  const pad = (byte: number) => Buffer.from(block.map((b) => b ^ byte)).toString('hex');
  const inner = `unhex(sha256(unhex('${pad(0x36)}') || encode(${normalizeSql(column, how)})))`;
  return `(CASE WHEN ${column} IS NULL THEN NULL ELSE substr(sha256(unhex('${pad(0x5c)}') || ${inner}), 1, ${TOKEN_HEX_CHARS}) END)`;
}
