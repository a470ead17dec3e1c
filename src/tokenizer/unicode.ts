/**
 * Unicode helpers with llama.cpp's semantics (src/unicode.cpp): per-codepoint category flags, the GPT-2
 * byte <-> unicode-char table, and UTF-8 helpers.
 *
 * The flags come from the JS engine's own Unicode tables (\p{..} regexes), computed lazily per code point.
 * llama.cpp generates its table from UnicodeData.txt; both map categories the same way, so they only differ
 * where the two Unicode versions differ (newly assigned code points).
 */

export const CPT_UNDEFINED = 0x0001;
export const CPT_NUMBER = 0x0002;
export const CPT_LETTER = 0x0004;
export const CPT_SEPARATOR = 0x0008;
export const CPT_MARK = 0x0010;
export const CPT_PUNCTUATION = 0x0020;
export const CPT_SYMBOL = 0x0040;
export const CPT_CONTROL = 0x0080;
export const CPT_WHITESPACE = 0x0100;

// llama.cpp's whitespace set (Unicode White_Space); JS \s differs (it also matches U+FEFF).
const WHITESPACE = [
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005,
  0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
];

const CATEGORY_TESTS: Array<[RegExp, number]> = [
  [/^\p{L}$/u, CPT_LETTER],
  [/^\p{N}$/u, CPT_NUMBER],
  [/^\p{P}$/u, CPT_PUNCTUATION],
  [/^\p{S}$/u, CPT_SYMBOL],
  [/^\p{M}$/u, CPT_MARK],
  [/^\p{Z}$/u, CPT_SEPARATOR],
  [/^\p{Cn}$/u, CPT_UNDEFINED],
  [/^\p{C}$/u, CPT_CONTROL],
];

/** 0 = not computed yet; every computed entry is non-zero because each code point has a category. */
const flagsCache = new Uint16Array(0x110000);
for (const cp of WHITESPACE) flagsCache[cp] = computeFlags(cp);

function computeFlags(cp: number): number {
  if (cp >= 0xd800 && cp <= 0xdfff) return CPT_CONTROL; // surrogates (Cs) cannot be tested as a string
  const s = String.fromCodePoint(cp);
  let flags = CPT_UNDEFINED;
  for (const [re, f] of CATEGORY_TESTS) {
    if (re.test(s)) {
      flags = f;
      break;
    }
  }
  if (WHITESPACE.includes(cp)) flags |= CPT_WHITESPACE;
  return flags;
}

/** Category flags of a code point, as llama.cpp's unicode_cpt_flags_from_cpt (never 0 for a valid cp). */
export function cptFlags(cp: number): number {
  const f = flagsCache[cp];
  if (f !== 0) return f;
  const computed = computeFlags(cp);
  flagsCache[cp] = computed;
  return computed;
}

/** GPT-2's byte -> printable char table (bytes_to_unicode), as single-char strings. */
export const BYTE_TO_CHAR: string[] = (() => {
  const table: string[] = new Array(256);
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let n = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCharCode(printable(b) ? b : 256 + n++);
  return table;
})();

/** Inverse of BYTE_TO_CHAR, indexed by char code (all of them are < 0x144); -1 = not a byte char. */
export const CHAR_TO_BYTE: Int16Array = (() => {
  const inv = new Int16Array(0x200).fill(-1);
  for (let b = 0; b < 256; b++) inv[BYTE_TO_CHAR[b].charCodeAt(0)] = b;
  return inv;
})();

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

export function utf8Encode(s: string): Uint8Array {
  return encoder.encode(s);
}

export function utf8Decode(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** UTF-8 byte length of a JS string (lone surrogates count as U+FFFD, 3 bytes). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** GPT-2 byte-level encoding of a word: each UTF-8 byte becomes its printable char. */
export function byteEncode(word: string): string {
  let ascii = true;
  for (let i = 0; i < word.length; i++) {
    if (word.charCodeAt(i) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    let out = "";
    for (let i = 0; i < word.length; i++) out += BYTE_TO_CHAR[word.charCodeAt(i)];
    return out;
  }
  const bytes = encoder.encode(word);
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += BYTE_TO_CHAR[bytes[i]];
  return out;
}

/** C isspace() on a UTF-16 unit (ASCII only), as used by llama.cpp's lstrip/rstrip of special tokens. */
export function isCSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}
