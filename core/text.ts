/**
 * Cutting text to a length without cutting a character in half. A limit in bytes counts UTF-8 (a
 * CJK character is three bytes, an emoji four); a limit in JavaScript string length counts UTF-16
 * units (an emoji or a CJK Extension B character is two). Cutting at a raw index splits such a
 * character, leaving a replacement character (U+FFFD) or a lone surrogate that JSON encoders and
 * databases treat differently.
 */

/** The longest prefix of `text` whose UTF-8 encoding is at most `maxBytes`, ending on a whole character. */
export function cutUtf8(text: string, maxBytes: number): string {
  // Fast path: every UTF-16 unit is at most 3 UTF-8 bytes.
  if (text.length * 3 <= maxBytes) return text;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = Math.max(0, maxBytes);
  // Back off continuation bytes (10xxxxxx) to the start of the character the limit falls in.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end).toString('utf8');
}

/** At most `maxUnits` UTF-16 units of `text`, never ending on the first half of a surrogate pair. */
export function cutUnits(text: string, maxUnits: number): string {
  if (text.length <= maxUnits) return text;
  const end = Math.max(0, maxUnits);
  const last = text.charCodeAt(end - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? end - 1 : end);
}

/**
 * Characters that change how text around them is shown, or show nothing, rather than being text,
 * with which a name, a purpose or SQL in a manifest, a review or the audit would read differently
 * from what it holds ("Trojan Source"): control characters but tab, line feed and carriage return
 * (C0, DEL, C1: U+009B starts a terminal escape); format characters (bidirectional marks,
 * embeddings, overrides and isolates, zero-width characters, the soft hyphen, tag characters,
 * interlinear annotations); the line and paragraph separators; and every default-ignorable code
 * point (variation selectors, Hangul fillers, the combining grapheme joiner), which renderers
 * draw as nothing. By Unicode property, not by a list of ranges: red-team pass 18b passed tag
 * characters, U+180E and U+3164 through the list this replaced (passes 14b and 17b had found NUL,
 * U+202E, U+009B and U+200F in purposes and comments, shown to recipients).
 */
export const DISPLAY_CONTROLS = /(?![\t\n\r])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/u;
