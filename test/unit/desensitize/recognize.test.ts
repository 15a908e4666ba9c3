/** PII recognition from a column's sampled values and its header, with a confidence. */
import { describe, expect, it } from 'vitest';
import { luhnCheckDigit, recognizeColumn, residentIdCheckChar } from '../../../desensitize/index.js';

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
