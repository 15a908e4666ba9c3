/**
 * The differencing history on disk (`sandbox/engine/history-file.ts`, issue #11 item 3): a new
 * history read from the file finds the same pairs as the history that wrote it, keeps its order of
 * forgetting (re-runs made newest included), survives a torn tail, and a file written afresh holds
 * the same history.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AnswerHistory } from '../../../sandbox/disclosure/answer-history.js';
import { HISTORY_FILE, HistoryFile } from '../../../sandbox/engine/history-file.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

let dir: string;
let remove: () => void;
beforeEach(() => ({ dir, remove } = makeTempDir('history-file-')));
afterEach(() => remove());

/** A history journaled to `dir`'s file, read from it first (as a new engine process does). */
async function opened(maxMemberships = 1_000_000): Promise<{ history: AnswerHistory; file: HistoryFile; runs: number }> {
  const file = HistoryFile.in(dir);
  const history = new AnswerHistory({ threshold: 10, maxMemberships, journal: file });
  const runs = await file.load(history);
  return { history, file, runs };
}

async function remember(h: { history: AnswerHistory; file: HistoryFile }, id: string, entities: number[], label = 'c') {
  const pairs = await h.history.compareAndRemember(id, [{ label, entities, contributions: entities.map((e) => e * 3) }]);
  await h.file.flush(h.history);
  return pairs;
}

describe('HistoryFile', () => {
  it('a new process finds N-1 against the N its tenant asked before it started, naming the earlier answer and cell', async () => {
    const first = await opened();
    expect(await remember(first, 'n', range(0, 500), 'row 0, total (column 2)')).toEqual([]);
    expect(fs.statSync(path.join(dir, HISTORY_FILE)).mode & 0o777).toBe(0o600);

    const second = await opened();
    expect(second.runs).toBe(1);
    expect(second.history.size).toBe(500);
    expect(await remember(second, 'n-1', range(1, 500))).toEqual([{ earlier: 'n', cell: 'c', earlierCell: 'row 0, total (column 2)', difference: 1 }]);
    // Contributions are read back too: the same people with one share changed is a pair.
    const third = await opened();
    const changed = await third.history.compareAndRemember('share', [{ label: 'c', entities: range(0, 500), contributions: range(0, 500).map((e) => (e === 9 ? -1 : e * 3)) }]);
    expect(changed.map((p) => [p.earlier, p.difference])).toEqual([['n', 2], ['n-1', 1]]);
  });

  it('replays forgetting in the same order: a re-run made newest is kept, the oldest other run goes', async () => {
    const first = await opened(1_000);
    await remember(first, 'a', range(0, 400));
    await remember(first, 'b', range(1000, 1400));
    // The same text over the same cells: run a becomes the newest.
    await remember(first, 'a', range(0, 400));
    // Past the bound (1,000): the oldest, now b, is forgotten.
    await remember(first, 'c', range(2000, 2400));

    const second = await opened(1_000);
    expect(second.history.size).toBe(800);
    // a is still remembered (a pair), b is not (no pair).
    expect((await second.history.compareAndRemember('a-1', [{ label: 'c', entities: range(1, 400) }])).map((p) => p.earlier)).toEqual(['a']);
    expect(await second.history.compareAndRemember('b-1', [{ label: 'c', entities: range(1001, 1400) }])).toEqual([]);
  });

  it('cuts off a torn tail and goes on appending after the last whole frame', async () => {
    const first = await opened();
    await remember(first, 'a', range(0, 100));
    await remember(first, 'b', range(1000, 1100));
    const file = path.join(dir, HISTORY_FILE);
    const whole = fs.statSync(file).size;
    // A crash in the middle of the second frame.
    fs.truncateSync(file, whole - 100);

    const second = await opened();
    expect(second.runs).toBe(1);
    const afterCut = fs.statSync(file).size;
    expect(afterCut).toBeLessThan(whole - 100);
    await remember(second, 'c', range(2000, 2100));

    const third = await opened();
    expect(third.runs).toBe(2);
    expect((await third.history.compareAndRemember('c-1', [{ label: 'c', entities: range(2001, 2100) }])).map((p) => p.earlier)).toEqual(['c']);
    expect(await third.history.compareAndRemember('b-1', [{ label: 'c', entities: range(1001, 1100) }])).toEqual([]);
  });

  it('a damaged frame ends the file there (its CRC), never read as other members', async () => {
    const first = await opened();
    await remember(first, 'a', range(0, 100));
    await remember(first, 'b', range(1000, 1100));
    const file = path.join(dir, HISTORY_FILE);
    const data = fs.readFileSync(file);
    // One bit of the last member of the second frame.
    data[data.length - 1] = data[data.length - 1]! ^ 1;
    fs.writeFileSync(file, data);
    const second = await opened();
    expect(second.runs).toBe(1);
  });

  it('writes itself afresh past three times what the history holds, holding the same history', async () => {
    // Each run of 200,000 members replaces the last (bound 250,000): the file grows, the history does not.
    const first = await opened(250_000);
    for (let i = 0; i < 6; i++) await remember(first, `r${i}`, range(i * 1_000_000, i * 1_000_000 + 200_000));
    const size = fs.statSync(path.join(dir, HISTORY_FILE)).size;
    // Six runs of 3.2 MB each would be 19 MB; written afresh it holds about one.
    expect(size).toBeLessThan(3 * 16 * 200_000 + 1_000);
    const second = await opened(250_000);
    expect(second.history.size).toBe(200_000);
    expect((await second.history.compareAndRemember('last-1', [{ label: 'c', entities: range(5_000_001, 5_200_000) }])).map((p) => p.earlier)).toEqual(['r5']);
  });
});
