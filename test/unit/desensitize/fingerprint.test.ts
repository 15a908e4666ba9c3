/**
 * The fingerprint scheme of delivered exports (desensitize/fingerprint.ts): the DuckDB form of the
 * token re-keying and of the numeric mark agrees with the TypeScript that `trace` verifies with;
 * marks stay within one unit; a file marked with one key agrees with another key (or with unmarked
 * data) on about half of its bits, so the binomial tail never names a foreign file; tokens re-keyed
 * for two recipients do not join.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  binomialTailLog10, fingerprintKeys, markAgreement, markAgrees, markedNumberSql, markScaled, rekeyToken, rekeyTokenSql, scaledValue, tokenAgreement, tokenize, tokenTagMatches,
} from '../../../desensitize/index.js';
import { openDatabase, type Connection, type Database } from '../../../sandbox/index.js';

let db: Database;
let connection: Connection;
beforeAll(async () => {
  db = await openDatabase(':memory:');
  connection = await db.connect();
});
afterAll(() => {
  connection.close();
  db.close();
});

const keysA = fingerprintKeys(randomBytes(32));
const keysB = fingerprintKeys(randomBytes(32));

/** Deterministic pseudo-random numbers for reproducible data. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

/** The first column of a query's rows (aliased `m`). */
async function column(select: string, from: string): Promise<unknown[]> {
  return (await connection.all<{ m: unknown }>(`SELECT ${select} AS m FROM ${from}`)).map((row) => row.m);
}

describe('token re-keying', () => {
  const tokens = Array.from({ length: 200 }, (_, i) => tokenize(`11010519900101${String(i).padStart(4, '0')}`, Buffer.alloc(32, 7), 'text')!);

  it('the SQL form equals the TypeScript form, and every re-keyed value carries its key\'s tag', async () => {
    const values = tokens.map((t) => `('${t}')`).join(', ');
    const out = await column(rekeyTokenSql(keysA, 'v'), `(VALUES ${values}, (NULL)) t(v)`);
    expect(out.slice(0, -1)).toEqual(tokens.map((t) => rekeyToken(keysA, t)));
    expect(out.at(-1)).toBeNull();
    for (const value of out.slice(0, -1)) expect(tokenTagMatches(keysA, value as string)).toBe(true);
  });

  it('two recipients\' tokens do not join, and neither carries the other\'s tag', () => {
    const a = new Set(tokens.map((t) => rekeyToken(keysA, t)));
    const b = tokens.map((t) => rekeyToken(keysB, t));
    expect(b.filter((t) => a.has(t))).toEqual([]);
    expect(b.filter((t) => tokenTagMatches(keysA, t))).toEqual([]);
    // The original tokens carry no recipient's tag.
    expect(tokens.filter((t) => tokenTagMatches(keysA, t))).toEqual([]);
  });

  it('counts each distinct token once', () => {
    const one = rekeyToken(keysA, tokens[0]!);
    expect(tokenAgreement(keysA, [one, one, ` ${one.toUpperCase()} `, tokens[1]!, 'not a token'])).toEqual({ trials: 2, agreed: 1 });
  });

  it('one person keeps one token within a file (joins inside the export still work)', () => {
    expect(rekeyToken(keysA, tokens[3]!)).toBe(rekeyToken(keysA, tokens[3]!));
    expect(rekeyToken(keysA, tokens[3]!.toUpperCase())).toBe(rekeyToken(keysA, tokens[3]!));
  });
});

describe('numeric marks', () => {
  it('DECIMAL: SQL marks agree with the key, stay within one unit, and are what markScaled computes', async () => {
    const random = generator(1);
    const cents = Array.from({ length: 500 }, () => BigInt(Math.floor((random() - 0.3) * 10_000_000)));
    const text = (c: bigint) => `${c < 0n ? '-' : ''}${(c < 0n ? -c : c) / 100n}.${String((c < 0n ? -c : c) % 100n).padStart(2, '0')}`;
    const values = cents.map((c) => `(CAST('${text(c)}' AS DECIMAL(18, 2)))`).join(', ');
    const out = (await column(`CAST(${markedNumberSql(keysA, 'v', 'DECIMAL(18,2)', 'decimal', 2)} AS VARCHAR)`, `(VALUES ${values}) t(v)`)) as string[];
    out.forEach((text, i) => {
      const n = scaledValue(text, 2)!;
      expect(n).toBe(markScaled(keysA, cents[i]!));
      expect(n - cents[i]! <= 1n && cents[i]! - n <= 1n).toBe(true);
      expect(markAgrees(keysA, n)).toBe(true);
    });
    // About half of the values needed a change: the mark is not a no-op.
    const changed = out.filter((text, i) => scaledValue(text, 2) !== cents[i]).length;
    expect(changed).toBeGreaterThan(150);
    expect(changed).toBeLessThan(350);
  });

  it('DOUBLE: marked in the stated decimals, read back from its shortest text', async () => {
    const random = generator(2);
    const amounts = Array.from({ length: 500 }, () => Math.round(random() * 1e7) / 1000 - 2000);
    const values = amounts.map((a) => `(${a}::DOUBLE)`).join(', ');
    const out = (await column(markedNumberSql(keysA, 'v', 'DOUBLE', 'double', 3), `(VALUES ${values}) t(v)`)) as number[];
    out.forEach((value, i) => {
      expect(Math.abs(value - amounts[i]!)).toBeLessThanOrEqual(0.001 + 1e-9);
      const n = scaledValue(String(value), 3)!;
      expect(n).not.toBeUndefined();
      expect(markAgrees(keysA, n)).toBe(true);
    });
  });

  it('another key, or unmarked data, agrees on about half of the bits: the tail probability stays unremarkable', async () => {
    const random = generator(3);
    const cents = Array.from({ length: 2_000 }, () => BigInt(Math.floor(random() * 10_000_000)));
    const marked = cents.map((c) => markScaled(keysA, c));
    const agreeB = marked.filter((n) => markAgrees(keysB, n)).length;
    const agreeUnmarked = cents.filter((n) => markAgrees(keysA, n)).length;
    for (const agree of [agreeB, agreeUnmarked]) {
      expect(agree / cents.length).toBeGreaterThan(0.45);
      expect(agree / cents.length).toBeLessThan(0.55);
      expect(binomialTailLog10(cents.length, agree, 0.5)).toBeGreaterThan(-6);
    }
    // The right key: every bit agrees, and 10% of them already say so beyond doubt.
    expect(binomialTailLog10(200, marked.slice(0, 200).filter((n) => markAgrees(keysA, n)).length, 0.5)).toBeLessThan(-60);
  });

  it('the false positive rate: 1,000 foreign samples of 100 values (some repeated), none reaches the claim threshold', () => {
    const random = generator(4);
    let worst = 0;
    for (let trial = 0; trial < 1_000; trial += 1) {
      const texts = Array.from({ length: 100 }, () => (Math.floor(random() * 5_000) / 100).toFixed(2));
      const { trials, agreed } = markAgreement(keysA, texts, 2);
      expect(trials).toBeGreaterThan(50);
      worst = Math.min(worst, binomialTailLog10(trials, agreed, 0.5));
    }
    expect(worst).toBeGreaterThan(-6);
  });

  it('counts repeated values once: a column of seven codes over 1,000 rows never names a file, whatever the key', () => {
    const random = generator(5);
    const codes = Array.from({ length: 1_000 }, () => String(Math.floor(random() * 7)));
    for (let k = 0; k < 200; k += 1) {
      const keys = fingerprintKeys(randomBytes(32));
      for (const decimals of [0, 2, 3]) {
        const { trials, agreed } = markAgreement(keys, codes, decimals);
        expect(trials).toBeLessThanOrEqual(7);
        expect(binomialTailLog10(trials, agreed, 0.5)).toBeGreaterThan(-3);
      }
    }
  });

  it('a marked column agrees on every distinct value, and 10% of 1,000 values already say so beyond doubt', () => {
    const random = generator(6);
    const texts = Array.from({ length: 1_000 }, () => markScaled(keysA, BigInt(Math.floor(random() * 1e7)))).map((n) => `${n / 100n}.${String(n % 100n).padStart(2, '0')}`);
    const { trials, agreed } = markAgreement(keysA, texts.slice(0, 100), 2);
    expect(agreed).toBe(trials);
    expect(binomialTailLog10(trials, agreed, 0.5)).toBeLessThan(-25);
    expect(markAgreement(keysB, texts, 2).agreed / markAgreement(keysB, texts, 2).trials).toBeLessThan(0.6);
  });

  it('leaves NULL, NaN, infinities and values too large to mark as they are, in any DECIMAL width', async () => {
    const doubles = await column(`CAST(${markedNumberSql(keysA, 'v', 'DOUBLE', 'double', 2)} AS VARCHAR)`, `(VALUES (NULL::DOUBLE), ('nan'::DOUBLE), ('inf'::DOUBLE), ('-inf'::DOUBLE), (1e300), (-1e300)) t(v)`);
    expect(doubles).toEqual([null, 'nan', 'inf', '-inf', '1e+300', '-1e+300']);
    const wide = await column(`CAST(${markedNumberSql(keysA, 'v', 'DECIMAL(38,10)', 'decimal', 10)} AS VARCHAR)`,
      `(VALUES (CAST('9999999999999999999999999999.9999999999' AS DECIMAL(38,10))), (CAST('-12.5' AS DECIMAL(38,10))), (NULL)) t(v)`);
    expect(wide[0]).toBe('9999999999999999999999999999.9999999999');
    expect(markAgrees(keysA, scaledValue(wide[1] as string, 10)!)).toBe(true);
    expect(wide[2]).toBeNull();
  });

  it('reads decimal text as the exporter wrote it, and refuses what was not marked at that unit', () => {
    expect(scaledValue('12.3', 2)).toBe(1230n);
    expect(scaledValue('-0.07', 2)).toBe(-7n);
    expect(scaledValue(' 5 ', 2)).toBe(500n);
    expect(scaledValue('12.345', 2)).toBeUndefined();
    expect(scaledValue('12.3400', 2)).toBe(1234n);
    expect(scaledValue('1e5', 2)).toBeUndefined();
    expect(scaledValue('abc', 2)).toBeUndefined();
  });
});

describe('binomial tail', () => {
  it('matches exact values', () => {
    expect(binomialTailLog10(10, 10, 0.5)).toBeCloseTo(Math.log10(1 / 1024), 9);
    expect(binomialTailLog10(4, 3, 0.5)).toBeCloseTo(Math.log10(5 / 16), 9);
    expect(binomialTailLog10(10, 0, 0.5)).toBe(0);
    expect(binomialTailLog10(1_000, 3, 2 ** -32)).toBeLessThan(-19);
  });
});
