/**
 * Free text holding identifiers: the `scrub` mask's TypeScript reference and DuckDB SQL agree on
 * generated notes (names, grouped mobiles and IDs, full-width digits, e-mails, plates, passports,
 * credit codes, labels, punctuation, junk); what it leaves has no run of 5 or more digits and no
 * e-mail address; and recognition tells notes with identifiers from values that are one identifier.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMON_SURNAMES, findEmbeddedIdentifiers, isFreeTextWithIdentifiers, luhnCheckDigit, residentIdCheckChar, scrub } from '../../../desensitize/index.js';
import { openSqlColumnEvaluator, type SqlColumnEvaluator } from '../../helpers/sql-column.js';

const TODAY = '2026-11-22';

let sql: SqlColumnEvaluator;
beforeAll(async () => {
  sql = await openSqlColumnEvaluator();
});
afterAll(() => sql.close());

const digits = (n: number, max = n) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: n, maxLength: max });
const fullWidth = (s: string) => s.replace(/[0-9]/g, (d) => String.fromCharCode(d.charCodeAt(0) + 0xff10 - 0x30));
const han = fc.integer({ min: 0x4e00, max: 0x9fa5 }).map((c) => String.fromCodePoint(c));
const hanText = (min: number, max: number) => fc.array(han, { minLength: min, maxLength: max }).map((cs) => cs.join(''));
const separator = fc.constantFrom('', ' ', '-', '\u3000', ' - ', '－');

/** Pieces a note about a person is made of: identifiers as people write them, and what surrounds them. */
const mobile = fc.tuple(fc.constantFrom('138', '175', '199', '+86 138'), digits(8), separator).map(([a, b, s]) => `${a}${s}${b.slice(0, 4)}${s}${b.slice(4)}`);
const residentId = fc.tuple(digits(17), separator).map(([d, s]) => {
  const id = d + residentIdCheckChar(d);
  return [id.slice(0, 6), id.slice(6, 14), id.slice(14)].join(s);
});
const card = digits(15).map((d) => `62${d}${luhnCheckDigit(`62${d}`)}`);
const name = fc.tuple(fc.constantFrom(...COMMON_SURNAMES, '欧阳', '司马'), hanText(1, 2)).map(([s, g]) => s + g);
const piece = fc.oneof(
  mobile, residentId, card, name, fc.emailAddress(), mobile.map(fullWidth), residentId.map(fullWidth),
  fc.constantFrom('京A12345', '粤B1234D', '沪AD12345', 'E12345678', 'EA1234567', 'G12345678', '91310110666007217T', '0311-86012345', '010 12345678'),
  fc.constantFrom('姓名：', '联系人:', '户主：', '法人 ：', '申请人:', '电话', '住', '邮箱', '身份证', '金额', '共3人', '备注'),
  hanText(1, 8), digits(1, 4), digits(5),
  fc.constantFrom('，', '。', '、', '；', ' ', ',', ':', '（', '）', '\n', '*'),
);
const note = fc.array(piece, { minLength: 1, maxLength: 10 }).map((pieces) => pieces.join(''));
const junk = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 20 }), fc.constant(null), fc.constant(''));

/** A run of five digits, spaces and hyphens allowed between them: what scrub must never leave. */
const DIGIT_RUN = /[0-9０-９](?:[ \t\u00a0\u3000\-－‐‑–—]*[0-9０-９]){4,}/u;
const EMAIL_LEFT = /[^\s@]@[^\s@]+\.[^\s@]/u;

describe('scrub', () => {
  it('has a TypeScript reference and a DuckDB SQL form that agree', async () => {
    const values = fc.sample(fc.oneof({ weight: 5, arbitrary: note }, { weight: 1, arbitrary: junk }), { numRuns: 600, seed: 20261122 });
    const inSql = await sql.evaluateRule(scrub, values);
    values.forEach((value, i) => expect(inSql[i], JSON.stringify(value)).toBe(scrub.apply(value)));
  });

  it('leaves no run of 5 or more digits and no e-mail address in any generated note', () => {
    for (const value of fc.sample(note, { numRuns: 2000, seed: 9 })) {
      const scrubbed = scrub.apply(value)!;
      expect(scrubbed, value).not.toMatch(DIGIT_RUN);
      expect(scrubbed, value).not.toMatch(EMAIL_LEFT);
    }
  });

  it.each([
    ['于健雄，电话17552802804，住河北省石家庄市长安区建设路100号', '******，电话******，住河北省石家庄市长安区建设路100号'],
    ['姓名：张三，身份证110105 19491231 002X', '姓名：******，身份证******'],
    ['联系人: 欧阳娜娜 手机 138-1234-5678', '联系人: ****** 手机 ******'],
    ['王五，赵六，钱七', '******，******，******'],
    ['车牌京A12345，护照E12345678，代码91310110666007217T', '车牌******，护照******，代码******'],
    ['邮箱 zhang.san+1@qq.com；电话０３１１－８６０１２３４５', '邮箱 ******；电话******'],
    ['共3人，金额1200元', '共3人，金额1200元'],
  ])('scrub(%s) = %s', (value, scrubbed) => {
    expect(scrub.apply(value)).toBe(scrubbed);
  });
});

describe('findEmbeddedIdentifiers', () => {
  it('finds identifiers inside text, by format and check', () => {
    expect(findEmbeddedIdentifiers('于健雄，电话17552802804，住河北省石家庄市长安区建设路100号', TODAY)).toEqual({ kinds: ['mobile'], otherText: true });
    expect(findEmbeddedIdentifiers('身份证 110105-19491231-002X 邮箱a@b.cn', TODAY).kinds.sort()).toEqual(['email', 'resident_id']);
    expect(findEmbeddedIdentifiers('车京A12345 卡6222021234567890128', TODAY).kinds.sort()).toEqual(['bank_card', 'plate']);
  });

  it('does not call ordinary numbers identifiers (postcodes, amounts, dates, wrong check characters)', () => {
    expect(findEmbeddedIdentifiers('邮编050000，金额12345.67元，日期2024-01-15', TODAY).kinds).toEqual([]);
    expect(findEmbeddedIdentifiers('编号110105194912310021', TODAY).kinds).toEqual([]);
  });

  it('takes a value that is one identifier for that identifier, not for free text', () => {
    for (const value of ['13812345678', '+86 138 1234 5678', '110105 19491231 002X', 'dev@126.com', '京A12345']) {
      expect(isFreeTextWithIdentifiers(value, TODAY), value).toBe(false);
    }
    expect(isFreeTextWithIdentifiers('13812345678 13987654321', TODAY)).toBe(true);
    expect(isFreeTextWithIdentifiers('张三13812345678', TODAY)).toBe(true);
  });
});
