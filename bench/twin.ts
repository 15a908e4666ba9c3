/**
 * Issue #4: the synthetic twin of a residents-like table, built from its profile by `twinSql` on one
 * DuckDB thread ("on one core"), vs faker alone producing the same rows in JavaScript: valid
 * resident IDs with check characters, names, mobiles, addresses on real places, districts in their
 * shares, birth dates, genders. Prints figures and the ratio; asserts nothing. Called from run.ts.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { fakerZH_CN } from '@faker-js/faker';
import { REGIONS, residentIdCheckChar, twinSql, type TwinColumn } from '../desensitize/index.js';

const TWIN_ROWS = Number(process.env.BENCH_TWIN_ROWS ?? 2_000_000);
const FAKER_ROWS = 100_000;
const SEED = 42;

const DISTRICTS: { value: string; count: number }[] = [
  ['长安区', 231_000], ['桥西区', 214_000], ['新华区', 198_000], ['裕华区', 187_000], ['井陉矿区', 42_000],
  ['藁城区', 156_000], ['鹿泉区', 121_000], ['栾城区', 98_000], ['正定县', 132_000], ['高新区', 88_000],
].map(([value, count]) => ({ value: value as string, count: count as number }));
const GENDERS = [{ value: '男', count: 1_012_000 }, { value: '女', count: 988_000 }];
const BIRTH = { from: '1940-01-01', to: '2008-12-31' };

/** The profile of a residents table as ingest records it (no values except top values of categories). */
const RESIDENTS_PROFILE: TwinColumn[] = [
  { name: 'resident_id', type: 'VARCHAR', nullShare: 0, min: null, max: null, topValues: null, piiKind: 'resident_id' },
  { name: 'name', type: 'VARCHAR', nullShare: 0, min: null, max: null, topValues: null, piiKind: 'name' },
  { name: 'mobile', type: 'VARCHAR', nullShare: 0.03, min: null, max: null, topValues: null, piiKind: 'mobile' },
  { name: 'address', type: 'VARCHAR', nullShare: 0, min: null, max: null, topValues: null, piiKind: 'address' },
  { name: 'district', type: 'VARCHAR', nullShare: 0, min: null, max: null, topValues: DISTRICTS, piiKind: null },
  { name: 'birth_date', type: 'DATE', nullShare: 0, min: BIRTH.from, max: BIRTH.to, topValues: null, piiKind: null },
  { name: 'gender', type: 'VARCHAR', nullShare: 0, min: null, max: null, topValues: GENDERS, piiKind: null },
];

const DISTRICT_WEIGHTS = DISTRICTS.map(({ value, count }) => ({ value, weight: count }));
const GENDER_WEIGHTS = GENDERS.map(({ value, count }) => ({ value, weight: count }));
const MOBILE_PREFIXES = ['130', '131', '132', '135', '136', '137', '138', '139', '150', '151', '152', '158', '159', '166', '177', '180', '186', '188', '189', '199'];

interface ResidentRow {
  resident_id: string;
  name: string;
  mobile: string | null;
  address: string;
  district: string;
  birth_date: Date;
  gender: string;
}

/** The same row as the twin's, from faker alone: what a twin generator written in JavaScript would do. */
function fakerResident(): ResidentRow {
  const faker = fakerZH_CN;
  const [code, province, city, county] = faker.helpers.arrayElement(REGIONS);
  const born = faker.date.between(BIRTH).toISOString();
  const first17 = `${code}${born.slice(0, 4)}${born.slice(5, 7)}${born.slice(8, 10)}${faker.string.numeric(3)}`;
  return {
    resident_id: first17 + residentIdCheckChar(first17),
    name: faker.person.fullName(),
    mobile: faker.datatype.boolean(0.03) ? null : faker.helpers.arrayElement(MOBILE_PREFIXES) + faker.string.numeric(8),
    address: `${province}${city}${county}${faker.location.streetAddress()}`,
    district: faker.helpers.weightedArrayElement(DISTRICT_WEIGHTS),
    birth_date: faker.date.between(BIRTH),
    gender: faker.helpers.weightedArrayElement(GENDER_WEIGHTS),
  };
}

export async function benchTwin(): Promise<void> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '1', memory_limit: '2048MB' });
  const connection = await instance.connect();
  let twinMs: number;
  try {
    await connection.run(`CREATE TABLE warmup AS ${twinSql(RESIDENTS_PROFILE, 10_000, SEED)}`);
    const started = performance.now();
    await connection.run(`CREATE TABLE twin AS ${twinSql(RESIDENTS_PROFILE, TWIN_ROWS, SEED)}`);
    twinMs = performance.now() - started;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }

  fakerZH_CN.seed(SEED);
  for (let i = 0; i < 1000; i++) fakerResident();
  const rows: ResidentRow[] = [];
  const started = performance.now();
  for (let i = 0; i < FAKER_ROWS; i++) rows.push(fakerResident());
  const fakerMs = performance.now() - started;

  const twinRate = TWIN_ROWS / twinMs * 1000;
  const fakerRate = FAKER_ROWS / fakerMs * 1000;
  console.log(`\n## Synthetic twin from a profile, 1 DuckDB thread (${TWIN_ROWS.toLocaleString('en')} rows; faker ${FAKER_ROWS.toLocaleString('en')} rows)`);
  console.log(`synthetic twin (${RESIDENTS_PROFILE.length} columns like residents) ${Math.round(twinRate).toLocaleString('en')} rows/s vs faker-only ${Math.round(fakerRate).toLocaleString('en')} rows/s: ${(twinRate / fakerRate).toFixed(1)} x (target >= 500k rows/s, >= 5x)`);
}
