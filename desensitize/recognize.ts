import { isFreeTextWithIdentifiers } from './free-text.js';
import {
  CHINESE_NAME_PATTERN, compactIdentifier, EMAIL_PATTERN, FIXED_LINE_PATTERN, foldIdentifier, isBirthDate, isValidResidentId, isValidUscc, luhnValid, MOBILE_PATTERN, normalizeIdentifier,
  PASSPORT_PATTERN, PLATE_PATTERN, trimText, USCC_PATTERN, wholeNumberText,
} from './identifiers.js';
import { MASK_KINDS } from './masks.js';

/**
 * PII recognition for a column: from a sample of its values and its header, which kind of
 * identifier it holds and how sure we are. Format, checksum (resident ID, USCC, bank card) and the
 * header each contribute; a kind that fits few values and has no header hint is not reported.
 * Detectors are known for confident false positives, so the confidence is reported, not hidden.
 */
export const PII_KINDS = [...MASK_KINDS, 'birth_date', 'free_text', 'subject_id'] as const;
/**
 * What recognition reports: a kind with a mask of its own, an exact birth date, or free text holding
 * identifiers. `subject_id` is never recognized: it is a column a supervisor names as the entity each
 * row is about (an outpatient number, a case number) that recognition knows no format of.
 */
export type PiiKind = (typeof PII_KINDS)[number];

export interface Recognition {
  kind: PiiKind;
  /** 0–1. */
  confidence: number;
  /** Share of non-empty sampled values with the kind's format (free text: holding an identifier). */
  matchShare: number;
}

const HEADER_HINTS: Record<Exclude<PiiKind, 'subject_id'>, RegExp> = {
  resident_id: /身份证|证件号|公民身份|sfz|id_?card|idno|id_?number|shenfenzheng/i,
  mobile: /手机|移动电话|联系电话|mobile|cell|phone|sjh/i,
  fixed_line: /固定电话|座机|办公电话|telephone|landline|tel\b|gddh/i,
  uscc: /信用代码|社会信用|uscc|tyshxydm|credit_?code/i,
  bank_card: /银行卡|卡号|银行账号|账号|bank|card_?no|yhk/i,
  email: /邮箱|电子邮件|e-?mail|mail/i,
  name: /姓名|名字|法定代表人|法人|联系人|^xm$|name$|^name/i,
  address: /地址|住址|住所|户籍地|address|addr|^dz$/i,
  plate: /车牌|号牌|plate|hphm/i,
  passport: /护照|passport|hzhm/i,
  // Pinyin and short forms too: a birth-date column not recognized gave no witness to shared keys (red-team pass 30a).
  birth_date: /出生|生日|birth|(?:^|[^a-z])dob(?:[^a-z]|$)|csrq|csny|chusheng|shengri|bday|brth|born/i,
  free_text: /备注|说明|描述|内容|详情|情况|摘要|事由|留言|意见|remark|note|comment|desc|memo|content|text|detail|message/i,
};

const ADDRESS_SHAPE = /[省市区县镇乡街道路号村]/u;
/** Place and organization names end like this; personal names do not. */
const NOT_A_PERSON = /[省市区县镇乡村街路号局院司厂所部处委会队站馆校行店]$/u;

type Check = (value: string, today: string) => { format: boolean; checksum?: boolean };

const DECIMAL_FRACTION = /^[+-]?[0-9]+\.[0-9]+$/;
const CARD_SPACING = /[\s\p{Z}\p{Cf}\p{Pd}]/gu;

/** Kinds recognized value by value; free text is judged on the whole sample (recognizeFreeText). */
type ValueKind = Exclude<PiiKind, 'free_text' | 'subject_id'>;

const CHECKS: Record<ValueKind, Check> = {
  resident_id: (v, today) => {
    // SECURITY: separators removed first: `110105 19491231 002X` is an ID, not a 16–19 digit card.
    const id = compactIdentifier(v);
    return { format: /^\d{17}[\dX]$/.test(id) || /^\d{15}$/.test(id), checksum: /^\d{15}$/.test(id) || isValidResidentId(id, today) };
  },
  // SECURITY: compacted as entity keys are (`139.1234.5678`, `(139)12345678`, a zero-width space:
  // red-team pass 25a), but a decimal fraction (a coordinate, 18.123456789) is no mobile.
  mobile: (v) => ({ format: !DECIMAL_FRACTION.test(trimText(v)) && MOBILE_PATTERN.test(compactIdentifier(v)) }),
  fixed_line: (v) => ({ format: FIXED_LINE_PATTERN.test(normalizeIdentifier(v)) }),
  uscc: (v) => {
    const code = normalizeIdentifier(v).toUpperCase();
    return { format: USCC_PATTERN.test(code), checksum: isValidUscc(code) };
  },
  bank_card: (v) => {
    // Spaces, dashes and invisible characters of every kind go; dots and colons stay (a timestamp's
    // 17 digits would pass Luhn one time in ten).
    const digits = foldIdentifier(trimText(v)).replace(CARD_SPACING, '');
    return { format: /^\d{12,19}$/.test(digits), checksum: luhnValid(digits) };
  },
  email: (v) => ({ format: EMAIL_PATTERN.test(trimText(v)) }),
  name: (v) => {
    const text = trimText(v);
    return { format: CHINESE_NAME_PATTERN.test(text) && Array.from(text).length <= 6 && !NOT_A_PERSON.test(text) };
  },
  address: (v) => ({ format: Array.from(trimText(v)).length >= 6 && ADDRESS_SHAPE.test(v) }),
  plate: (v) => ({ format: PLATE_PATTERN.test(trimText(v).toUpperCase()) }),
  passport: (v) => ({ format: PASSPORT_PATTERN.test(normalizeIdentifier(v).toUpperCase()) }),
  birth_date: (v, today) => ({ format: isBirthDate(v, today) }),
};

/**
 * Under a passport's header, any country's passport number: 6 to 9 letters and digits, one digit at
 * least. Only China's E/G numbers were read, so a foreigner's ten mobiles beside one `TK…` number
 * merged into nothing and counted ten people (red-team pass 38a).
 */
function isPassportUnderHeader(value: string): boolean {
  const text = normalizeIdentifier(value).toUpperCase();
  return PASSPORT_PATTERN.test(text) || /^(?=[A-Z0-9]*[0-9])[A-Z0-9]{6,9}$/.test(text);
}

/** Kinds whose format alone says little (any short Han string looks like a name). */
const WEAK_FORMATS = new Set<PiiKind>(['name', 'address']);
/** Dates are everywhere (registrations, payments): only a header says that a date column is a birth date. */
const NEEDS_HINT = new Set<PiiKind>(['birth_date']);

/**
 * How hard a kind's check is to pass by chance, for breaking ties: a resident ID's (a real birth
 * date and MOD 11-2) beats a USCC's (MOD 31) beats Luhn (random digits pass 1 time in 10).
 */
const CHECK_STRENGTH: Partial<Record<PiiKind, number>> = { resident_id: 3, uscc: 2, bank_card: 1 };
const isBetter = (a: Recognition, b: Recognition | null): boolean =>
  !b || a.confidence > b.confidence || (a.confidence === b.confidence && (CHECK_STRENGTH[a.kind] ?? 0) > (CHECK_STRENGTH[b.kind] ?? 0));

/**
 * Free text holding identifiers: the share of values in which one is found, in longer text or
 * several together. Without a header hint, at least 1% of the sample, and two values once the
 * sample has 40 or more (one stray value does not decide a large sample): a notes column with a
 * phone number in one value of a hundred still leaks a thousand numbers in a hundred thousand rows.
 */
const FREE_TEXT_MIN_SHARE = 0.01;

function recognizeFreeText(header: string, values: readonly string[], today: string): Recognition | null {
  if (values.length === 0) return null;
  const hits = values.filter((value) => isFreeTextWithIdentifiers(value, today)).length;
  const hinted = HEADER_HINTS.free_text.test(header);
  const needed = hinted ? 1 : Math.max(Math.min(2, Math.ceil(values.length * 0.05)), Math.ceil(values.length * FREE_TEXT_MIN_SHARE));
  if (hits === 0 || hits < needed) return null;
  const matchShare = hits / values.length;
  const confidence = Math.min(1, 0.5 + matchShare + (hinted ? 0.2 : 0));
  return { kind: 'free_text', confidence: Math.round(confidence * 100) / 100, matchShare: Math.round(matchShare * 100) / 100 };
}

export function recognizeColumn(header: string, sample: readonly (string | null)[], today: string): Recognition | null {
  // Whole numbers are read as their digits: a DOUBLE column of mobiles prints `13912345678.0`, of
  // resident IDs `4.51002195610044e+17` (red-team passes 24a, 25a).
  const values = sample.filter((v): v is string => v !== null && trimText(v) !== '').map((v) => wholeNumberText(trimText(v)));
  let best: Recognition | null = null;
  for (const kind of Object.keys(CHECKS) as ValueKind[]) {
    const hinted = HEADER_HINTS[kind].test(header);
    if (NEEDS_HINT.has(kind) && !hinted) continue;
    let formats = 0;
    let checksums = 0;
    let checksummed = false;
    for (const value of values) {
      const result = kind === 'passport' && hinted ? { format: isPassportUnderHeader(value) } : CHECKS[kind](value, today);
      if (result.format) formats += 1;
      if (result.checksum !== undefined) {
        checksummed = true;
        if (result.format && result.checksum) checksums += 1;
      }
    }
    const matchShare = values.length === 0 ? 0 : formats / values.length;
    if (matchShare < 0.5 && !(hinted && matchShare > 0)) continue;
    // A handful of values repeated (industries, categories) is a category, not people or places.
    if (WEAK_FORMATS.has(kind) && !hinted && values.length >= 50 && new Set(values).size / values.length < 0.2) continue;
    let confidence = checksummed ? 0.5 * matchShare + 0.5 * (values.length === 0 ? 0 : checksums / values.length) : matchShare;
    if (WEAK_FORMATS.has(kind) && !hinted) confidence = Math.min(confidence, 0.6);
    if (hinted) confidence = Math.min(1, confidence + 0.2);
    confidence = Math.round(confidence * 100) / 100;
    const candidate: Recognition = { kind, confidence, matchShare: Math.round(matchShare * 100) / 100 };
    if (confidence >= 0.5 && isBetter(candidate, best)) best = candidate;
  }
  // SECURITY: names and addresses found in text that also holds mobiles, IDs or e-mails are free
  // text: its default is hidden, where a name or address mask would keep a part. A column of
  // another kind keeps it: that kind's mask fails closed on the values it does not fit.
  const freeText = recognizeFreeText(header, values, today);
  if (freeText && (best === null || WEAK_FORMATS.has(best.kind))) return freeText;
  return best;
}
