/**
 * Cutting text without cutting a character: by UTF-8 bytes (audit's SQL at the gate's limit) and by
 * UTF-16 units (labels, engine messages). Property: the cut is a prefix, within the limit, valid
 * Unicode (no U+FFFD introduced, no lone surrogate), and as long as possible.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cutUnits, cutUtf8 } from '../../../core/text.js';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
const hasLoneSurrogate = (s: string) => /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);

describe('cutUtf8', () => {
  it('keeps whole CJK characters and emoji', () => {
    expect(cutUtf8('长安区', 7)).toBe('长安');
    expect(cutUtf8('长安区', 9)).toBe('长安区');
    expect(cutUtf8('a😀b', 4)).toBe('a');
    expect(cutUtf8('a😀b', 5)).toBe('a😀');
    expect(cutUtf8('𠀀x', 3)).toBe('');
    expect(cutUtf8('abc', 0)).toBe('');
  });

  it('gives the longest whole-character prefix within the limit, for any text', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme-composite', maxLength: 40 }), fc.nat(120), (text, limit) => {
      const cut = cutUtf8(text, limit);
      expect(text.startsWith(cut)).toBe(true);
      expect(bytes(cut)).toBeLessThanOrEqual(limit);
      expect(hasLoneSurrogate(cut)).toBe(false);
      if (cut !== text) {
        const nextChar = String.fromCodePoint(text.codePointAt(cut.length)!);
        expect(bytes(cut) + bytes(nextChar)).toBeGreaterThan(limit);
      }
    }));
  });
});

describe('cutUnits', () => {
  it('never ends on the first half of a surrogate pair', () => {
    expect(cutUnits('ab😀', 3)).toBe('ab');
    expect(cutUnits('ab😀', 4)).toBe('ab😀');
    expect(cutUnits('张三李四', 2)).toBe('张三');
    fc.assert(fc.property(fc.string({ unit: 'grapheme-composite', maxLength: 40 }), fc.nat(60), (text, limit) => {
      const cut = cutUnits(text, limit);
      expect(text.startsWith(cut)).toBe(true);
      expect(cut.length).toBeLessThanOrEqual(limit);
      expect(cut.length).toBeGreaterThanOrEqual(Math.min(limit, text.length) - 1);
      expect(hasLoneSurrogate(cut)).toBe(false);
    }));
  });
});
