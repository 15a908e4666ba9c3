/**
 * Every mask has a TypeScript reference and a DuckDB SQL form; property tests check that both agree
 * on generated values, valid and malformed (full-width digits, lowercase x, 15-digit IDs written
 * with spaces or hyphens, compound surnames, supplementary-plane characters, addresses on real and
 * made-up places, 小区 and 社区 without a place, e-mails followed by more text, junk), and that no
 * mask ever passes a value through.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adminPrefix, COMPOUND_SURNAMES, FULLY_MASKED, keepFirstLast, luhnCheckDigit, MASK_KINDS, MASKS, REGIONS, residentIdCheckChar, trimText, type MaskRule,
} from '../../../desensitize/index.js';
import { openSqlColumnEvaluator, type SqlColumnEvaluator } from '../../helpers/sql-column.js';

let sql: SqlColumnEvaluator;
beforeAll(async () => {
  sql = await openSqlColumnEvaluator();
});
afterAll(() => sql.close());

/** Applies the SQL form of `rule` to many values at once, in the order given. */
const maskInDuckDb = (rule: MaskRule, values: (string | null)[]) => sql.evaluateRule(rule, values);

const digits = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });
const fullWidth = (s: string) => s.replace(/[0-9]/g, (d) => String.fromCharCode(d.charCodeAt(0) + 0xff10 - 0x30));
const hanChar = fc.integer({ min: 0x4e00, max: 0x9fa5 }).map((c) => String.fromCodePoint(c));
const rareHan = fc.integer({ min: 0x20000, max: 0x2a6df }).map((c) => String.fromCodePoint(c));

const residentIds = fc.oneof(
  digits(17, 17).map((d) => d + residentIdCheckChar(d)),
  digits(17, 17).map((d) => `${d}x`),
  digits(15, 15),
  digits(17, 17).map((d) => fullWidth(d + residentIdCheckChar(d))),
  // Grouped as people write them: 6-8-4 with spaces, hyphens, ideographic spaces; 15 digits 6-6-3.
  fc.tuple(digits(17, 17), fc.constantFrom(' ', '-', '\u3000', '－', ' - ')).map(([d, sep]) => {
    const id = d + residentIdCheckChar(d);
    return [id.slice(0, 6), id.slice(6, 14), id.slice(14)].join(sep);
  }),
  fc.tuple(digits(15, 15), fc.constantFrom(' ', '-')).map(([d, sep]) => [d.slice(0, 6), d.slice(6, 12), d.slice(12)].join(sep)),
  digits(0, 20),
);
const mobiles = fc.oneof(
  fc.tuple(fc.constantFrom('', '+86', '0086', '86'), fc.constantFrom('13', '15', '18', '19', '12'), digits(9, 9)).map(([p, a, b]) => p + a + b),
  fc.tuple(fc.constantFrom('13', '17'), digits(9, 9)).map(([a, b]) => `${a}${b.slice(0, 2)} ${b.slice(2, 6)}-${b.slice(6)}`),
  // As number columns print them and clerks write them (red-team pass 25a).
  fc.tuple(fc.constantFrom('13', '17'), digits(9, 9), fc.constantFrom('.0', '.00', '')).map(([a, b, z]) => `${a}${b}${z}`),
  fc.tuple(fc.constantFrom('13', '17'), digits(9, 9)).map(([a, b]) => `(${a}${b.slice(0, 1)})${b.slice(1, 5)}.${b.slice(5)}`),
  digits(0, 14),
);
const names = fc.oneof(
  fc.array(hanChar, { minLength: 1, maxLength: 5 }).map((cs) => cs.join('')),
  fc.tuple(fc.constantFrom(...COMPOUND_SURNAMES), fc.array(hanChar, { minLength: 0, maxLength: 3 })).map(([s, cs]) => s + cs.join('')),
  fc.tuple(hanChar, rareHan, hanChar).map((cs) => cs.join('')),
  fc.constantFrom('阿卜杜·热合曼', 'Zhang San', '张', ' 王五 '),
);
const cards = fc.oneof(digits(12, 19).map((d) => d + luhnCheckDigit(d)).filter((d) => d.length <= 19), digits(0, 22), digits(16, 16).map((d) => `${d.slice(0, 4)} ${d.slice(4, 8)} ${d.slice(8, 12)} ${d.slice(12)}`));
const emails = fc.oneof(
  fc.emailAddress(),
  fc.constantFrom('张三@例子.中国', 'no-at-sign', '@x.cn', 'a@b', 'zs@x.com，电话13812345678', 'zs@x.com电话13812345678', 'a\u3000b@x.com', 'a b@x.com'),
);
const plates = fc.oneof(
  fc.tuple(fc.constantFrom('京', '沪', '粤', '苏'), fc.constantFrom('A', 'B', 'D', 'I'), fc.string({ unit: fc.constantFrom(...'0123456789ABCDEFGHJK'), minLength: 4, maxLength: 6 }), fc.constantFrom('', '学', 'D')).map((p) => p.join('')),
  fc.string({ maxLength: 9 }),
);
const usccs = fc.oneof(fc.constantFrom('91310110666007217T', '91350100M000100Y43', '91310110666007217t', '9131011066600721IT'), fc.string({ unit: fc.constantFrom(...'0123456789ABCDEFGHJKLMNPQRTUWXY'), minLength: 16, maxLength: 19 }));
const region = fc.constantFrom(...REGIONS);
const addresses = fc.oneof(
  fc.tuple(fc.constantFrom('北京市海淀区', '河北省石家庄市长安区', '浙江省杭州市', '某某县'), fc.array(hanChar, { maxLength: 12 })).map(([a, b]) => a + b.join('')),
  // Real places, whole or in part (city and county without the province, the county alone, the
  // province and the county), then a street, an estate or nothing.
  fc.tuple(region, fc.constantFrom('pck', 'ck', 'k', 'pk', 'p', 'c'), fc.constantFrom('', '建设路100号', '幸福小区5栋301', '社区', '开发区3号', '校区', '工业园区', '中关村大街27号'))
    .map(([[, p, c, k], parts, rest]) => (parts.includes('p') ? p : '') + (parts.includes('c') ? c : '') + (parts.includes('k') ? k : '') + rest),
  fc.constantFrom('阳光小区', '建设路100号幸福小区5栋301', '长安区小区3栋', '高新开发区管委会', '东校区3号楼', '科技园区A座', '幸福社区卫生站'),
  fc.string({ maxLength: 20 }),
);
const fixedLines = fc.oneof(fc.tuple(fc.constantFrom('010', '021', '0311', '0755'), fc.constantFrom('', '-'), digits(6, 8)).map((p) => p.join('')), digits(0, 12));
const passports = fc.oneof(fc.constantFrom('G12345678', 'E12345678', 'EA1234567', 'e12345678', 'EI1234567'), fc.string({ maxLength: 10 }));
const junk = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 12 }), fc.constant(null), fc.constant(''), fc.constant("O'Brien; DROP TABLE x"));

/** Surrounding whitespace as it arrives in exports: ASCII, no-break, ideographic spaces and a BOM. */
const space = fc.constantFrom('', ' ', '\t', '\u00a0', '\u3000', '\ufeff', ' \u3000', '\r\n');
const padded = (values: fc.Arbitrary<string | null>) =>
  fc.tuple(space, values, space).map(([before, value, after]) => (value === null ? null : before + value + after));

const GENERATORS: Record<(typeof MASK_KINDS)[number], fc.Arbitrary<string | null>> = {
  resident_id: residentIds, mobile: mobiles, name: names, bank_card: cards, email: emails, plate: plates,
  uscc: usccs, address: addresses, fixed_line: fixedLines, passport: passports,
};

describe('masks: TypeScript reference and DuckDB SQL agree', () => {
  for (const kind of MASK_KINDS) {
    it(`${kind}`, async () => {
      const values = fc.sample(fc.oneof({ weight: 4, arbitrary: GENERATORS[kind] }, { weight: 1, arbitrary: padded(GENERATORS[kind]) }, { weight: 1, arbitrary: junk }), { numRuns: 400, seed: 20261122 });
      const inSql = await maskInDuckDb(MASKS[kind], values);
      values.forEach((value, i) => expect(inSql[i], `${kind}(${JSON.stringify(value)})`).toBe(MASKS[kind].apply(value)));
    });
  }

  it('keep-first-last', async () => {
    const rule = keepFirstLast(2, 3);
    const values = fc.sample(junk, { numRuns: 300, seed: 7 });
    const inSql = await maskInDuckDb(rule, values);
    values.forEach((value, i) => expect(inSql[i]).toBe(rule.apply(value)));
  });
});

describe('masks: what they show', () => {
  it.each([
    ['resident_id', '11010519491231002X', '110105********002X'],
    ['resident_id', '11010519491231002x', '110105********002X'],
    ['resident_id', '150102880730303', '150102*****0303'],
    ['resident_id', '１１０１０５１９４９１２３１００２Ｘ', '110105********002X'],
    ['resident_id', '1101051949', FULLY_MASKED],
    ['mobile', '+8613812345678', '138****5678'],
    ['mobile', '138 1234-5678', '138****5678'],
    ['mobile', '12812345678', FULLY_MASKED],
    ['mobile', '139.1234.5678', '139****5678'],
    ['mobile', '13912345678.0', '139****5678'],
    ['name', '张三', '张*'],
    ['name', '欧阳娜娜', '欧阳**'],
    ['name', '欧阳', '欧*'],
    ['name', '阿卜杜·热合曼', '阿******'],
    ['name', 'Zhang San', FULLY_MASKED],
    ['bank_card', '6222021234567890123', '622202*********0123'],
    ['bank_card', '6222 0212 3456 7890', '622202******7890'],
    ['email', 'dev@126.com', 'd****@126.com'],
    ['plate', '苏D45670', '苏D4***0'],
    ['plate', '粤B12345D', '粤B1****D'],
    ['plate', '京AI2345', FULLY_MASKED],
    ['uscc', '91310110666007217T', '91310110**********'],
    ['address', '北京市海淀区中关村大街27号', '北京市海淀区********'],
    ['address', '中关村大街', FULLY_MASKED],
    ['address', '河北省石家庄市长安区建设路100号', '河北省石家庄市长安区*******'],
    ['address', '石家庄市长安区幸福小区', '石家庄市长安区****'],
    ['address', '阳光小区', FULLY_MASKED],
    ['address', '建设路100号幸福小区5栋301', FULLY_MASKED],
    ['address', '长安区小区3栋', '长安区****'],
    ['address', '河北省唐山市汉沽管理区1号', '河北省唐山市汉沽管理区**'],
    ['resident_id', '110105 19491231 002X', '110105********002X'],
    ['resident_id', '110105-19491231-002x', '110105********002X'],
    ['resident_id', '110105\u300019491231\u3000002X', '110105********002X'],
    ['email', 'zs@x.com，电话13812345678', FULLY_MASKED],
    ['fixed_line', '010-12345678', '010-******78'],
    ['passport', 'E12345678', 'E******78'],
  ] as const)('%s(%s) = %s', (kind, value, masked) => {
    expect(MASKS[kind].apply(value)).toBe(masked);
  });

  it('never returns the input for any generated value (nothing passes through)', () => {
    for (const kind of MASK_KINDS) {
      for (const value of fc.sample(GENERATORS[kind], { numRuns: 200, seed: 3 })) {
        if (value === null || value === '') continue;
        // An address that is only administrative names is already as coarse as the rule keeps.
        if (kind === 'address' && adminPrefix(trimText(value)) === trimText(value)) continue;
        expect(MASKS[kind].apply(value), `${kind}(${value})`).not.toBe(value.trim());
      }
    }
  });
});
