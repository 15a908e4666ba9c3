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
 * Characters that change how text around them is shown rather than being text, with which a name,
 * a purpose or SQL in a manifest, a review or the audit would read differently from what it holds
 * ("Trojan Source"): C0 controls but tab, line feed and carriage return; DEL and the C1 controls
 * (U+0080–U+009F: U+009B starts a terminal escape); the bidirectional marks, embeddings, overrides
 * and isolates (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069); zero-width characters, word
 * joiners, invisible operators and the BOM (U+200B–U+200D, U+2060–U+2064, U+FEFF); and the line and
 * paragraph separators U+2028 and U+2029, which some viewers break lines at. Red-team passes 14b
 * and 17b found NUL, U+202E, U+009B and U+200F in purposes and comments, shown to recipients.
 */
export const DISPLAY_CONTROLS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u061C\u200B-\u200F\u2028-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/;
