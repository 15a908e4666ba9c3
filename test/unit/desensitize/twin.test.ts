/**
 * The synthetic twin of a table, built in DuckDB from the table's profile alone: the raw table's
 * column names and types, nulls in the observed shares (independently per column), categories in
 * their proportions, numbers and dates within their ranges, valid identifiers for every personal-data
 * kind (birth dates in the column's own type, notes holding synthetic identifiers), the same rows
 * for the same seed; and usable as the subquery the refinery wraps in a policy.
 */
import { describe, expect, it } from 'vitest';
import {
  CHINESE_NAME_PATTERN, compilePolicySelect, defaultPolicy, EMAIL_PATTERN, FIXED_LINE_PATTERN, isBirthDate, isFreeTextWithIdentifiers, isValidResidentId, isValidUscc,
  luhnValid, MOBILE_PATTERN,
  PASSPORT_PATTERN, PLATE_PATTERN, REGIONS, twinNullShare, twinSql, type TwinColumn,
} from '../../../desensitize/index.js';
import { useMemoryConnection } from '../../helpers/memory-connection.js';

const ROWS = 20_000;
const TODAY = '2026-11-22';
const duck = useMemoryConnection({ threads: 2 });

const column = (name: string, type: string, extra: Partial<TwinColumn> = {}): TwinColumn =>
  ({ name, type, nullShare: 0, min: null, max: null, topValues: null, piiKind: null, ...extra });

const PROFILE: TwinColumn[] = [
  column('id_card', 'VARCHAR', { piiKind: 'resident_id' }),
  column('name', 'VARCHAR', { piiKind: 'name' }),
  column('mobile', 'VARCHAR', { piiKind: 'mobile', nullShare: 0.3 }),
  column('email', 'VARCHAR', { piiKind: 'email', nullShare: 0.3 }),
  column('district', 'VARCHAR', { topValues: [{ value: '长安区', count: 600, people: 500 }, { value: '桥西区', count: 300, people: 250 }, { value: '新华区', count: 100, people: 90 }] }),
  // In a dataset about people the range is the values 10 people reach at either end (`ends`).
  column('amount', 'DOUBLE', { min: '9.5', max: '21', ends: { low: '10', high: '20' }, nullShare: 0.1 }),
  column('age', 'INTEGER', { min: '16', max: '99', ends: { low: '18', high: '65' } }),
  column('birth_date', 'DATE', { min: '1941-03-02', max: '2003-05-06', ends: { low: '1950-01-01', high: '2000-12-31' } }),
  column('Odd "name"', 'BOOLEAN', { topValues: [{ value: 'true', count: 1, people: 100 }, { value: 'false', count: 3, people: 300 }] }),
];

describe('twinSql', () => {
  it('has the raw table\'s column names and types, and the rows asked for', async () => {
    await duck.connection.run(`CREATE OR REPLACE TABLE twin AS ${twinSql(PROFILE, ROWS, 42)}`);
    const described = await duck.connection.all<{ column_name: string; column_type: string }>('DESCRIBE twin');
    expect(described.map((c) => [c.column_name, c.column_type])).toEqual(PROFILE.map((c) => [c.name, c.type]));
    expect(await duck.connection.all('SELECT count(*)::INTEGER AS n FROM twin')).toEqual([{ n: ROWS }]);
  });

  it('has nulls in the observed shares, independently per column', async () => {
    await duck.connection.run(`CREATE OR REPLACE TABLE twin AS ${twinSql(PROFILE, ROWS, 42)}`);
    const [shares] = await duck.connection.all<Record<string, number>>(`SELECT
      avg((mobile IS NULL)::INTEGER) AS mobile, avg((email IS NULL)::INTEGER) AS email, avg((amount IS NULL)::INTEGER) AS amount,
      avg((mobile IS NULL AND email IS NULL)::INTEGER) AS both, avg((id_card IS NULL OR name IS NULL OR age IS NULL)::INTEGER) AS never FROM twin`);
    expect(shares!.mobile).toBeCloseTo(0.3, 1);
    expect(shares!.email).toBeCloseTo(0.3, 1);
    expect(shares!.amount).toBeCloseTo(0.1, 1);
    expect(Math.abs(shares!.both! - 0.09)).toBeLessThan(0.012);
    expect(shares!.never).toBe(0);
  });

  it('draws categories in their proportions and numbers and dates within their ranges', async () => {
    await duck.connection.run(`CREATE OR REPLACE TABLE twin AS ${twinSql(PROFILE, ROWS, 42)}`);
    const districts = await duck.connection.all<{ district: string; share: number }>('SELECT district, count(*) / sum(count(*)) OVER () AS share FROM twin GROUP BY district ORDER BY share DESC');
    expect(districts.map((d) => d.district)).toEqual(['长安区', '桥西区', '新华区']);
    districts.forEach((d, k) => expect(Math.abs(d.share - [0.6, 0.3, 0.1][k]!)).toBeLessThan(0.015));
    const [ranges] = await duck.connection.all<Record<string, string | number>>(`SELECT min(amount) AS amount_min, max(amount) AS amount_max, min(age) AS age_min, max(age) AS age_max,
      min(birth_date)::VARCHAR AS born_min, max(birth_date)::VARCHAR AS born_max, avg("Odd ""name"""::INTEGER) AS true_share FROM twin`);
    // The profile's ends (10 and 20, 18 and 65: people's own values) move strictly past, by steps of
    // at least 10 units: to 0 and 30, 10 and 70.
    expect(ranges!.amount_min).toBeGreaterThanOrEqual(0);
    expect(ranges!.amount_min).toBeLessThan(10);
    expect(ranges!.amount_max).toBeLessThanOrEqual(30);
    expect(ranges!.amount_max).toBeGreaterThan(20);
    expect(ranges!.age_min).toBeGreaterThanOrEqual(10);
    expect(ranges!.age_min).toBeLessThan(18);
    expect(ranges!.age_max).toBeLessThanOrEqual(70);
    expect(ranges!.age_max).toBeGreaterThan(65);
    // 1950-01-01 to 2000-12-31: a tenth of the days between is 1,862, so they move by 1,000 days.
    expect(ranges!.born_min! >= '1948-02-04' && ranges!.born_min! < '1950-01-01', String(ranges!.born_min)).toBe(true);
    expect(ranges!.born_max! <= '2002-11-08' && ranges!.born_max! > '2000-12-31', String(ranges!.born_max)).toBe(true);
    expect(Math.abs(Number(ranges!.true_share) - 0.25)).toBeLessThan(0.015);
  });

  it('follows the deciles of skewed numbers and dates, within min and max', async () => {
    // Incomes: most small, a long tail; registrations bunched in recent years.
    const income = column('income', 'DOUBLE', { min: '0', max: '1000000', profiledRows: 100_000, quantiles: ['1000', '2000', '3000', '4000', '5000', '6000', '8000', '12000', '30000'] });
    const registered = column('registered', 'DATE', {
      min: '1990-01-01', max: '2025-12-31', profiledRows: 100_000,
      quantiles: ['2015-01-01', '2016-01-01', '2017-01-01', '2018-01-01', '2019-01-01', '2020-01-01', '2021-01-01', '2022-01-01', '2023-01-01'],
    });
    await duck.connection.run(`CREATE OR REPLACE TABLE skewed AS ${twinSql([income, registered], ROWS, 7)}`);
    const [stats] = await duck.connection.all<Record<string, number | string>>(`SELECT min(income) AS lo, max(income) AS hi,
      quantile_cont(income, 0.5) AS median, quantile_cont(income, 0.85) AS p85, quantile_cont(income, 0.95) AS p95,
      min(registered)::VARCHAR AS first, quantile_disc(registered, 0.1)::VARCHAR AS p10_date, quantile_disc(registered, 0.5)::VARCHAR AS median_date FROM skewed`);
    expect(Number(stats!.lo)).toBeGreaterThanOrEqual(0);
    expect(Number(stats!.hi)).toBeLessThanOrEqual(1_000_000);
    expect(Math.abs(Number(stats!.median) - 5000)).toBeLessThan(200);
    // Halfway between the 80th (12,000) and 90th (30,000) percentiles.
    expect(Math.abs(Number(stats!.p85) - 21000)).toBeLessThan(1500);
    // Between the 90th percentile and the maximum: the tail, far above anything uniform would give.
    expect(Number(stats!.p95)).toBeGreaterThan(400_000);
    expect(stats!.first! >= '1990-01-01').toBe(true);
    expect(String(stats!.p10_date).slice(0, 4)).toMatch(/^201[45]$/);
    expect(String(stats!.median_date).slice(0, 4)).toMatch(/^201[89]$/);
  });

  it('copies no value, of any type, held by fewer than 10 people, however many rows hold it (red-team pass 20b)', async () => {
    const person = column('id_card', 'VARCHAR', { piiKind: 'resident_id' });
    const profile = [
      person,
      // One patient's 40 visits, all with the one rare diagnosis; a value from an older profile (no people counted).
      column('diagnosis', 'VARCHAR', { topValues: [{ value: '亨廷顿舞蹈症', count: 40, people: 1 }, { value: '感冒', count: 60, people: 60 }] }),
      column('ward', 'VARCHAR', { topValues: [{ value: '九病区', count: 500 }] }),
      // A NaN maximum, and a list column: their top values are five people's own.
      column('bonus', 'DOUBLE', { min: '5000.0', max: 'nan', topValues: [{ value: '5013.57', count: 1, people: 1 }, { value: '5027.14', count: 1, people: 1 }] }),
      column('claims', 'BIGINT[]', { min: '[1, 3]', max: '[29, 47]', topValues: [{ value: '[1, 3]', count: 1, people: 1 }] }),
    ];
    await duck.connection.run(`CREATE OR REPLACE TABLE people_twin AS ${twinSql(profile, 2_000, 5)}`);
    const [seen] = await duck.connection.all<Record<string, number>>(`SELECT
      count(*) FILTER (WHERE diagnosis = '亨廷顿舞蹈症') AS rare, count(*) FILTER (WHERE diagnosis = '感冒') AS common,
      count(*) FILTER (WHERE ward = '九病区') AS unknown_people, count(*) FILTER (WHERE bonus IN (5013.57, 5027.14)) AS bonus,
      count(*) FILTER (WHERE claims = [1, 3]) AS claims FROM people_twin`);
    expect(seen).toEqual({ rare: 0, common: 2_000, unknown_people: 0, bonus: 0, claims: 0 });
  });

  it('draws a dataset about people between the values 10 people reach at either end, never its minimum or maximum (red-team pass 21a)', async () => {
    const person = column('id_card', 'VARCHAR', { piiKind: 'resident_id' });
    // One person's 7 convictions (everyone else 0 to 2) and 1987 hiring date (everyone else 2015 to 2023).
    const convictions = (ends: TwinColumn['ends']) => column('convictions', 'INTEGER', { min: '0', max: '7', ends });
    const hired = (ends: TwinColumn['ends']) => column('hired', 'DATE', { min: '1987-06-01', max: '2023-09-30', ends });
    for (const ends of [[{ low: '0', high: '2' }, { low: '2015-02-01', high: '2023-03-01' }], [null, null], [undefined, undefined]] as const) {
      await duck.connection.run(`CREATE OR REPLACE TABLE ends_twin AS ${twinSql([person, convictions(ends[0]), hired(ends[1])], 2_000, 13)}`);
      const [row] = await duck.connection.all<{ most: number | null; first: string | null }>('SELECT max(convictions) AS most, min(hired)::VARCHAR AS first FROM ends_twin');
      // 2 moves to 10 (a step of 10 units), 2015-02-01 by 100 days (a tenth of the days between the ends).
      expect(row!.most === null || row!.most <= 10, JSON.stringify(ends)).toBe(true);
      expect(row!.first === null || row!.first >= '2014-11-26', JSON.stringify(ends)).toBe(true);
    }
  });

  it('moves the ends of a dataset about people strictly past the 10th person\'s value, to one of at least 10 values: 7 convictions are never the maximum (red-team pass 22a)', async () => {
    const person = column('id_card', 'VARCHAR', { piiKind: 'resident_id' });
    const cases = [
      { type: 'INTEGER', ends: { low: '3', high: '7' }, within: [0, 10] },
      { type: 'DOUBLE', ends: { low: '7.0', high: '118.0' }, within: [0, 200] },
      { type: 'DECIMAL(8,2)', ends: { low: '-2000.55', high: '2000.55' }, within: [-3000, 3000] },
      // The type's own range caps an end rounded past it (the twin's cast would fail).
      { type: 'TINYINT', ends: { low: '-118', high: '118' }, within: [-128, 127] },
      { type: 'DECIMAL(3,1)', ends: { low: '0.5', high: '99.0' }, within: [0, 99.9] },
    ];
    for (const { type, ends, within } of cases) {
      await duck.connection.run(`CREATE OR REPLACE TABLE ends_twin AS ${twinSql([person, column('v', type, { ends })], 4_000, 5)}`);
      const [row] = await duck.connection.all<{ lo: number; hi: number }>('SELECT min(v)::DOUBLE AS lo, max(v)::DOUBLE AS hi FROM ends_twin');
      const label = `${type} ${JSON.stringify(ends)}: ${JSON.stringify(row)}`;
      expect(row!.lo, label).toBeGreaterThanOrEqual(within[0]!);
      expect(row!.hi, label).toBeLessThanOrEqual(within[1]!);
      // Past the 10th person's values, not on them: 4,000 draws reach beyond both.
      expect(row!.lo, label).toBeLessThan(Number(ends.low));
      expect(row!.hi, label).toBeGreaterThan(Number(ends.high));
    }
  });

  it('copies no value of a dataset about people it has no identifier to count by', async () => {
    const profile = [column('mobile', 'VARCHAR', { piiKind: 'mobile' }), column('employer', 'VARCHAR', { topValues: [{ value: '某某科技', count: 500 }] })];
    await duck.connection.run(`CREATE OR REPLACE TABLE mobiles_twin AS ${twinSql(profile, 1_000, 3)}`);
    const [row] = await duck.connection.all<{ copied: number }>(`SELECT count(*) FILTER (WHERE employer = '某某科技')::INTEGER AS copied FROM mobiles_twin`);
    expect(row!.copied).toBe(0);
  });

  it('follows deciles of a dataset about people only where every tenth holds 10 people or more', async () => {
    const person = column('id_card', 'VARCHAR', { piiKind: 'resident_id' });
    // A quarter of the rows are one person's income: the 80th and 90th percentiles are that income.
    const income = (quantilePeople: number | undefined) => column('income', 'DOUBLE', {
      min: '1000', max: '987654.32', ends: { low: '1000', high: '987654.32' }, profiledRows: 160, quantilePeople, quantiles: ['2000', '3000', '4000', '5000', '6000', '7000', '8000', '987654.32', '987654.32'],
    });
    for (const [quantilePeople, expected] of [[1, 0], [undefined, 0]] as const) {
      await duck.connection.run(`CREATE OR REPLACE TABLE deciles AS ${twinSql([person, income(quantilePeople)], 2_000, 9)}`);
      const [row] = await duck.connection.all<{ exact: number }>('SELECT count(*) FILTER (WHERE income = 987654.32)::INTEGER AS exact FROM deciles');
      expect(row!.exact, String(quantilePeople)).toBe(expected);
    }
    // With 12 people in every tenth, the deciles are followed: most incomes below 8,000.
    await duck.connection.run(`CREATE OR REPLACE TABLE deciles AS ${twinSql([person, { ...income(12), quantiles: ['2000', '3000', '4000', '5000', '6000', '7000', '8000', '9000', '10000'] }], 2_000, 9)}`);
    const [row] = await duck.connection.all<{ below: number }>('SELECT avg((income < 8000)::INTEGER) AS below FROM deciles');
    expect(row!.below).toBeGreaterThan(0.6);
  });

  it('never draws a profile\'s exact minimum or maximum, and ignores deciles of a small column', async () => {
    // Revenue of 60 enterprises: the smallest and the largest are two enterprises' own figures.
    const revenue = column('revenue', 'DOUBLE', { min: '1234.56', max: '987654.32', profiledRows: 60, quantiles: ['2000', '3000', '4000', '5000', '6000', '7000', '8000', '9000', '500000'] });
    const founded = column('founded', 'DATE', { min: '1993-04-17', max: '2024-08-09' });
    await duck.connection.run(`CREATE OR REPLACE TABLE small AS ${twinSql([revenue, founded], ROWS, 11)}`);
    const [stats] = await duck.connection.all<Record<string, number | string>>(`SELECT min(revenue) AS lo, max(revenue) AS hi, quantile_cont(revenue, 0.5) AS median,
      count(*) FILTER (WHERE revenue IN (1234.56, 987654.32, 500000)) AS exact, min(founded)::VARCHAR AS first, max(founded)::VARCHAR AS last FROM small`);
    expect(Number(stats!.exact)).toBe(0);
    // Rounded outwards: 1,000 to 1,000,000, uniform (60 rows are too few for the deciles to count).
    expect(Number(stats!.lo)).toBeGreaterThanOrEqual(1000);
    expect(Number(stats!.hi)).toBeLessThanOrEqual(1_000_000);
    expect(Math.abs(Number(stats!.median) - 500_500)).toBeLessThan(20_000);
    // Whole years: the twin's first and last dates are not the two real enterprises' dates.
    expect(stats!.first! >= '1993-01-01' && stats!.first! < '1993-04-17').toBe(true);
    expect(stats!.last! > '2024-08-09' && stats!.last! <= '2024-12-31').toBe(true);
  });

  it('generates valid values for every personal-data kind', async () => {
    const kinds = ['resident_id', 'mobile', 'uscc', 'bank_card', 'name', 'address', 'email', 'plate', 'passport', 'fixed_line'];
    const rows = await duck.connection.all<Record<string, string>>(
      `SELECT * FROM (${twinSql(kinds.map((kind) => column(kind, 'VARCHAR', { piiKind: kind })), 5000, 7)})`,
    );
    const places = REGIONS.map(([, province, city, county]) => `${province}${city}${county}`);
    const valid: Record<string, (v: string) => boolean> = {
      resident_id: (v) => isValidResidentId(v, TODAY),
      mobile: (v) => MOBILE_PATTERN.test(v),
      uscc: isValidUscc,
      bank_card: (v) => /^62\d{17}$/.test(v) && luhnValid(v),
      name: (v) => CHINESE_NAME_PATTERN.test(v),
      address: (v) => places.some((place) => v.startsWith(place)) && v.endsWith('号'),
      email: (v) => EMAIL_PATTERN.test(v),
      plate: (v) => PLATE_PATTERN.test(v),
      passport: (v) => PASSPORT_PATTERN.test(v),
      fixed_line: (v) => FIXED_LINE_PATTERN.test(v),
    };
    for (const row of rows) for (const kind of kinds) expect(valid[kind]!(row[kind]!), `${kind}: ${row[kind]}`).toBe(true);
  });

  it('gives birth-date columns plausible dates in their own type, and free-text columns notes with synthetic identifiers', async () => {
    const columns = [
      column('born', 'DATE', { piiKind: 'birth_date' }), column('born_int', 'INTEGER', { piiKind: 'birth_date' }), column('born_text', 'VARCHAR', { piiKind: 'birth_date' }),
      column('note', 'VARCHAR', { piiKind: 'free_text' }),
    ];
    const rows = await duck.connection.all<{ born: string; born_int: number; born_text: string; note: string }>(
      `SELECT born::VARCHAR AS born, born_int, born_text, note FROM (${twinSql(columns, 2000, 7)})`,
    );
    const notes = new Set<string>();
    for (const row of rows) {
      for (const date of [row.born, String(row.born_int), row.born_text]) expect(isBirthDate(date, TODAY), date).toBe(true);
      expect(isFreeTextWithIdentifiers(row.note, TODAY), row.note).toBe(true);
      notes.add(row.note);
    }
    expect(notes.size).toBeGreaterThan(1990);
    expect(rows.some((row) => row.note.includes('@'))).toBe(true);
  });

  it('gives the same rows for the same seed and other rows for another seed', async () => {
    const read = (seed: number) => duck.connection.all<Record<string, unknown>>(`SELECT * FROM (${twinSql(PROFILE, 2000, seed)})`);
    const a = await read(5);
    expect(await read(5)).toEqual(a);
    const b = await read(6);
    expect(b.filter((row, k) => row.id_card === a[k]!.id_card).length).toBeLessThan(5);
  });

  it('works as the subquery of a policy select, as the refinery uses it', async () => {
    const policies = ['id_card', 'name', 'mobile'].map((name) => ({ name, policy: defaultPolicy(PROFILE.find((c) => c.name === name)!.piiKind) }));
    const select = compilePolicySelect(policies, { tokenKey: Buffer.alloc(32, 1), today: TODAY }, `(${twinSql(PROFILE, 1000, 42)})`)!;
    const rows = (await duck.connection.all<{ name: string; mobile: string | null }>(select)).filter((row) => row.mobile !== null);
    expect(rows.length).toBeGreaterThan(600);
    for (const row of rows) {
      expect(row.name).toMatch(/^[\p{Script=Han}]{1,2}\*+$/u);
      expect(row.mobile).toMatch(/^1\d{2}\*{4}\d{4}$/);
    }
  });
});

describe('twinNullShare', () => {
  it('copies a null share about people only where 10 or more hold a value and 10 or more a null (red-team pass 22a)', () => {
    const share = (nullPeople: { valued: number; nulls: number } | undefined, personal = true) => twinNullShare({ nullShare: 0.9, nullPeople }, personal);
    expect(share({ valued: 10, nulls: 10 })).toBe(0.9);
    // One person's notes: no note at all in the twin.
    expect(share({ valued: 1, nulls: 900 })).toBe(1);
    // Nine people without: no null.
    expect(share({ valued: 900, nulls: 9 })).toBe(0);
    // Not counted (an older profile, or no identifier): no null, which tells nothing.
    expect(share(undefined)).toBe(0);
    // Rows, not people, in a dataset without personal data; no nulls and all nulls are kept as they are.
    expect(share(undefined, false)).toBe(0.9);
    expect(twinNullShare({ nullShare: 1 }, true)).toBe(1);
    expect(twinNullShare({ nullShare: 0 }, true)).toBe(0);
  });
});
