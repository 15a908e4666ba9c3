/**
 * Issue #11: what the domain-wide doubt on shared keys costs (compileDoubtfulKeys, docs/sandbox.md
 * "Rows without a key"), and the merged keys beside it (compileMergedKeys). It runs in every build that rebuilds a table with entity keys, over every
 * version of every dataset with an identifier beside a witness. Measured here on a table like the
 * demo's residents (resident ID, name, mobile, birth date, gender), one row per person and ten, one
 * DuckDB thread as in a build, against the anchor of one scan of the same columns, in the same run.
 */
import { randomBytes } from 'node:crypto';
import { DuckDBInstance } from '@duckdb/node-api';
import { birthDateSql, compileDoubtfulKeys, compileMergedKeys, mobileSql, nameSql, residentIdSql, type DoubtSource } from '../desensitize/index.js';

/** Rows, and the people they are about: one row each (residents), or ten (payments: every key repeated, so every row is read). */
const SIZES = [{ rows: 100_000, people: 100_000 }, { rows: 1_000_000, people: 1_000_000 }, { rows: 1_000_000, people: 100_000 }];
const RUNS = 3;

export async function benchDoubt(): Promise<void> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '1', memory_limit: '1024MB' });
  const connection = await instance.connect();
  const timed = async (sql: string): Promise<number> => {
    const runs: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const started = performance.now();
      await connection.run(sql);
      runs.push(performance.now() - started);
    }
    return runs.sort((a, b) => a - b)[1]!;
  };
  const source = (witnesses: DoubtSource['witnesses']): DoubtSource => ({
    from: 'residents',
    identifiers: [{ column: 'id_card', kind: 'resident_id', normalization: 'resident_id' }, { column: 'mobile', kind: 'mobile', normalization: 'mobile' }],
    witnesses,
    recordedOn: new Date().toISOString().slice(0, 10),
  });
  const all = source([{ column: 'birth_date', kind: 'birth_date' }, { column: 'name', kind: 'name' }, { column: 'gender', kind: 'gender' }, { column: 'id_card', kind: 'resident_id' }]);
  const key = randomBytes(32);
  console.log('\n## Doubtful keys (one thread; median of 3)');
  console.log('| rows | people | one scan of the five columns ms | the doubt ms | ratio | birth dates only ms | resident IDs only ms | merged keys ms | ratio |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const { rows, people } of SIZES) {
    await connection.run(`CREATE OR REPLACE TABLE residents AS SELECT ${residentIdSql('i', 11)} AS id_card, ${nameSql('i', 11)} AS name, ${mobileSql('i', 11)} AS mobile,
      ${birthDateSql('i', 11)} AS birth_date, ['男', '女'][1 + i % 2] AS gender FROM (SELECT range % ${people} AS i FROM range(${rows}))`);
    const scan = await timed(`SELECT count(id_card), count(name), count(mobile), count(birth_date), count(gender) FROM residents`);
    const doubt = await timed(`SELECT count(*) FROM (${compileDoubtfulKeys([all], key)!})`);
    const dates = await timed(`SELECT count(*) FROM (${compileDoubtfulKeys([source([{ column: 'birth_date', kind: 'birth_date' }])], key)!})`);
    const ids = await timed(`SELECT count(*) FROM (${compileDoubtfulKeys([source([{ column: 'id_card', kind: 'resident_id' }])], key)!})`);
    // Every mobile beside its resident ID: the pairs are read on every row (none merges here: one mobile each).
    const merged = await timed(`SELECT count(*) FROM (${compileMergedKeys([all], key)!})`);
    console.log(`| ${rows.toLocaleString('en')} | ${people.toLocaleString('en')} | ${scan.toFixed(0)} | ${doubt.toFixed(0)} | ${(doubt / scan).toFixed(0)}× | ${dates.toFixed(0)} | ${ids.toFixed(0)} | ${merged.toFixed(0)} | ${(merged / scan).toFixed(0)}× |`);
  }
  connection.closeSync();
  instance.closeSync();
}
