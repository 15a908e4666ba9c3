/**
 * Issue #9 item 8: masks and recognition let identifiers through. Known-answer attacks, each run
 * the way the refinery runs a column (recognized, given its default policy or the rule named,
 * compiled to DuckDB SQL) and, for masks, through the TypeScript reference too; each asserts what
 * the output may show and that the identifier is not in it:
 * - an address mask that kept "up to the first 区" kept 小区, 社区, 开发区, 校区, 园区 and whatever
 *   came before them: streets, house numbers, estates;
 * - a note with a name, a mobile and an address was taken for an address, and its mobile shown;
 * - the `scrub` mask for free text leaves no run of 5 or more digits and no e-mail address;
 * - a resident ID written in groups (110105 19491231 002X) was taken for a bank card, and masked,
 *   tokenized and generalized unlike the same ID written together;
 * - an exact birth date was not recognized at all, and stayed plain next to district and gender;
 * - an e-mail mask kept whatever followed the address as its "domain".
 */
import { describe, expect, it } from 'vitest';
import {
  compilePolicySelect, defaultPolicy, FULLY_MASKED, MASKS, recognizeColumn, residentIdCheckChar, scrub, sqlString, tokenize, type ColumnPolicy, type MaskRule,
} from '../../desensitize/index.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';

const TODAY = '2026-11-22';
const TOKEN_KEY = Buffer.alloc(32, 7);
const duck = useMemoryConnection();
let tables = 0;

/** The refinery's output for one column of `values` under `policy`: the compiled SELECT over a raw table. */
async function refine(values: (string | null)[], policy: ColumnPolicy, type = 'VARCHAR'): Promise<Record<string, unknown>[]> {
  const table = `raw${tables++}`;
  const rows = values.map((value, k) => `(${k}, ${value === null ? 'NULL' : sqlString(value)})`).join(', ');
  await duck.connection.run(`CREATE TABLE ${table} AS SELECT k, CAST(v AS ${type}) AS v FROM (VALUES ${rows}) t(k, v)`);
  const select = compilePolicySelect([{ name: 'k', policy: { kind: 'plain' } }, { name: 'v', policy }], { tokenKey: TOKEN_KEY, today: TODAY }, table)!;
  return (await duck.connection.all<Record<string, unknown>>(`${select} ORDER BY k`)).map(({ k: _k, ...rest }) => rest);
}

/** A mask in both forms, which must agree; returns what it shows. */
async function maskBoth(rule: string, values: string[]): Promise<string[]> {
  const reference = values.map((value) => (MASKS[rule as keyof typeof MASKS] ?? (scrub as MaskRule)).apply(value));
  const inSql = (await refine(values, { kind: 'mask', rule })).map((row) => row.v);
  expect(inSql).toEqual(reference);
  return reference as string[];
}

describe('address mask: only real administrative names are kept', () => {
  it('shows the administrative names of the reported addresses and nothing of their estates, streets and numbers', async () => {
    const reported: [string, string][] = [
      ['河北省石家庄市长安区建设路100号', `河北省石家庄市长安区${'*'.repeat(7)}`],
      ['石家庄市长安区幸福小区', `石家庄市长安区${'*'.repeat(4)}`],
      ['阳光小区', FULLY_MASKED],
      ['建设路100号幸福小区5栋301', FULLY_MASKED],
      ['长安区小区3栋', `长安区${'*'.repeat(4)}`],
    ];
    expect(await maskBoth('address', reported.map(([address]) => address))).toEqual(reported.map(([, shown]) => shown));
  });

  it('keeps nothing of 小区, 社区, 开发区, 校区 or 园区, nor of the street and number before them', async () => {
    const attacks = [
      '幸福小区', '阳光社区3号楼', '高新开发区管委会宿舍', '东校区7号楼201', '科技园区A座', '中关村软件园区',
      '建设路100号阳光小区', '人民路8号和平社区', '长江路1号经济开发区', '育才路5号北校区', '黄河大道2号工业园区',
    ];
    const shown = await maskBoth('address', attacks);
    expect(shown).toEqual(attacks.map(() => FULLY_MASKED));
    const withPlace = attacks.map((rest) => `河北省石家庄市长安区${rest}`);
    for (const [k, masked] of (await maskBoth('address', withPlace)).entries()) {
      expect(masked).toBe(`河北省石家庄市长安区${'*'.repeat(Array.from(attacks[k]!).length)}`);
    }
  });
});

describe('free text: identifiers inside notes', () => {
  const note = '于健雄，电话17552802804，住河北省石家庄市长安区建设路100号';

  it('is recognized as free text, not as an address, and hidden by default: the mobile never shows', async () => {
    for (const header of ['情况', '住址', 'c12']) {
      const pii = recognizeColumn(header, [note, `${note}。`], TODAY);
      expect(pii?.kind, header).toBe('free_text');
      expect(await refine([note], defaultPolicy(pii!.kind))).toEqual([{}]);
    }
  });

  it('scrub leaves no run of 5 or more digits and no e-mail address', async () => {
    const notes = [
      note,
      '户主：王建国，身份证 110105 19491231 002X，手机 138-1234-5678，邮箱 wjg1949@163.com',
      '联系人:李娜 ０３１１－８６０１２３４５ 车牌冀A12345 护照E12345678 代码91310110666007217T',
      '卡号6222 0212 3456 7890 128，QQ 123456789，邮箱a@b.cn,c@d.cn',
    ];
    for (const scrubbed of await maskBoth('scrub', notes)) {
      expect(scrubbed).not.toMatch(/[0-9０-９](?:[ \t\u00a0\u3000\-－]*[0-9０-９]){4,}/u);
      expect(scrubbed).not.toMatch(/[^\s@]@[^\s@]+\.[^\s@]/u);
      expect(scrubbed).not.toMatch(/于健雄|王建国|李娜/u);
    }
  });
});

describe('resident IDs written in groups', () => {
  const id = '11010519491231002X';
  const first17 = '32108319781216211';
  const numericId = first17 + residentIdCheckChar(first17);
  const grouped = [`${id.slice(0, 6)} ${id.slice(6, 14)} ${id.slice(14)}`, `${id.slice(0, 6)}-${id.slice(6, 14)}-${id.slice(14)}`, `${id.slice(0, 6)}\u3000${id.slice(6, 14)}\u3000${id.slice(14)}`];
  const groupedNumeric = [`${numericId.slice(0, 6)} ${numericId.slice(6, 14)} ${numericId.slice(14)}`, `${numericId.slice(0, 6)}-${numericId.slice(6, 14)}-${numericId.slice(14)}`];

  it('are recognized as resident IDs, not as bank cards', () => {
    expect(recognizeColumn('c7', grouped, TODAY)?.kind).toBe('resident_id');
    expect(recognizeColumn('c7', groupedNumeric, TODAY)?.kind).toBe('resident_id');
  });

  it('are masked, tokenized and generalized like the same ID written together', async () => {
    expect(await maskBoth('resident_id', grouped)).toEqual(grouped.map(() => '110105********002X'));
    const rows = await refine([...grouped, id], defaultPolicy('resident_id'));
    const token = tokenize(id, TOKEN_KEY, 'resident_id');
    expect(rows).toEqual([...grouped, id].map(() => ({ v: token, v_birth_year: 1949, v_gender: 'F', v_region: '110100' })));
    expect(JSON.stringify(rows)).not.toContain('19491231');
  });
});

describe('birth dates', () => {
  it('are recognized and generalized to the year by default, whatever their spelling or type', async () => {
    const spellings: [string, string[], string][] = [
      ['出生日期', ['1990-03-12', '1985-11-02'], 'DATE'],
      ['csrq', ['19900312', '19851102'], 'VARCHAR'],
      ['birthday', ['1990/03/12', '1985/11/02'], 'VARCHAR'],
      ['dob', ['19900312', '19851102'], 'INTEGER'],
    ];
    for (const [header, values, type] of spellings) {
      const pii = recognizeColumn(header, values, TODAY);
      expect(pii?.kind, header).toBe('birth_date');
      const rows = await refine(values, defaultPolicy(pii!.kind), type);
      expect(rows.map((row) => Number(row.v)), header).toEqual([1990, 1985]);
    }
  });
});

describe('e-mail mask', () => {
  it('masks a value whole when something follows the address, instead of keeping it as the domain', async () => {
    expect(await maskBoth('email', ['zs@x.com，电话13812345678', 'zs@x.com电话13812345678', 'dev@126.com'])).toEqual([FULLY_MASKED, FULLY_MASKED, 'd****@126.com']);
  });
});
