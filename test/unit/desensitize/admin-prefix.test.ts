/**
 * The administrative prefix an address mask keeps: for every county of the vendored GB/T 2260 list,
 * written with and without its province and city and followed by a street or an estate, the kept
 * part is exactly the administrative names (the longest prefix of real names, checked against an
 * exhaustive search), and the DuckDB form finds the same prefix as the TypeScript one.
 */
import { describe, expect, it } from 'vitest';
import { adminPrefix, adminPrefixSql, REGIONS, sqlString } from '../../../desensitize/index.js';
import { useMemoryConnection } from '../../helpers/memory-connection.js';

const duck = useMemoryConnection();

const names = (k: 1 | 2 | 3) => new Set(REGIONS.map((row) => row[k]).filter((name) => name !== ''));
const GROUPS = [names(1), names(2), names(3)];

/** The longest prefix made of an optional province, city and county name, by trying every choice. */
function longestByExhaustiveSearch(text: string, group = 0, at = 0): number {
  if (group === GROUPS.length) return at;
  let best = longestByExhaustiveSearch(text, group + 1, at);
  for (let end = at + 1; end <= text.length; end++) {
    if (GROUPS[group]!.has(text.slice(at, end))) best = Math.max(best, longestByExhaustiveSearch(text, group + 1, end));
  }
  return best;
}

/** Every county in four spellings, each followed by a street, an estate or a community. */
const SPELLINGS = REGIONS.flatMap(([, province, city, county], k) => {
  const rest = ['建设路100号', '幸福小区5栋301', '社区卫生站', '开发区3号'][k % 4]!;
  return [`${province}${city}${county}`, `${city}${county}`, county, `${province}${county}`].map((admin) => ({ admin, text: admin + rest }));
});

describe('adminPrefix', () => {
  it('keeps exactly the administrative names of every county in the list, in every spelling', () => {
    // Mismatches collected and compared once: twelve thousand expect() calls cost seconds.
    expect(SPELLINGS.filter(({ admin, text }) => adminPrefix(text) !== admin)).toEqual([]);
  });

  it('is the longest prefix of real names (greedy matching loses nothing on this list)', () => {
    expect(SPELLINGS.filter(({ text }) => adminPrefix(text).length !== longestByExhaustiveSearch(text))).toEqual([]);
  });

  it('keeps nothing of an estate, a community, a development zone or a campus without a place name', () => {
    for (const text of ['阳光小区', '幸福社区', '高新开发区', '东校区', '科技园区', '建设路100号', '中关村大街27号', '某某县']) expect(adminPrefix(text), text).toBe('');
  });

  it('has a DuckDB form that finds the same prefix', async () => {
    const texts = [...SPELLINGS.map(({ text }) => text), '阳光小区', '', '长安区', '𠀀长安区', '北京市'];
    // One query over all of them (12,000 values): a list literal, not one insert per value.
    const rows = await duck.connection.all<{ text: string; kept: string }>(`SELECT text, ${adminPrefixSql('text')} AS kept FROM (SELECT unnest([${texts.map(sqlString).join(', ')}]) AS text)`);
    expect(rows).toHaveLength(texts.length);
    expect(rows.filter(({ text, kept }) => kept !== adminPrefix(text))).toEqual([]);
  });
});
