/**
 * PII recognition from a column's sampled values and its header, with a confidence: resident IDs
 * however they are grouped, the strongest check winning a tie, birth dates under a birth header,
 * and free text holding identifiers taking precedence over names and addresses.
 */
import { describe, expect, it } from 'vitest';
import { defaultPolicy, luhnCheckDigit, luhnValid, recognizeColumn, residentIdCheckChar } from '../../../desensitize/index.js';

const TODAY = '2026-11-22';
const ids = ['11010519491231002X', '321083197812162119', '150102198807303035', '33010219200403064X'];

describe('recognizeColumn', () => {
  it('recognizes resident IDs by checksum, even under a meaningless header', () => {
    expect(recognizeColumn('c7', ids, TODAY)).toEqual({ kind: 'resident_id', confidence: 1, matchShare: 1 });
  });

  it('is less sure of ID-shaped values with wrong check characters', () => {
    const wrong = ids.map((id) => id.slice(0, 17) + (id[17] === '1' ? '2' : '1'));
    const result = recognizeColumn('c7', wrong, TODAY)!;
    expect(result.kind).toBe('resident_id');
    expect(result.confidence).toBe(0.5);
    expect(recognizeColumn('身份证号', wrong, TODAY)!.confidence).toBe(0.7);
  });

  it('recognizes mobiles, USCCs, bank cards, e-mails, plates and passports', () => {
    expect(recognizeColumn('phone', ['13812345678', '+8615912345678', '199 1234 5678'], TODAY)?.kind).toBe('mobile');
    expect(recognizeColumn('code', ['91310110666007217T', '91310115591693856A', '91350100M000100Y43'], TODAY)).toMatchObject({ kind: 'uscc', confidence: 1 });
    const cards = ['622202123456789012', '621700000000000000'].map((p) => p + luhnCheckDigit(p));
    expect(recognizeColumn('x', cards, TODAY)?.kind).toBe('bank_card');
    expect(recognizeColumn('contact', ['a@b.cn', 'dev@126.com'], TODAY)?.kind).toBe('email');
    expect(recognizeColumn('hp', ['京A12345', '沪AD12345', '粤B12345D'], TODAY)?.kind).toBe('plate');
    expect(recognizeColumn('doc', ['G12345678', 'E12345678', 'EA1234567'], TODAY)?.kind).toBe('passport');
  });

  it('needs a header to be confident about names and addresses', () => {
    const names = ['张三', '李四', '欧阳娜娜', '王小明'];
    expect(recognizeColumn('col', names, TODAY)).toMatchObject({ kind: 'name', confidence: 0.6 });
    expect(recognizeColumn('姓名', names, TODAY)).toMatchObject({ kind: 'name', confidence: 1 });
    expect(recognizeColumn('住址', ['河北省石家庄市长安区建设北大街1号', '北京市海淀区中关村大街27号'], TODAY)).toMatchObject({ kind: 'address', confidence: 1 });
  });

  it('takes a few repeated Han words for a category, not for names', () => {
    const industries = Array.from({ length: 200 }, (_, i) => ['金融业', '建筑业', '制造业', '批发零售'][i % 4]!);
    expect(recognizeColumn('industry', industries, TODAY)).toBeNull();
    expect(recognizeColumn('姓名', industries, TODAY)?.kind).toBe('name');
  });

  it('reports nothing for ordinary data, and ignores empty values', () => {
    expect(recognizeColumn('amount', ['12.5', '3', '1000'], TODAY)).toBeNull();
    expect(recognizeColumn('district', ['长安区', '桥西区'], TODAY)).toBeNull();
    expect(recognizeColumn('notes', [null, '', '  '], TODAY)).toBeNull();
    const generated = Array.from({ length: 20 }, (_, i) => {
      const first17 = `110105199001${String(10 + i)}${String(i).padStart(3, '0')}`;
      return first17 + residentIdCheckChar(first17);
    });
    expect(recognizeColumn('sfzh', [...generated, null, ''], TODAY)).toMatchObject({ kind: 'resident_id', confidence: 1 });
  });
});

describe('recognizeColumn: resident IDs written in groups', () => {
  it('recognizes IDs with spaces, hyphens or ideographic spaces as IDs, never as bank cards', () => {
    const grouped = ids.flatMap((id) => [' ', '-', '\u3000'].map((sep) => [id.slice(0, 6), id.slice(6, 14), id.slice(14)].join(sep)));
    expect(recognizeColumn('c7', grouped, TODAY)).toEqual({ kind: 'resident_id', confidence: 1, matchShare: 1 });
    const numeric = grouped.filter((id) => !id.endsWith('X'));
    expect(recognizeColumn('卡号', numeric, TODAY)?.kind).toBe('resident_id');
  });

  it('prefers a valid resident-ID check to Luhn when both pass', () => {
    // IDs that happen to pass Luhn too (one in ten does): equally sure by share, the stronger check wins.
    const both: string[] = [];
    for (let n = 0; both.length < 5; n++) {
      const first17 = `11010519900101${String(n).padStart(3, '0')}`;
      const id = first17 + residentIdCheckChar(first17);
      if (/^\d{18}$/.test(id) && luhnValid(id)) both.push(id);
    }
    expect(recognizeColumn('x', both, TODAY)).toMatchObject({ kind: 'resident_id', confidence: 1 });
  });
});

describe('recognizeColumn: identifiers as number columns, spreadsheets and clerks print them (red-team passes 24a, 25a)', () => {
  it('reads whole numbers with a fraction of zeros or in e-notation as their digits', () => {
    expect(recognizeColumn('x', ['13812345678.0', '15912345678.00', '1.3912345678E+10', '1.9912345678e10'], TODAY)?.kind).toBe('mobile');
    // An 18-digit ID as a DOUBLE prints in e-notation and has lost its last digits: still ID-shaped.
    expect(recognizeColumn('x', ['4.51002195610044e+17', '1.10105194912310e+17'], TODAY)).not.toBeNull();
    expect(recognizeColumn('amount', ['12.0', '3.5e+2', '1.5e3', '2023E01'], TODAY)).toBeNull();
  });

  it('finds mobiles under any separator, and cards only under spaces, dashes and invisible characters', () => {
    expect(recognizeColumn('x', ['139.1234.5678', '(139)12345678', '139/1234/5678', '139\u200b1234\u200b5678', '+86 (139) 1234–5678'], TODAY)?.kind).toBe('mobile');
    const card = '622202123456789012';
    const full = card + luhnCheckDigit(card);
    expect(recognizeColumn('x', [`${full.slice(0, 4)}–${full.slice(4, 8)}\u3000${full.slice(8)}`, `${full.slice(0, 6)}\u200b${full.slice(6)}`], TODAY)?.kind).toBe('bank_card');
  });

  it('takes decimal fractions and timestamps for neither', () => {
    // Latitudes with nine decimals compact to 11 digits starting 18: no mobiles.
    expect(recognizeColumn('lat', ['18.123456789', '13.912345678', '19.000012345'], TODAY)).toBeNull();
    // A timestamp's 17 digits pass Luhn one time in ten: no cards.
    const stamps = Array.from({ length: 50 }, (_, i) => `2023-10-${String(10 + (i % 18)).padStart(2, '0')} 10:${String(i).padStart(2, '0')}:33.123`);
    expect(recognizeColumn('seen_at', stamps, TODAY)).toBeNull();
  });
});

describe('recognizeColumn: birth dates', () => {
  it('recognizes dates under a birth header, written as DuckDB writes a DATE, or YYYYMMDD, or YYYY/MM/DD', () => {
    expect(recognizeColumn('出生日期', ['1990-03-12', '1985-11-02', '2001-07-30'], TODAY)).toEqual({ kind: 'birth_date', confidence: 1, matchShare: 1 });
    expect(recognizeColumn('csrq', ['19900312', '19851102'], TODAY)?.kind).toBe('birth_date');
    expect(recognizeColumn('date_of_birth', ['1990/03/12', '1985/11/02'], TODAY)?.kind).toBe('birth_date');
    expect(recognizeColumn('DOB', ['1990-03-12'], TODAY)?.kind).toBe('birth_date');
    // Pinyin and short headers (red-team pass 30a).
    for (const header of ['chusheng_riqi', 'shengri', 'csny', 'bday', 'brth_dt']) expect(recognizeColumn(header, ['1990-03-12', '1985-11-02'], TODAY)?.kind, header).toBe('birth_date');
    // As Excel (zh-CN) and people write them (red-team pass 25a).
    expect(recognizeColumn('出生日期', ['1961/3/4', '1961年3月4日', '1961.03.04', '1990-3-12 00:00:00+08'], TODAY)).toMatchObject({ kind: 'birth_date', matchShare: 1 });
    // The year last, times with AM/PM and spaced offsets, 号, other digit forms (pass 26a).
    expect(recognizeColumn('birth_date', ['3/4/1961', '3/4/1961 12:00:00 AM', '04/03/1961', '13/4/1961', '1961-03-04 08:00:00 +08:00', '1961年3月4号', '１９６１-０３-０４', '一九六一年三月四日', '一九六〇年十二月二十四日'], TODAY))
      .toMatchObject({ kind: 'birth_date', matchShare: 1 });
    expect(defaultPolicy('birth_date')).toEqual({ kind: 'generalize', rule: 'year' });
  });

  it('does not take other dates, future dates or a birthplace for birth dates', () => {
    expect(recognizeColumn('registered', ['1990-03-12', '2015-11-02'], TODAY)).toBeNull();
    expect(recognizeColumn('出生日期', ['2030-01-01', '1850-01-01', '1990-02-30'], TODAY)).toBeNull();
    expect(recognizeColumn('出生地', ['河北省石家庄市', '北京市海淀区'], TODAY)?.kind).not.toBe('birth_date');
    expect(recognizeColumn('adobe_version', ['1990-03-12'], TODAY)).toBeNull();
  });
});

describe('recognizeColumn: free text', () => {
  const note = '于健雄，电话17552802804，住河北省石家庄市长安区建设路100号';

  it('takes text with a mobile, an ID or an e-mail inside for free text, hidden by default', () => {
    expect(recognizeColumn('情况', [note], TODAY)).toMatchObject({ kind: 'free_text', matchShare: 1 });
    expect(recognizeColumn('住址', [note, '河北省石家庄市长安区建设北大街1号'], TODAY)?.kind).toBe('free_text');
    expect(recognizeColumn('联系人', ['张三 13812345678', '李四 13987654321'], TODAY)?.kind).toBe('free_text');
    expect(defaultPolicy('free_text')).toEqual({ kind: 'hidden' });
  });

  it('finds free text in a large sample when two values in a hundred have an identifier, one under a notes header', () => {
    const plain = Array.from({ length: 98 }, (_, i) => `第${i}次回访，情况良好`);
    expect(recognizeColumn('c3', [...plain, note, '已处理'], TODAY)).toBeNull();
    expect(recognizeColumn('c3', [...plain, note, '联系邮箱 zs@example.com 已回复'], TODAY)?.kind).toBe('free_text');
    expect(recognizeColumn('备注', [...plain, note, '已处理'], TODAY)?.kind).toBe('free_text');
  });

  it('leaves columns of single identifiers, addresses with postcodes and plain notes alone', () => {
    expect(recognizeColumn('phone', ['13812345678', '+86 139 1234 5678'], TODAY)?.kind).toBe('mobile');
    expect(recognizeColumn('住址', ['河北省石家庄市长安区建设北大街1号 050000', '北京市海淀区中关村大街27号 100080'], TODAY)?.kind).toBe('address');
    expect(recognizeColumn('备注', ['已处理', '金额12345元，共3人'], TODAY)?.kind).not.toBe('free_text');
  });
});
