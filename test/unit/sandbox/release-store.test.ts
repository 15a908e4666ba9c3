/**
 * The release store and the differencing arithmetic on hand-made cell sets (the trusted code of
 * `export-difference` and `export-release`, run in-process): Δ = |A| + |B| − 2|A∩B| at its
 * boundaries, only over the same set of datasets and the same table label, another tenant's
 * release never named, suppressed cells neither compared nor kept, and missing or unreadable cell
 * sets reported as such (never as "no cells").
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportVersionDirectory } from '../../../sandbox/data-paths.js';
import { CELLS_FILE, writeCells } from '../../../sandbox/engine/export-files.js';
import { differencing, listReleaseFiles, releaseCells, unreleaseCells } from '../../../sandbox/engine/release-store.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

const EARLIER = 'exp-000000000000000a';
const NEW = 'exp-000000000000000b';
const MIN = 10;

/** Entities `e<from>`…`e<to - 1>`. */
const people = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `e${from + i}`);

describe('release store', () => {
  let temp: ReturnType<typeof makeTempDir>;
  beforeEach(() => {
    temp = makeTempDir();
  });
  afterEach(() => temp.remove());

  /** Writes a version's cells: per [row, column, label], its entities. */
  async function cells(exportId: string, sets: [number, string, string, string[]][]): Promise<void> {
    async function* batches() {
      yield sets.flatMap(([row, column, label, entities]) => entities.map((e) => [row, column, label, e] as [number, string, string, string]));
    }
    await writeCells(exportVersionDirectory(temp.dir, exportId, 1), batches());
  }
  const key = (exportId: string, tenantId: string, datasets = ['pay']) => ({ exportId, version: 1, tenantId, datasets, minEntities: MIN, suppressed: [] });

  it('fails a cell over the same people when one person\'s contribution changed, and passes a cell of another aggregate', async () => {
    const contributions = (changed: number, seed: bigint) => people(0, 40).map((e, i) => [0, 'n', 'pay', e, seed + BigInt(i === changed ? 1_000 : i)] as [number, string, string, string, bigint]);
    async function* earlier() {
      yield contributions(-1, 0n);
    }
    await writeCells(exportVersionDirectory(temp.dir, EARLIER, 1), earlier());
    expect(await releaseCells(temp.dir, { ...key(EARLIER, 'alpha'), recipient: 'city-lab' })).toMatchObject({ pairs: [], released: true });
    // Row 0: the same 40 people, person 7's share changed (2 apart); row 1: another aggregate (every share differs).
    async function* later() {
      yield [...contributions(7, 0n), ...contributions(-1, 500n).map(([, column, label, e, c]) => [1, column, label, e, c] as [number, string, string, string, bigint])];
    }
    await writeCells(exportVersionDirectory(temp.dir, NEW, 1), later());
    const result = await differencing(temp.dir, key(NEW, 'beta'));
    expect('pairs' in result && result.pairs.map((p) => p.row)).toEqual([0]);
  });

  it('fails cells whose sets differ by 1 to 9 entities, and passes 0 and 10 or more', async () => {
    await cells(EARLIER, [[0, 'n', 'pay', people(0, 40)]]);
    expect(await releaseCells(temp.dir, { ...key(EARLIER, 'alpha'), recipient: 'city-lab' })).toMatchObject({ pairs: [], released: true });
    // Each new cell in a column of its own: cells of one column are groups of one output, which the
    // sum rules (the next tests) compare as a whole.
    await cells(NEW, [
      [0, 'n0', 'pay', people(0, 40)], // Δ 0
      [1, 'n1', 'pay', people(0, 39)], // Δ 1
      [2, 'n2', 'pay', people(0, 31)], // Δ 9
      [3, 'n3', 'pay', people(0, 30)], // Δ 10
      [4, 'n4', 'pay', people(5, 45)], // Δ 10: five out, five in
      [5, 'n5', 'pay', people(3, 43)], // Δ 6: three out, three in (same size, other people)
      [6, 'n6', 'pay', people(100, 103)], // disjoint: never joined
    ]);
    const own = await differencing(temp.dir, key(NEW, 'alpha'));
    expect(own).toMatchObject({ cells: 7, releases: 1 });
    if (!('pairs' in own)) throw new Error('no pairs');
    expect(own.pairs.map((p) => p.row)).toEqual([1, 2, 5]);
    expect(own.pairs[0]!.earlier).toEqual({ exportId: EARLIER, version: 1, row: 0, column: 'n' });
    // Another tenant's release is not named.
    const other = await differencing(temp.dir, key(NEW, 'beta'));
    if (!('pairs' in other)) throw new Error('no pairs');
    expect(other.pairs.map((p) => p.earlier)).toEqual([null, null, null]);
    expect(JSON.stringify(other)).not.toContain(EARLIER);
    // Suppressed cells are not compared.
    const suppressed = await differencing(temp.dir, { ...key(NEW, 'beta'), suppressed: [{ row: 1, column: 'n1' }, { row: 5, column: 'n5' }] });
    if (!('pairs' in suppressed)) throw new Error('no pairs');
    expect(suppressed.pairs.map((p) => p.row)).toEqual([2]);
  });

  it('compares cells on their people whatever label or other datasets either version read', async () => {
    await cells(EARLIER, [[0, 'n', 'pay', people(0, 40)]]);
    await releaseCells(temp.dir, { ...key(EARLIER, 'alpha'), recipient: 'city-lab' });
    await cells(NEW, [[0, 'n', 'pay', people(0, 37)], [1, 'n', 'pay#2', people(0, 37)], [2, 'n', 'pay_copy', people(0, 37)], [3, 'n', 'pay_copy', people(500, 537)]]);
    // SECURITY (red team): a join with one more dataset (a lookup table) kept a close version out of
    // comparison; so did a second dataset of the same people (pass 35b): entity keys are domain-wide.
    for (const datasets of [['pay', 'people'], ['pay'], ['pay_copy']]) {
      const result = await differencing(temp.dir, key(NEW, 'alpha', datasets));
      if (!('pairs' in result)) throw new Error('no pairs');
      expect(result.pairs.map((p) => p.row), datasets.join()).toEqual([0, 1, 2]);
    }
  });

  it('compares a cell with the sum of a released column\'s cells, and a released cell with the sum of a new column\'s', async () => {
    // Released: a breakdown (three groups of 30). New: their total plus one person, and a total plus 12.
    await cells(EARLIER, [[0, 'n', 'pay', people(0, 30)], [1, 'n', 'pay', people(30, 60)], [2, 'n', 'pay', people(60, 90)], [3, 'n', 'pay', people(200, 230)]]);
    await releaseCells(temp.dir, { ...key(EARLIER, 'alpha'), recipient: 'city-lab' });
    await cells(NEW, [[0, 'total', 'pay', people(0, 91)], [1, 'total', 'pay', people(0, 102)], [2, 'total', 'pay', people(30, 89)], [3, 'total', 'pay', people(0, 30)]]);
    const own = await differencing(temp.dir, key(NEW, 'alpha'));
    if (!('pairs' in own)) throw new Error('no pairs');
    // Row 0: Δ 1 against groups 0–2 summed; row 1: Δ 12; row 2: Δ 1 against groups 1 and 2 summed (one person of group 2 left out);
    // row 3: Δ 0 against group 0 alone (the same people: nothing new).
    expect(own.pairs).toEqual([
      { row: 0, column: 'total', earlier: { exportId: EARLIER, version: 1, row: null, column: 'n' }, summed: 'earlier' },
      { row: 2, column: 'total', earlier: { exportId: EARLIER, version: 1, row: null, column: 'n' }, summed: 'earlier' },
    ]);
    const other = await differencing(temp.dir, key(NEW, 'beta'));
    expect(JSON.stringify(other)).not.toContain(EARLIER);
    // The other way round: a released total, then a breakdown whose cells sum to it but one person.
    const TOTAL = 'exp-000000000000000c';
    const PARTS = 'exp-000000000000000d';
    await cells(TOTAL, [[0, 'n', 'pay', people(1000, 1061)]]);
    await releaseCells(temp.dir, { ...key(TOTAL, 'alpha'), recipient: 'city-lab' });
    await cells(PARTS, [[0, 'n', 'pay', people(1000, 1030)], [1, 'n', 'pay', people(1030, 1060)], [2, 'n', 'pay', people(3000, 3030)]]);
    const parts = await differencing(temp.dir, key(PARTS, 'alpha'));
    if (!('pairs' in parts)) throw new Error('no pairs');
    // The two cells in the sum fail (either one withheld breaks it); the unrelated cell does not.
    expect(parts.pairs).toEqual([0, 1].map((row) => ({ row, column: 'n', earlier: { exportId: TOTAL, version: 1, row: 0, column: 'n' }, summed: 'new' })));
  });

  it('compares a cell with the union of a released column\'s cells that share people (groups partition rows, not people: months), and a sum of cells on each member\'s contribution (red-team pass 42b)', async () => {
    // Released per month: each of 60 people in 2 of 3 months (40 a month). New: the total without e59.
    const month = (row: number, ...ranges: [number, number][]) => [row, 'n', 'pay', ranges.flatMap(([from, to]) => people(from, to))] as [number, string, string, string[]];
    await cells(EARLIER, [month(0, [0, 40]), month(1, [20, 60]), month(2, [0, 20], [40, 60])]);
    expect(await releaseCells(temp.dir, { ...key(EARLIER, 'alpha'), recipient: 'city-lab' })).toMatchObject({ pairs: [], released: true });
    await cells(NEW, [[0, 'total', 'pay', people(0, 59)]]);
    const own = await differencing(temp.dir, key(NEW, 'alpha'));
    expect('pairs' in own && own.pairs).toEqual([{ row: 0, column: 'total', earlier: { exportId: EARLIER, version: 1, row: null, column: 'n' }, summed: 'earlier' }]);
    // Released per district (a partition of 30 people); new: their total with e3's share changed.
    const DISTRICTS = 'exp-000000000000000c';
    const TOTAL = 'exp-000000000000000d';
    const member = (row: number, column: string, i: number, share: bigint) => [row, column, 'pay', `e${1000 + i}`, share] as [number, string, string, string, bigint];
    async function* districts() {
      yield Array.from({ length: 30 }, (_, i) => member(i < 15 ? 0 : 1, 'n', i, BigInt(i)));
    }
    await writeCells(exportVersionDirectory(temp.dir, DISTRICTS, 1), districts());
    expect(await releaseCells(temp.dir, { ...key(DISTRICTS, 'alpha'), recipient: 'city-lab' })).toMatchObject({ pairs: [], released: true });
    async function* total() {
      yield Array.from({ length: 30 }, (_, i) => member(0, 'total', i, BigInt(i === 3 ? 999 : i)));
    }
    await writeCells(exportVersionDirectory(temp.dir, TOTAL, 1), total());
    const changed = await differencing(temp.dir, key(TOTAL, 'alpha'));
    expect('pairs' in changed && changed.pairs).toEqual([{ row: 0, column: 'total', earlier: { exportId: DISTRICTS, version: 1, row: null, column: 'n' }, summed: 'earlier' }]);
  });

  it('releases nothing that is too close, keeps no suppressed cell, and is owner-only', async () => {
    await cells(EARLIER, [[0, 'n', 'pay', people(0, 40)], [1, 'n', 'pay', people(0, 20)]]);
    const first = await releaseCells(temp.dir, { ...key(EARLIER, 'alpha'), recipient: 'city-lab', suppressed: [{ row: 1, column: 'n' }] });
    expect(first).toMatchObject({ released: true, cells: 1 });
    const [file] = listReleaseFiles(temp.dir);
    expect(file).toMatchObject({ exportId: EARLIER, version: 1 });
    expect(fs.statSync(file!.file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(file!.file)).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(temp.dir, 'releases')).mode & 0o777).toBe(0o700);
    // The suppressed cell (20 people) was not kept: 18 of them are not close to anything released.
    await cells(NEW, [[0, 'n', 'pay', people(0, 18)]]);
    expect(await differencing(temp.dir, key(NEW, 'beta'))).toMatchObject({ pairs: [] });
    fs.rmSync(path.join(exportVersionDirectory(temp.dir, NEW, 1), CELLS_FILE));
    await cells(NEW, [[0, 'n', 'pay', people(0, 38)]]);
    const refused = await releaseCells(temp.dir, { ...key(NEW, 'beta'), recipient: 'river-lab' });
    expect(refused).toMatchObject({ released: false, pairs: [{ row: 0, column: 'n', earlier: null }] });
    expect(listReleaseFiles(temp.dir)).toHaveLength(1);
    unreleaseCells(temp.dir, key(EARLIER, 'alpha'));
    expect(listReleaseFiles(temp.dir)).toHaveLength(0);
  });

  it('reports missing or unreadable cell sets, never "no cells"', async () => {
    expect(await differencing(temp.dir, key(NEW, 'alpha'))).toHaveProperty('missing');
    const dir = exportVersionDirectory(temp.dir, NEW, 1);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, CELLS_FILE), 'not parquet');
    expect(await differencing(temp.dir, key(NEW, 'alpha'))).toHaveProperty('missing');
    expect(await releaseCells(temp.dir, { ...key(NEW, 'alpha'), recipient: 'city-lab' })).toHaveProperty('missing');
    expect(listReleaseFiles(temp.dir)).toHaveLength(0);
  });
});
