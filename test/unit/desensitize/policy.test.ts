/** Column policies compile to a SELECT whose output holds no raw identifying value. */
import { describe, expect, it } from 'vitest';
import { checkPolicy, compilePolicySelect, defaultPolicy, residentIdCheckChar, tokenize } from '../../../desensitize/index.js';
import { useMemoryConnection } from '../../helpers/memory-connection.js';

const duck = useMemoryConnection();

describe('compilePolicySelect', () => {
  it('applies every policy kind and derives columns from resident IDs', async () => {
    const first17 = '13010219900312001';
    const id = first17 + residentIdCheckChar(first17);
    await duck.connection.run(`CREATE TABLE raw AS SELECT '${id}' AS id_card, '张伟' AS name, '13812345678' AS mobile, 1234.5 AS amount, 'secret' AS notes, '1990-03-12' AS born`);
    const key = Buffer.alloc(32, 1);
    const select = compilePolicySelect([
      { name: 'id_card', policy: defaultPolicy('resident_id') },
      { name: 'name', policy: defaultPolicy('name') },
      { name: 'mobile', policy: { kind: 'mask', rule: 'keep:3:2' } },
      { name: 'amount', policy: { kind: 'generalize', rule: 'bucket:1000' } },
      { name: 'notes', policy: { kind: 'hidden' } },
      { name: 'born', policy: { kind: 'generalize', rule: 'age_band' } },
    ], { tokenKey: key, today: '2026-11-22' }, 'raw');
    const [row] = await duck.connection.all(select!);
    expect(row).toEqual({
      id_card: tokenize(id, key, 'resident_id'),
      id_card_birth_year: 1990, id_card_gender: 'M', id_card_region: '130100',
      name: '张*', mobile: '138******78', amount: 1000, born: '30-39',
    });
    expect(JSON.stringify(row)).not.toContain(id);
  });

  it('prepares a column once for every output that normalizes it the same way, and leaves nothing for all-hidden', () => {
    const select = compilePolicySelect([{ name: 'id_card', policy: defaultPolicy('resident_id') }], { tokenKey: Buffer.alloc(32, 1), today: '2026-11-22' }, 'raw')!;
    // The token and the three derived columns share one normalized ID.
    expect(select.match(/AS "__p\d+"/g)).toEqual(['AS "__p0"']);
    expect(compilePolicySelect([{ name: 'notes', policy: { kind: 'hidden' } }], { tokenKey: Buffer.alloc(32, 1), today: '2026-11-22' }, 'raw')).toBeUndefined();
  });

  it('validates rules and refuses plain personal data without a reason', () => {
    expect(checkPolicy({ kind: 'plain' }, 'mobile')).toMatch(/needs a reason/);
    expect(checkPolicy({ kind: 'plain', reason: '业务必需' }, 'mobile')).toBeUndefined();
    expect(checkPolicy({ kind: 'mask', rule: 'keep:2:2' }, null)).toBeUndefined();
    expect(checkPolicy({ kind: 'mask', rule: 'rot13' }, null)).toMatch(/mask rule/);
    expect(checkPolicy({ kind: 'generalize', rule: 'bucket:-5' }, null)).toMatch(/generalize rule/);
    expect(checkPolicy({ kind: 'token', rule: 'md5' }, null)).toMatch(/token rule/);
  });

  it('accepts scrub as a mask rule, and asks a reason for plain free text or birth dates', () => {
    expect(checkPolicy({ kind: 'mask', rule: 'scrub' }, 'free_text')).toBeUndefined();
    expect(checkPolicy({ kind: 'mask', rule: 'rot13' }, null)).toMatch(/scrub/);
    expect(checkPolicy({ kind: 'plain' }, 'free_text')).toMatch(/needs a reason/);
    expect(checkPolicy({ kind: 'plain' }, 'birth_date')).toMatch(/needs a reason/);
    expect(checkPolicy(defaultPolicy('birth_date'), 'birth_date')).toBeUndefined();
  });

  it('generalizes a birth date to its year, hides free text by default, and scrubs it when asked', async () => {
    await duck.connection.run(`CREATE TABLE people AS SELECT DATE '1990-03-12' AS born, '19851102' AS born_text, '于健雄，电话17552802804' AS note, '于健雄，电话17552802804' AS note2`);
    const select = compilePolicySelect([
      { name: 'born', policy: defaultPolicy('birth_date') },
      { name: 'born_text', policy: defaultPolicy('birth_date') },
      { name: 'note', policy: defaultPolicy('free_text') },
      { name: 'note2', policy: { kind: 'mask', rule: 'scrub' } },
    ], { tokenKey: Buffer.alloc(32, 1), today: '2026-11-22' }, 'people');
    expect(await duck.connection.all(select!)).toEqual([{ born: 1990, born_text: 1985, note2: '******，电话******' }]);
  });
});
