import {
  CHINESE_NAME_PATTERN, EMAIL_PATTERN, FIXED_LINE_PATTERN, isValidResidentId, isValidUscc, luhnValid, MOBILE_PATTERN,
  normalizeIdentifier, PASSPORT_PATTERN, PLATE_PATTERN, trimText, USCC_PATTERN,
} from './identifiers.js';
import type { MaskKind } from './masks.js';

/**
 * PII recognition for a column: from a sample of its values and its header, which kind of
 * identifier it holds and how sure we are. Format, checksum (resident ID, USCC, bank card) and the
 * header each contribute; a kind that fits few values and has no header hint is not reported.
 * Detectors are known for confident false positives, so the confidence is reported, not hidden.
 */
export interface Recognition {
  kind: MaskKind;
  /** 0–1. */
  confidence: number;
  /** Share of non-empty sampled values with the kind's format. */
  matchShare: number;
}

const HEADER_HINTS: Record<MaskKind, RegExp> = {
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
};

const ADDRESS_SHAPE = /[省市区县镇乡街道路号村]/u;
/** Place and organization names end like this; personal names do not. */
const NOT_A_PERSON = /[省市区县镇乡村街路号局院司厂所部处委会队站馆校行店]$/u;

type Check = (value: string, today: string) => { format: boolean; checksum?: boolean };

const CHECKS: Record<MaskKind, Check> = {
  resident_id: (v, today) => {
    const id = normalizeIdentifier(v);
    return { format: /^\d{17}[\dX]$/.test(id) || /^\d{15}$/.test(id), checksum: /^\d{15}$/.test(id) || isValidResidentId(id, today) };
  },
  mobile: (v) => ({ format: MOBILE_PATTERN.test(normalizeIdentifier(v).replace(/[\s-]/g, '')) }),
  fixed_line: (v) => ({ format: FIXED_LINE_PATTERN.test(normalizeIdentifier(v)) }),
  uscc: (v) => {
    const code = normalizeIdentifier(v).toUpperCase();
    return { format: USCC_PATTERN.test(code), checksum: isValidUscc(code) };
  },
  bank_card: (v) => {
    const digits = normalizeIdentifier(v).replace(/[\s-]/g, '');
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
};

/** Kinds whose format alone says little (any short Han string looks like a name). */
const WEAK_FORMATS = new Set<MaskKind>(['name', 'address']);

export function recognizeColumn(header: string, sample: readonly (string | null)[], today: string): Recognition | null {
  const values = sample.filter((v): v is string => v !== null && trimText(v) !== '');
  let best: Recognition | null = null;
  for (const kind of Object.keys(CHECKS) as MaskKind[]) {
    const hinted = HEADER_HINTS[kind].test(header);
    let formats = 0;
    let checksums = 0;
    let checksummed = false;
    for (const value of values) {
      const result = CHECKS[kind](value, today);
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
    if (confidence >= 0.5 && (!best || confidence > best.confidence)) best = { kind, confidence, matchShare: Math.round(matchShare * 100) / 100 };
  }
  return best;
}
