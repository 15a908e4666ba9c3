import { createHmac } from 'node:crypto';
import { hmacSha256HexSql, TOKEN_HEX_CHARS } from './tokens.js';

/**
 * Per-recipient fingerprints of delivered exports (issue 11, item 6), as SQL for the trusted engine
 * that writes the file and as TypeScript for `trace`, which reads a leaked one. One key per
 * (export, recipient), derived domain-side from the token master (`tenants/token-keys.ts`) and
 * never written into a package; from it three sub-keys:
 *
 * - Tokens are re-keyed: `body ‖ tag`, where body = HMAC(body key, token) cut to 24 hex digits and
 *   tag = HMAC(tag key, body) cut to 8. Two recipients (or two exports) get unrelated bodies for one
 *   person, so their files do not join; and any single token names its file: a tag matches a wrong
 *   key with probability 2^-32.
 * - Numeric marks: every non-null value of a marked column (DECIMAL with decimals, DOUBLE) is read
 *   as an integer n of its last kept decimal (the unit). The last digit's parity is set to a keyed
 *   bit of the other digits (n without its last digit): ±1 unit at most, never a change of the
 *   other digits. The bit depends on the value alone, not on its row or column, so it survives
 *   reordering, dropped rows and columns, renamed columns and any encoding that keeps the digits.
 *   A file with another key (or none) agrees on half of the bits: the binomial tail says how
 *   unlikely the agreement seen is by chance.
 *
 * Pure: no I/O.
 */
export const FINGERPRINT_SCHEME = 'indomain.fingerprint.v1';
export const TAG_HEX_CHARS = 8;
const BODY_HEX_CHARS = TOKEN_HEX_CHARS - TAG_HEX_CHARS;
/** The shape of a token (`tokens.ts`) and of a re-keyed one. */
export const TOKEN_SHAPE = /^[0-9a-f]{32}$/;
/** DOUBLE columns are marked in at most this many decimals (rounded to them when they have more). */
export const MAX_MARK_DECIMALS = 4;
/** Scaled values this large are left unmarked: past 2^53 a double cannot hold every unit. */
export const MARK_LIMIT = 10n ** 15n;

export interface FingerprintKeys {
  body: Buffer;
  tag: Buffer;
  mark: Buffer;
}

export function fingerprintKeys(key: Buffer): FingerprintKeys {
  const sub = (label: string) => createHmac('sha256', key).update(`${FINGERPRINT_SCHEME}.${label}`).digest();
  return { body: sub('token-body'), tag: sub('token-tag'), mark: sub('numeric-mark') };
}

function hmacHex(key: Buffer, message: string): string {
  return createHmac('sha256', key).update(message, 'utf8').digest('hex');
}

/** A token re-keyed for one recipient (the TypeScript twin of `rekeyTokenSql`). */
export function rekeyToken(keys: FingerprintKeys, token: string): string {
  const body = hmacHex(keys.body, token.toLowerCase()).slice(0, BODY_HEX_CHARS);
  return body + hmacHex(keys.tag, body).slice(0, TAG_HEX_CHARS);
}

/** SQL re-keying a VARCHAR token column (the caller has checked that every value is a token). */
export function rekeyTokenSql(keys: FingerprintKeys, column: string): string {
  // The body appears twice: a two-step projection that computes it once measured no faster (300k tokens).
  const body = `substr(${hmacSha256HexSql(keys.body, `lower(${column})`)}, 1, ${BODY_HEX_CHARS})`;
  return `(CASE WHEN ${column} IS NULL THEN NULL ELSE ${body} || substr(${hmacSha256HexSql(keys.tag, body)}, 1, ${TAG_HEX_CHARS}) END)`;
}

/** Whether a value is a token re-keyed with these keys (a foreign value: probability 2^-32). */
export function tokenTagMatches(keys: FingerprintKeys, value: string): boolean {
  if (!TOKEN_SHAPE.test(value)) return false;
  return hmacHex(keys.tag, value.slice(0, BODY_HEX_CHARS)).slice(0, TAG_HEX_CHARS) === value.slice(BODY_HEX_CHARS);
}

/** The keyed bit for the digits above the last (the low bit of the HMAC's first byte). */
export function markBit(keys: FingerprintKeys, high: bigint): number {
  return createHmac('sha256', keys.mark).update(high.toString(), 'utf8').digest()[0]! & 1;
}

function split(n: bigint): { high: bigint; digit: number } {
  const magnitude = n < 0n ? -n : n;
  // Truncation toward zero, sign kept: the high part of -123 is -12, of -3 is 0.
  return { high: n < 0n ? -(magnitude / 10n) : magnitude / 10n, digit: Number(magnitude % 10n) };
}

/** The marked scaled value (the TypeScript twin of `markedNumberSql`, for tests). */
export function markScaled(keys: FingerprintKeys, n: bigint): bigint {
  const { high, digit } = split(n);
  if ((n < 0n ? -n : n) >= MARK_LIMIT || digit % 2 === markBit(keys, high)) return n;
  const step = digit < 9 ? 1n : -1n;
  return n < 0n ? n - step : n + step;
}

/** Whether a scaled value's last digit agrees with the keyed bit. */
export function markAgrees(keys: FingerprintKeys, n: bigint): boolean {
  const { high, digit } = split(n);
  return digit % 2 === markBit(keys, high);
}

/**
 * A number as a spreadsheet shows it, written plainly: trimmed, without a currency sign before it or
 * a unit after it (`元`, `毫米`, `%`), and with the separators of its locale read: comma grouping and
 * a decimal point ("¥13,542.10"), point grouping and a decimal comma ("13.542,1"), space grouping
 * (" ", U+00A0, U+202F, U+2009) with either ("13 542,1"), or a lone decimal comma ("542,1"). What is
 * no such number is returned trimmed; a text that reads both ways ("13.542") is read as written.
 * SECURITY: a recipient who formats a column with 千位分隔符 or another locale's format and saves it
 * as CSV keeps every digit; read as text, the marks were lost (red-team passes 28b, 29a). Reading
 * more texts as numbers adds trials of chance 1/2, never agreements: it cannot frame anyone.
 */
export function shownNumber(text: string): string {
  const trimmed = text.trim();
  const shown = /^([+-]?)[¥￥$€£]?\s*([0-9][0-9,.\s\u00a0\u202f\u2009]*?)\s*(?:\p{L}{1,4}|%)?$/u.exec(trimmed);
  if (!shown) return trimmed;
  const [, sign, digits] = shown as unknown as [string, string, string];
  const plain = readSeparators(digits);
  return plain === undefined ? trimmed : `${sign}${plain}`;
}

/** Digits with a locale's separators as digits and a point; undefined when they follow no locale. */
function readSeparators(digits: string): string | undefined {
  if (/^\d+(\.\d*)?$/.test(digits)) return digits;
  const spaced = /^\d{1,3}(?:[\s\u00a0\u202f\u2009]\d{3})+(?:([.,])(\d*))?$/u.exec(digits);
  if (spaced) return `${digits.replace(/[\s\u00a0\u202f\u2009]/gu, '').replace(/[.,]\d*$/u, '')}${spaced[1] ? `.${spaced[2]}` : ''}`;
  if (/^\d{1,3}(?:,\d{3})+(?:\.\d*)?$/.test(digits)) return digits.replaceAll(',', '');
  if (/^\d{1,3}(?:\.\d{3})+(?:,\d*)?$/.test(digits) || /^\d+,\d+$/.test(digits)) return digits.replaceAll('.', '').replace(',', '.');
  return undefined;
}

/**
 * A value's text as an integer of units of 10^-decimals: "12.3" at 2 decimals is 1230. Undefined when
 * it is not a plain decimal number, has non-zero digits past the unit (it was not marked at this
 * unit), or is too large to have been marked.
 */
export function scaledValue(text: string, decimals: number): bigint | undefined {
  const match = /^([+-]?)(\d{1,30})(?:\.(\d{0,30}))?$/.exec(shownNumber(text));
  if (!match) return undefined;
  const fraction = match[3] ?? '';
  if (/[^0]/.test(fraction.slice(decimals))) return undefined;
  const digits = BigInt(match[2]! + fraction.slice(0, decimals).padEnd(decimals, '0'));
  if (digits >= MARK_LIMIT) return undefined;
  return match[1] === '-' ? -digits : digits;
}

/**
 * How many of a column's values agree with the keys' marks, counted so that a binomial test with
 * chance 1/2 is sound: the bit depends on a value's digits above the last, so values sharing them
 * share one bit (a column of seven district codes has seven bits, however many rows). Each distinct
 * high part is one trial, agreeing when every value with it agrees: for a file marked with other
 * keys, or not at all, that happens with probability at most 1/2, independently across trials.
 */
export function markAgreement(keys: FingerprintKeys, texts: Iterable<string>, decimals: number): { trials: number; agreed: number } {
  const byHigh = new Map<bigint, boolean>();
  for (const text of texts) {
    const n = scaledValue(text, decimals);
    if (n === undefined) continue;
    const { high } = split(n);
    byHigh.set(high, (byHigh.get(high) ?? true) && markAgrees(keys, n));
  }
  return { trials: byHigh.size, agreed: [...byHigh.values()].filter(Boolean).length };
}

/** Distinct token-shaped values, and how many carry the keys' tag (chance 2^-32 each for other keys). */
export function tokenAgreement(keys: FingerprintKeys, texts: Iterable<string>): { trials: number; agreed: number } {
  const seen = new Set<string>();
  let agreed = 0;
  for (const text of texts) {
    const value = text.trim().toLowerCase();
    if (!TOKEN_SHAPE.test(value) || seen.has(value)) continue;
    seen.add(value);
    if (tokenTagMatches(keys, value)) agreed += 1;
  }
  return { trials: seen.size, agreed };
}

export type MarkKind = 'decimal' | 'double';

/**
 * SQL giving the marked value of a numeric column: DECIMAL(p, s) at s decimals (exact), DOUBLE at
 * `decimals` (rounded to them). NULL, NaN, infinities and values too large stay as they are.
 *
 * DuckDB may evaluate every branch of a CASE on every row, so nothing here may throw on a value the
 * guard leaves alone: the scaled integer is NULL outside the range (TRY_CAST for a DOUBLE; for a
 * DECIMAL of up to 18 digits its product with 10^s, which cannot overflow; for a wider one the text
 * of the value as DECIMAL(38, s), which has all s decimals, without its point), and every later
 * step is NULL with it.
 */
export function markedNumberSql(keys: FingerprintKeys, column: string, type: string, kind: MarkKind, decimals: number): string {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 18) throw new Error(`bad mark decimals: ${decimals}`);
  const scale = `1${'0'.repeat(decimals)}`;
  const inRange = kind === 'decimal'
    ? `abs(${column}::DOUBLE) < ${Number(MARK_LIMIT)} / ${scale}`
    : `isfinite(${column}) AND abs(${column}) * ${scale} < ${Number(MARK_LIMIT)}`;
  const precision = Number(/^DECIMAL\((\d+),/.exec(type)?.[1] ?? 38);
  // A DECIMAL of up to 18 digits times 10^s stays within DuckDB's 38 digits; a wider one is read from its text.
  const scaled = kind === 'double'
    ? `TRY_CAST(round(${column} * ${scale}) AS BIGINT)`
    : precision <= 18
      ? `TRY_CAST(${column} * ${scale} AS BIGINT)`
      : `TRY_CAST(replace(CAST(CAST(${column} AS DECIMAL(38, ${decimals})) AS VARCHAR), '.', '') AS BIGINT)`;
  const n = `(CASE WHEN ${inRange} THEN ${scaled} END)`;
  const magnitude = `abs(${n})`;
  const high = `(CASE WHEN ${n} < 0 THEN -(${magnitude} // 10) ELSE ${magnitude} // 10 END)`;
  const bit = `(CASE WHEN substr(${hmacSha256HexSql(keys.mark, `CAST(${high} AS VARCHAR)`)}, 2, 1) IN ('1','3','5','7','9','b','d','f') THEN 1 ELSE 0 END)`;
  const digit = `(${magnitude} % 10)`;
  const step = `(CASE WHEN ${digit} % 2 = ${bit} THEN 0 WHEN ${digit} < 9 THEN 1 ELSE -1 END)`;
  const delta = `((CASE WHEN ${n} < 0 THEN -1 ELSE 1 END) * ${step})`;
  const marked = kind === 'decimal'
    ? `CAST(${column} + ${delta} * CAST('${unitText(decimals)}' AS DECIMAL(38, ${decimals})) AS ${type})`
    : `CAST((${n} + ${delta}) AS DOUBLE) / ${scale}`;
  return `(CASE WHEN ${n} IS NULL THEN ${column} ELSE ${marked} END)`;
}

/** "0.01" for 2 decimals, "1" for none. */
export function unitText(decimals: number): string {
  return decimals === 0 ? '1' : `0.${'0'.repeat(decimals - 1)}1`;
}

/**
 * log10 of P(X ≥ matched) for X ~ Binomial(trials, p): how likely at least this much agreement is
 * by chance. 0 when nothing matched.
 */
export function binomialTailLog10(trials: number, matched: number, p: number): number {
  if (matched <= 0) return 0;
  if (matched > trials) return -Infinity;
  const lnP = Math.log(p);
  const lnQ = Math.log1p(-p);
  const lnChoose = (n: number, k: number) => lnGamma(n + 1) - lnGamma(k + 1) - lnGamma(n - k + 1);
  let max = -Infinity;
  const terms: number[] = [];
  for (let i = matched; i <= trials; i += 1) {
    const term = lnChoose(trials, i) + i * lnP + (trials - i) * lnQ;
    terms.push(term);
    if (term > max) max = term;
    // Terms fall geometrically once past the mode: stop when they no longer count.
    if (term < max - 50) break;
  }
  const sum = terms.reduce((acc, t) => acc + Math.exp(t - max), 0);
  return Math.min(0, (max + Math.log(sum)) / Math.LN10);
}

/** ln Γ(x) (Lanczos, g = 7): accurate to about 1e-13 relative, enough for tail probabilities. */
function lnGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const y = x - 1;
  let a = c[0]!;
  const t = y + 7.5;
  for (let i = 1; i < 9; i += 1) a += c[i]! / (y + i);
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(a);
}
