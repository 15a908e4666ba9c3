import {
  COMMON_SURNAMES, COMPOUND_SURNAMES, FIXED_LINE_PATTERN, isValidResidentId, isValidUscc, luhnValid, MOBILE_PATTERN, trimSql, trimText, upgradeResidentId,
} from './identifiers.js';
import { FULLY_MASKED, type MaskRule } from './masks.js';
import { sqlString } from './sql.js';

/**
 * Identifiers inside free text ("于健雄，电话17552802804，住…"): how recognition finds them, and the
 * `scrub` mask that stars them out. Pure.
 *
 * Every pattern is written once and compiled twice, for JavaScript (flag `u`) and for DuckDB's RE2:
 * the two agree on the regular expressions used here (character classes, bounded repetition,
 * leftmost-first alternation, no look-around, no back-reference) once the Han script is spelled
 * each engine's way. Whitespace is listed character by character, never `\s`, which the two
 * engines define differently.
 */

const SPACES = ' \t\n\r\f\v\u00a0\u3000\ufeff';
const CHINESE_PUNCTUATION = '，。；：、！？（）【】《》〈〉「」『』“”‘’…～';
/** What cannot be part of an e-mail address: spaces, Chinese punctuation, ASCII punctuation an address never holds, @. */
const EMAIL_STOP = `${SPACES}${CHINESE_PUNCTUATION},;:()[]<>"\\@`;
/** What ends a segment of text for the name guess: the above, ASCII punctuation, and the stars of an earlier step. */
const SEGMENT_END = `${SPACES}${CHINESE_PUNCTUATION},;:()[]<>"\\.!?'\`|/{}~*`;
/** Spaces and hyphens allowed inside a run of digits (138 1234-5678, 110105 19491231 002X). */
const DIGIT_SEPARATORS = ' \t\u00a0\u3000-\uff0d\u2010\u2011\u2013\u2014';

/** A character class of `chars`, escaped for both engines (in a class only \ ] [ ^ - are special). */
const charClass = (chars: string, negated = false): string => `[${negated ? '^' : ''}${chars.replace(/[\\\]\[^-]/g, (c) => `\\${c}`)}]`;

const DIGIT = '[0-9０-９]';
/** A run of 5 or more digits, spaces and hyphens allowed between them, with a resident ID's X. */
const DIGIT_RUN = `${DIGIT}(?:${charClass(DIGIT_SEPARATORS)}*${DIGIT}){4,}[XxＸｘ]?`;
/**
 * An @ between a local part (at most 64 characters, none of EMAIL_STOP: the ASCII symbols an
 * address may hold, such as ! # % & + / = ? ^ _ { | } ~, are part of it) and dotted domain labels.
 */
const EMAIL = `${charClass(EMAIL_STOP, true)}{1,64}@${charClass(`${EMAIL_STOP}.`, true)}+(?:\\.${charClass(`${EMAIL_STOP}.`, true)}+)+`;
const USCC_CHAR = '[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]';
const USCC = `${USCC_CHAR}{2}[0-9]{6}${USCC_CHAR}{10}`;
const PLATE_LETTER = 'A-HJ-NP-Za-hj-np-z';
const PLATE = `[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][${PLATE_LETTER}][0-9${PLATE_LETTER}]{4,6}[挂学警港澳]?`;
const PASSPORT = `[EGeg][0-9]{8}|[Ee][${PLATE_LETTER}][0-9]{7}`;

/** Labels after which a person's name follows (姓名：张三). */
const NAME_LABELS = ['姓名', '联系人', '户主', '法人', '申请人', '法定代表人', '负责人', '收件人', '收货人', '经办人', '监护人', '患者', '客户'];
const LABEL_SPACES = charClass(' \t\u00a0\u3000');

const SURNAME = `(?:${COMPOUND_SURNAMES.join('|')}|[${COMMON_SURNAMES.join('')}])`;

/** The Han script and a group in a replacement, as each engine writes them. */
type Dialect = { han: string; group: (n: number) => string; flags: string };
const JS: Dialect = { han: '\\p{Script=Han}', group: (n) => `$${n}`, flags: 'gu' };
const RE2: Dialect = { han: '\\p{Han}', group: (n) => `\\${n}`, flags: 'g' };

/** The scrub, in order: each step replaces every match left to right, and later steps see earlier stars. */
function scrubSteps(d: Dialect): { pattern: string; replacement: string; needs?: string }[] {
  const identifier = (pattern: string) => ({ pattern, replacement: FULLY_MASKED });
  // `needs`: the e-mail pattern backtracks on long text without an @, where it cannot match anyway.
  const email = { pattern: EMAIL, replacement: FULLY_MASKED, needs: '@' };
  // At the start of a segment, a common surname and one or two more Han characters, then the end of
  // the segment. A match takes the separators on both sides, so neighbours ("张三，李四，") are every
  // other match: the second pass takes the rest.
  const end = charClass(SEGMENT_END);
  const segmentName = { pattern: `(^|${end})${SURNAME}${d.han}{1,2}(${end}|$)`, replacement: `${d.group(1)}${FULLY_MASKED}${d.group(2)}` };
  return [
    // SECURITY: e-mails first, as their local part may hold digits or a name.
    email,
    identifier(USCC),
    identifier(PASSPORT),
    identifier(PLATE),
    // E-mails again: two written together share their boundary, so a pass takes every other one.
    email,
    // SECURITY: no run of 5 or more digits survives: mobiles, IDs, cards, fixed lines, QQ numbers, dates.
    identifier(DIGIT_RUN),
    { pattern: `((?:${NAME_LABELS.join('|')})${LABEL_SPACES}*[：:]${LABEL_SPACES}*)[${d.han}·]+`, replacement: `${d.group(1)}${FULLY_MASKED}` },
    segmentName,
    segmentName,
  ];
}

const JS_STEPS = scrubSteps(JS).map((step) => ({ ...step, pattern: new RegExp(step.pattern, JS.flags) }));
const RE2_STEPS = scrubSteps(RE2);

/**
 * `scrub` (a supervisor's `{kind: 'mask', rule: 'scrub'}` on free text): every run of 5 or more
 * digits (ASCII or full-width, spaces and hyphens inside), every e-mail, plate, passport number and
 * unified social credit code becomes `******`, and so does a name after a label (姓名：, 联系人:, …)
 * or a segment of 2–4 Han characters that starts with a common surname.
 *
 * Best effort for names: a name without a label that starts a longer segment, or with a rarer
 * surname, stays visible, and addresses are kept. That is why free text defaults to `hidden`;
 * scrub is a supervisor's choice, for text whose value outweighs what it may still show.
 */
export const scrub: MaskRule = {
  apply(value) {
    if (value === null) return null;
    let text = trimText(value);
    for (const { pattern, replacement, needs } of JS_STEPS) {
      if (needs === undefined || text.includes(needs)) text = text.replace(pattern, replacement);
    }
    return text;
  },
  prepare: trimSql,
  finish: (t) => RE2_STEPS.reduce((sql, { pattern, replacement }) => `regexp_replace(${sql}, ${sqlString(pattern)}, ${sqlString(replacement)}, 'g')`, t),
};

/** Kinds of identifier that recognition looks for inside text. */
export type EmbeddedKind = 'resident_id' | 'mobile' | 'bank_card' | 'fixed_line' | 'uscc' | 'email' | 'plate' | 'passport';

const FULL_WIDTH_DIGIT = /[０-９]/g;
const SEPARATOR = new RegExp(`${charClass(DIGIT_SEPARATORS)}+`);

/** What a group of digits is, if it is an identifier. Checksums where there are some: a run of digits is not an ID by length alone. */
function digitsKind(digits: string, today: string): EmbeddedKind | undefined {
  const compact = digits.replace(FULL_WIDTH_DIGIT, (c) => String.fromCharCode(c.charCodeAt(0) - 0xff10 + 0x30)).toUpperCase().replace(/[Ｘ]/g, 'X');
  if (compact.length === 18 && isValidResidentId(compact, today)) return 'resident_id';
  if (/^\d{15}$/.test(compact) && isValidResidentId(upgradeResidentId(compact)!, today)) return 'resident_id';
  if (MOBILE_PATTERN.test(compact)) return 'mobile';
  if (/^\d{16,19}$/.test(compact) && luhnValid(compact)) return 'bank_card';
  if (FIXED_LINE_PATTERN.test(compact)) return 'fixed_line';
  return undefined;
}

/**
 * The identifiers in a run of digits: the whole run, else the longest groups of consecutive
 * separated parts that are one (two mobiles written one after the other with a space between
 * make one run).
 */
function digitRunKinds(run: string, today: string): EmbeddedKind[] {
  const parts = run.split(SEPARATOR);
  const kinds: EmbeddedKind[] = [];
  for (let from = 0; from < parts.length; from++) {
    for (let to = parts.length; to > from; to--) {
      const kind = digitsKind(parts.slice(from, to).join(''), today);
      if (kind === undefined) continue;
      kinds.push(kind);
      from = to - 1;
      break;
    }
  }
  return kinds;
}

const FINDERS: { kinds: (match: string, today: string) => EmbeddedKind[]; pattern: RegExp; needs?: string }[] = [
  { kinds: () => ['email'], pattern: new RegExp(EMAIL, 'gu'), needs: '@' },
  { kinds: (code) => (isValidUscc(code) ? ['uscc'] : []), pattern: new RegExp(USCC, 'gu') },
  { kinds: () => ['passport'], pattern: new RegExp(PASSPORT, 'gu') },
  { kinds: (plate) => (/\d/.test(plate) ? ['plate'] : []), pattern: new RegExp(PLATE, 'gu') },
  { kinds: digitRunKinds, pattern: new RegExp(DIGIT_RUN, 'gu') },
];

/**
 * The identifiers inside a value, and whether it holds more than them (two or more letters or
 * digits besides). A value that is exactly one identifier (a mobile column) is not free text.
 */
export function findEmbeddedIdentifiers(value: string, today: string): { kinds: EmbeddedKind[]; otherText: boolean } {
  const kinds: EmbeddedKind[] = [];
  let rest = trimText(value);
  for (const { kinds: kindsOf, pattern, needs } of FINDERS) {
    if (needs !== undefined && !rest.includes(needs)) continue;
    rest = rest.replace(pattern, (match) => {
      const found = kindsOf(match, today);
      if (found.length === 0) return match;
      kinds.push(...found);
      return ' ';
    });
  }
  return { kinds, otherText: (rest.match(/[\p{L}\p{N}]/gu)?.length ?? 0) >= 2 };
}

/** Free text with identifiers in it: an identifier and other text, or several identifiers in one value. */
export function isFreeTextWithIdentifiers(value: string, today: string): boolean {
  const { kinds, otherText } = findEmbeddedIdentifiers(value, today);
  return kinds.length >= 2 || (kinds.length === 1 && otherText);
}
