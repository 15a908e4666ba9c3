/**
 * Synthetic identifiers generated in DuckDB: every value has a valid format and check character,
 * a real region code and a real, past birth date; the same seed gives the same values and another
 * seed other ones.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addressSql, bankCardSql, CHINESE_NAME_PATTERN, isValidResidentId, isValidUscc, luhnValid, MOBILE_PATTERN, mobileSql, nameSql, REGIONS, residentIdSql, usccSql,
} from '../../../desensitize/index.js';
import { openDatabase, type Connection, type Database } from '../../../sandbox/index.js';

const ROWS = 20_000;
const TODAY = '2026-11-22';
let db: Database;
let connection: Connection;
beforeAll(async () => {
  db = await openDatabase(':memory:', { threads: 2 });
  connection = await db.connect();
});
afterAll(() => {
  connection.close();
  db.close();
});

const generate = async (expression: string, rows = ROWS) =>
  (await connection.all<{ v: string }>(`SELECT ${expression} AS v FROM range(${rows}) t(i) ORDER BY i`)).map((r) => r.v);

describe('synthetic identifiers', () => {
  it('resident IDs have real region codes, past birth dates and correct check characters', async () => {
    const codes = new Set(REGIONS.map(([code]) => code));
    const ids = await generate(residentIdSql('i', 42));
    for (const id of ids) {
      expect(isValidResidentId(id, TODAY), id).toBe(true);
      expect(codes.has(id.slice(0, 6)), id).toBe(true);
    }
    expect(new Set(ids).size).toBeGreaterThan(ROWS * 0.99);
  });

  it('mobiles use assignable prefixes', async () => {
    for (const mobile of await generate(mobileSql('i', 42))) expect(MOBILE_PATTERN.test(mobile), mobile).toBe(true);
  });

  it('USCCs have correct check characters', async () => {
    for (const code of await generate(usccSql('i', 42))) expect(isValidUscc(code), code).toBe(true);
  });

  it('bank cards are 19 Luhn-valid digits starting with 62', async () => {
    for (const card of await generate(bankCardSql('i', 42))) {
      expect(card).toMatch(/^62\d{17}$/);
      expect(luhnValid(card), card).toBe(true);
    }
  });

  it('names are Chinese names; addresses start with a real place', async () => {
    for (const name of await generate(nameSql('i', 42), 2000)) expect(CHINESE_NAME_PATTERN.test(name), name).toBe(true);
    const places = REGIONS.map(([, p, c, county]) => `${p}${c}${county}`);
    for (const address of await generate(addressSql('i', 42), 2000)) expect(places.some((place) => address.startsWith(place)), address).toBe(true);
  });

  it('is reproducible from its seed, and differs between seeds', async () => {
    const a = await generate(residentIdSql('i', 7), 1000);
    const b = await generate(residentIdSql('i', 7), 1000);
    const c = await generate(residentIdSql('i', 8), 1000);
    expect(b).toEqual(a);
    expect(c.filter((id, k) => id === a[k]).length).toBeLessThan(10);
  });
});
