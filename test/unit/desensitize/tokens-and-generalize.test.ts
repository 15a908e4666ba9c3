/**
 * Tokens and generalizations: the DuckDB form of each rule agrees with its TypeScript reference on
 * generated values (valid, malformed, NULL); tokens join within a tenant and not across tenants.
 */
import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  entityKeyRule, entityNormalization, idBirthYear, idGender, idRegionPrefix, residentIdCheckChar, toAgeBand, usccCheckChar, toBucket, toMonth, toRegionPrefix, tokenize, tokenRule, toYear,
  type GeneralizeRule, type SqlRule, type TokenNormalization,
} from '../../../desensitize/index.js';
import { openSqlColumnEvaluator, type SqlColumnEvaluator } from '../../helpers/sql-column.js';

let evaluator: SqlColumnEvaluator;
beforeAll(async () => {
  evaluator = await openSqlColumnEvaluator();
});
afterAll(() => evaluator.close());

const inDuckDb = (rule: SqlRule, values: (string | null)[]) => evaluator.evaluateRule(rule, values);

const digits = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: n, maxLength: n });
const fullWidth = (s: string) => s.replace(/[0-9]/g, (d) => String.fromCharCode(d.charCodeAt(0) + 0xff10 - 0x30));
const ids = fc.oneof(
  digits(17).map((d) => d + residentIdCheckChar(d)),
  digits(15),
  digits(17).map((d) => `${d}x`),
  digits(17).map((d) => `\u3000${fullWidth(d)}ｘ `),
  digits(15).map((d) => `\t${d}\u00a0`),
  // Grouped as people write them.
  fc.tuple(digits(17), fc.constantFrom(' ', '-', '\u3000', '－', ' - ')).map(([d, sep]) => {
    const id = d + residentIdCheckChar(d);
    return [id.slice(0, 6), id.slice(6, 14), id.slice(14)].join(sep);
  }),
  fc.string({ maxLength: 20 }),
  fc.constant(null),
);
const dates = fc.oneof(
  fc.date({ min: new Date('1900-01-01'), max: new Date('2030-12-31'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
  fc.constantFrom('2024-02-29', '2023-02-29', '2026-13-01', '1990-1-5', '', '2026-11-22T08:00:00', 'not a date'),
  // Birth dates as they are often stored: YYYYMMDD (text or integer) and YYYY/MM/DD; years before 1000.
  fc.date({ min: new Date('1900-01-01'), max: new Date('2030-12-31'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10).replaceAll('-', '')),
  fc.date({ min: new Date('1900-01-01'), max: new Date('2030-12-31'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10).replaceAll('-', '/')),
  fc.constantFrom('19900229', '20000229', '1990/02/30', '00000101', '0999-01-01', '199003121', '2024-0115'),
  // As Excel (zh-CN) and people write them (red-team pass 25a): one-digit months and days, dots, 年月日.
  fc.tuple(fc.date({ min: new Date('1900-01-01'), max: new Date('2030-12-31'), noInvalidDate: true }), fc.constantFrom('/', '.', '-', '年'))
    .map(([d, sep]) => `${d.getUTCFullYear()}${sep}${d.getUTCMonth() + 1}${sep === '年' ? '月' : sep}${d.getUTCDate()}${sep === '年' ? '日' : ''}`),
  fc.constantFrom('1961/3/4', '1961年3月4日', '1961年12月31', '1961.03.04 08:00', '1961-3/4', '1961/2/30', '1961/3/45', '1961/3', '1961年13月1日'),
  // The year last (red-team pass 26a): M/D/YYYY, else D/M/YYYY.
  fc.tuple(fc.date({ min: new Date('1900-01-01'), max: new Date('2030-12-31'), noInvalidDate: true }), fc.constantFrom('/', '.', '-'), fc.boolean())
    .map(([d, sep, dayFirst]) => {
      const [m, day] = [d.getUTCMonth() + 1, d.getUTCDate()];
      return `${dayFirst ? day : m}${sep}${dayFirst ? m : day}${sep}${d.getUTCFullYear()}`;
    }),
  fc.constantFrom('3/4/1961', '3/4/1961 12:00:00 AM', '04/03/1961', '13/4/1961', '2/30/1961', '30/2/1961', '12/31/1961', '3/4/19612', '3/4/61'),
  fc.constant(null),
);
const numbers = fc.oneof(fc.integer({ min: -1e6, max: 1e6 }).map(String), fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((d) => String(Math.round(d * 100) / 100)), fc.constantFrom('', 'abc', '1e3'), fc.constant(null));
const regions = fc.oneof(digits(6), digits(4), fc.constantFrom('１１０１０５', '110105abc', ' 110105\u3000'), fc.constant(null));

describe('tokens', () => {
  const key = randomBytes(32);
  // Mobiles as people write them: prefixes, separators, full-width digits.
  const mobiles = fc.tuple(fc.constantFrom('', '+86', '0086', '86', '+86 ', '+86-'), fc.constantFrom('3', '5', '8', '9'), digits(9), fc.constantFrom('', ' ', '-'))
    .map(([prefix, second, rest, sep]) => `${prefix}1${second}${rest.slice(0, 1)}${sep}${rest.slice(1, 5)}${sep}${rest.slice(5)}`);
  // Identifiers as number columns and spreadsheets print them (red-team passes 25a, 25b): a fraction
  // of zeros, e-notation of every size (an 18-digit DOUBLE), and look-alikes that are no numbers.
  const asNumbers = fc.oneof(
    digits(11).map((d) => `1${d.slice(1)}.0`),
    digits(11).map((d) => `1${d.slice(1)}.00`),
    fc.double({ min: 1e9, max: 1e35, noNaN: true }).map((d) => Math.round(d).toExponential()),
    fc.double({ min: 1e9, max: 1e20, noNaN: true }).map((d) => Math.round(d).toExponential().toUpperCase().replace('+', '')),
    fc.constantFrom('2023E01', '1e+21', '1E+40', '1.5e3', '1.25e1', '-4.5e+2', '1e400', '1.0e+10', '+8.613912345678e+12', '１.３９E+10'),
    // Padded, or after a country prefix (red-team pass 26a); a newline before the number.
    fc.constantFrom('13912345678.0 ', '\t13912345678.00', '\u00a013912345678.0', '+86 13912345678.0', '0086 1.3912345678E+10 ', 'a\nb1.5e+3', 'v2.0', '192.168.0.0'),
  );
  // E-mail addresses as mail clients and forms copy them (red-team pass 28a), and look-alikes.
  const emails = fc.tuple(
    fc.constantFrom('tian.lan61', 'Li_Wei+news', '12345678', 'ｚｈａｎｇ', 'a', 'none', '"tian"', 'tian lan'),
    fc.constantFrom('@163.com', '@QQ.com', ' @ 163.com', '＠163．com', '@none.com', '@x.cn', '@', '@163'),
    fc.constantFrom('', 'mailto:', '田岚 <', '<', '"', '\u200b'),
    fc.constantFrom('', '>', ';', ',', '.', ' (work)', '\u3000'),
  ).map(([local, domain, before, after]) => `${before}${local}${domain}${after}`);
  for (const how of ['identifier', 'resident_id', 'text', 'compact', 'mobile', 'email'] as TokenNormalization[]) {
    it(`agree between TypeScript and DuckDB (${how})`, async () => {
      const values = fc.sample(fc.oneof(ids, mobiles, mobiles.map(fullWidth), asNumbers, emails, fc.string({ unit: 'binary', maxLength: 12 })), { numRuns: 300, seed: 11 });
      const sql = await inDuckDb(tokenRule(key, how), values);
      values.forEach((v, i) => expect(sql[i], JSON.stringify(v)).toBe(tokenize(v, key, how)));
    });
  }

  it('is a keyed HMAC: the same person joins within a tenant, across spellings, and not across tenants', () => {
    const tenantA = randomBytes(32);
    const tenantB = randomBytes(32);
    const id = '150102198807303035';
    expect(tokenize(id, tenantA, 'resident_id')).toBe(createHmac('sha256', tenantA).update(id).digest('hex').slice(0, 32));
    expect(tokenize('150102880730303', tenantA, 'resident_id')).toBe(tokenize(id, tenantA, 'resident_id'));
    expect(tokenize(' １５０１０２１９８８０７３０３０３５ ', tenantA, 'resident_id')).toBe(tokenize(id, tenantA, 'resident_id'));
    expect(tokenize('150102 19880730 3035', tenantA, 'resident_id')).toBe(tokenize(id, tenantA, 'resident_id'));
    expect(tokenize('150102-19880730-3035', tenantA, 'resident_id')).toBe(tokenize(id, tenantA, 'resident_id'));
    expect(tokenize(id, tenantB, 'resident_id')).not.toBe(tokenize(id, tenantA, 'resident_id'));
  });

  it('counts one person once however their identifier is written (entityNormalization, red-team pass 22a)', () => {
    const key = randomBytes(32);
    const one = (kind: string, spellings: string[]) => new Set(spellings.map((v) => tokenize(v, key, entityNormalization(kind)))).size;
    expect(one('mobile', ['13912345678', '+86 139 1234 5678', '0086-139-1234-5678', '8613912345678', '１３９１２３４５６７８', '139-1234-5678'])).toBe(1);
    // As number columns and spreadsheets print it, and in numerals people write (passes 25a, 25b).
    expect(one('mobile', ['13912345678', '13912345678.0', '13912345678.00', '1.3912345678E+10', '1.3912345678e10', '139.1234.5678', '(139)12345678', '壹參玖壹貳參肆伍陸柒捌', '〡〣〩〡〢〣〤〥〦〧〨'])).toBe(1);
    expect(one('mobile', ['13912345678', '13912345678.0 ', '\t13912345678.00', '+86 13912345678.0', '0086 1.3912345678E+10 '])).toBe(1);
    expect(one('resident_id', ['150102198807303035', '150102 19880730 3035', '150102880730303'])).toBe(1);
    expect(one('bank_card', ['6222021234567890123', '6222 0212 3456 7890 123', '6222-0212-3456-7890-123'])).toBe(1);
    expect(one('uscc', ['91350100M000100Y43', '91350100m000100y43', '9135 0100 M000 100Y43'])).toBe(1);
    const address = 'tian.lan61@163.com';
    expect(one('email', [address, `mailto:${address}`, `<${address}>`, `田岚 <${address}>`, `${address};`, 'tian.lan61 @163.com', `${address}.`, `tian.lan61\u200b@163.com`, `"tian.lan61"@163.com`, `${address} (work)`, 'ＴＩＡＮ．ＬＡＮ６１＠１６３．ＣＯＭ',
      // Chinese punctuation around it (pass 29a), a +tag sub-address.
      `${address}，`, `${address}、`, `【${address}】`, `“${address}”`, `《${address}》`, `${address}（私人）`, `田岚＜${address}＞`, `邮箱：${address}`, 'tian.lan61@163。com', 'tian.lan61+news@163.com'])).toBe(1);
    expect(one('email', ['tianlan61@gmail.com', 'tian.lan61@gmail.com', 't.i.a.n.lan61+x@googlemail.com', 'TIANLAN61@GMAIL.COM'])).toBe(1);
    expect(one('email', ['tian.lan61@163.com', 'tianlan61@163.com'])).toBe(2);
    // An address stands whole: not the ASCII tail of a word in another script (pass 30a).
    expect(['andré.martin@free.fr', 'rené.martin@free.fr', 'müller.hans@web.de', '田岚tian@163.com', 'tian@163.comé'].map((v) => entityKeyRule(key, 'email').apply(v))).toEqual([null, null, null, null, null]);
    // Another number stays another person; 86 is a prefix only before a full mobile number.
    expect(one('mobile', ['13912345678', '13912345679'])).toBe(2);
    expect(one('mobile', ['86139123456', '139123456'])).toBe(2);
  });

  it('gives no entity key to a value that is no identifier, alike in TypeScript and DuckDB (red-team passes 26b, 27a)', async () => {
    const placeholders = ['未登记', '无', 'NULL', 'N/A', '0', '000000000000000000', '13800000000', '18888888888', '111111111111111111', '100000000000000000', '110101199002300011', '-',
      // Pass 28a: the old 15-digit form (no check character to prove it), GB 11643's examples, a
      // province's or city's code in place of a county's; dummy mobiles of runs and repeats.
      '111111111111111', '121212121212121', '110110110110110', '110105491231002', '11010519491231002X', '440524188001010014', '330000000101000', '110100198807303030',
      '13800138000', '13912345678', '13987654321', '13800000001', '13123456789', '13988889999'];
    const mailPlaceholders = ['none@none.com', 'noemail@qq.com', 'null@null.com', 'test@test.com', 'a@a.com', '1@1.com', 'xx@xx.com', 'no@email.com', '000@000.com', '123@qq.com', 'wu@wu.com', 'na@na.com', 'li@example.com', 'tian@x.com', '@163.com', 'tian@',
      '无（none@none.com）', '123456@qq.com', '987654321@qq.com', '12345@qq.com', 'josé@163.com'];
    const values = [...placeholders, ...mailPlaceholders, ...fc.sample(fc.oneof(ids, mobiles, asNumbers, emails), { numRuns: 200, seed: 13 })];
    for (const how of ['resident_id', 'mobile', 'compact', 'identifier', 'email'] as TokenNormalization[]) {
      const sql = await inDuckDb(entityKeyRule(key, how), values);
      values.forEach((v, i) => expect(sql[i], `${how}(${JSON.stringify(v)})`).toBe(entityKeyRule(key, how).apply(v)));
    }
    for (const how of ['resident_id', 'mobile'] as TokenNormalization[]) expect(placeholders.map((v) => entityKeyRule(key, how).apply(v))).toEqual(placeholders.map(() => null));
    expect(mailPlaceholders.map((v) => entityKeyRule(key, 'email').apply(v))).toEqual(mailPlaceholders.map(() => null));
    // Real identifiers stay keys: a 15-digit ID, mobiles, addresses (a QQ number's too).
    // 441900: 东莞, a city without counties; 810000: a Hong Kong resident's residence permit (pass 39a).
    const dongguan = '44190019880730303';
    const hongKong = '81000019850612012';
    for (const [how, value] of [['resident_id', '150102880730303'], ['resident_id', dongguan + residentIdCheckChar(dongguan)], ['resident_id', hongKong + residentIdCheckChar(hongKong)], ['mobile', '13912345679'], ['mobile', '13800138001'], ['email', 'tian.lan61@163.com'], ['email', '31415926@qq.com']] as const) {
      expect(entityKeyRule(key, how).apply(value), value).not.toBeNull();
    }
    const id = '150102198807303035';
    expect(entityKeyRule(key, 'resident_id').apply(`${id.slice(0, 6)} ${id.slice(6)}`)).toBe(tokenize(id, key, 'resident_id'));
    expect(entityKeyRule(key, 'resident_id').apply('150102198807303036')).toBeNull();
    expect(entityKeyRule(key, 'mobile').apply('+86 139-2468-1357')).toBe(tokenize('13924681357', key, 'mobile'));
  });

  it('keys a credit code only with its check character, and no credit code, passport or bank card number of two characters repeated, alike in TypeScript and DuckDB (red-team pass 31a)', async () => {
    const key = randomBytes(32);
    const codes = ['91350100M000100Y4', '12100000400000624', '92440300MA5F8RLK1', '9111010871019233X'].map((first17) => first17 + usccCheckChar(first17));
    const wrongCheck = codes.map((code) => code.slice(0, 17) + (code[17] === '0' ? '1' : '0'));
    // Pass 32a: codes of a run, or of an organization code of zeros, with correct check characters.
    const placeholders = ['111111111111111111', '999999999999999999', '911111111111111111', '919191919191919191', '0', '无', 'E11111111', '6666666666666666666', '6262626262626262',
      '123456789012345678', '91110000000000000E', ...['91110108', '9111010812345678'].map((first) => first.padEnd(17, '0')).map((first17) => first17 + usccCheckChar(first17))];
    const documents = { placeholders: ['E11111111', '6666666666666666666', '6262626262626262', '0', 'E12345678', 'G87654321', '6789 0123 4567 8901'], real: ['E58203917', '6222021234567890123'] };
    const values = [...codes, ...codes.map((code) => code.toLowerCase()), ...codes.map((code) => `${code.slice(0, 9)} ${code.slice(9)}`), ...wrongCheck, ...placeholders, ...documents.placeholders, ...documents.real];
    for (const how of ['uscc', 'document'] as TokenNormalization[]) {
      const sql = await inDuckDb(entityKeyRule(key, how), values);
      values.forEach((v, i) => expect(sql[i], `${how}(${JSON.stringify(v)})`).toBe(entityKeyRule(key, how).apply(v)));
    }
    expect(entityNormalization('uscc')).toBe('uscc');
    expect(['passport', 'bank_card'].map(entityNormalization)).toEqual(['document', 'document']);
    const uscc = (v: string) => entityKeyRule(key, 'uscc').apply(v);
    expect(codes.map(uscc).every((k) => k !== null)).toBe(true);
    // One enterprise however its code is written; a wrong check character or a placeholder is no key.
    expect(new Set([...codes.slice(0, 1), codes[0]!.toLowerCase(), `${codes[0]!.slice(0, 9)} ${codes[0]!.slice(9)}`].map(uscc)).size).toBe(1);
    expect([...wrongCheck, ...placeholders].map(uscc)).toEqual([...wrongCheck, ...placeholders].map(() => null));
    const document = (v: string) => entityKeyRule(key, 'document').apply(v);
    expect(documents.placeholders.map(document)).toEqual(documents.placeholders.map(() => null));
    expect(documents.real.map(document).every((k) => k !== null)).toBe(true);
  });

  it('handles keys longer than the HMAC block', async () => {
    const long = randomBytes(100);
    const [sql] = await inDuckDb(tokenRule(long, 'text'), ['x']);
    expect(sql).toBe(createHmac('sha256', long).update('x').digest('hex').slice(0, 32));
  });
});

describe('generalizations agree between TypeScript and DuckDB', () => {
  const cases: [string, GeneralizeRule, fc.Arbitrary<string | null>][] = [
    ['year', toYear, dates],
    ['month', toMonth, dates],
    ['age band', toAgeBand('2026-11-22'), dates],
    ['age band of 5', toAgeBand('2026-02-28', 5), dates],
    ['bucket of 1000', toBucket(1000), numbers],
    ['bucket of 0.5', toBucket(0.5), numbers],
    ['region prefix 2', toRegionPrefix(2), regions],
    ['region prefix 4', toRegionPrefix(4), regions],
    ['birth year from ID', idBirthYear, ids],
    ['gender from ID', idGender, ids],
    ['region from ID', idRegionPrefix(4), ids],
  ];
  for (const [label, rule, values] of cases) {
    it(label, async () => {
      const sample = fc.sample(values, { numRuns: 200, seed: 5 });
      const sql = await inDuckDb(rule, sample);
      sample.forEach((v, i) => {
        const expected = rule.apply(v);
        const actual = sql[i];
        expect(typeof actual === 'number' || typeof expected === 'number' ? Number(actual ?? Number.NaN) : actual, `${label}(${JSON.stringify(v)})`)
          .toEqual(typeof expected === 'number' ? expected : expected ?? null);
      });
    });
  }

  it('gives the expected values', () => {
    expect(toAgeBand('2026-11-22').apply('1990-11-23')).toBe('30-39');
    expect(toAgeBand('2026-11-22').apply('1996-11-22')).toBe('30-39');
    expect(toAgeBand('2026-11-22').apply('1996-11-23')).toBe('20-29');
    expect(toYear.apply('2023-02-29')).toBeNull();
    expect(toRegionPrefix(2).apply('130102')).toBe('130000');
    expect(idGender.apply('11010519491231002X')).toBe('F');
    expect(idBirthYear.apply('11010519491231002X')).toBe(1949);
    expect(idBirthYear.apply('110105 19491231 002X')).toBe(1949);
    expect(toYear.apply('19900312')).toBe(1990);
    expect(toYear.apply('1990/03/12')).toBe(1990);
    expect(toYear.apply(19900312)).toBe(1990);
    expect(toYear.apply('19900230')).toBeNull();
    expect(['1961/3/4', '1961年3月4日', '1961.03.04', '1961-3-4 08:00'].map((v) => toMonth.apply(v))).toEqual(['1961-03', '1961-03', '1961-03', '1961-03']);
    expect(toYear.apply('1961/2/30')).toBeNull();
    expect(['3/4/1961', '3/4/1961 12:00:00 AM', '13/4/1961', '04.13.1961'].map((v) => toMonth.apply(v))).toEqual(['1961-03', '1961-03', '1961-04', '1961-04']);
  });
});
