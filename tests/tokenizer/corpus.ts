/**
 * Seeded generator of tokenizer stress text: many scripts, code, emoji, whitespace runs, digits, contractions,
 * special-token look-alikes. Shared by tests/tokenizer/oracle.test.ts and bench/tokenizer.ts.
 */

import { rng } from "../helpers/rng.js";

export { rng };

const GERMAN = [
  "Größenmaßstäbe", "Über die Brücke fährt ein Lkw.", "Straße", "Äpfel, Öl und Übermut", "Donaudampfschifffahrtsgesellschaft",
  "Die Bürger*innen sagten: „Nein!“", "weiß", "Fußgängerübergänge", "ÄÖÜäöüß", "Grüß Gott, wie geht’s?",
];
const MANDARIN = ["你好，世界！", "我们今天去北京。", "机器学习和自然语言处理", "这是一个测试：一二三。", "龍飛鳳舞", "《红楼梦》", "中文字符"];
const ARABIC = ["مرحبا بالعالم", "اللُّغَةُ العَرَبِيَّة", "٣٤٥ كتاب", "السلام عليكم ورحمة الله", "كَتَبَ"];
const OTHER = [
  "Привет, мир!", "Ελληνικά γράμματα", "こんにちは世界", "カタカナとひらがな", "안녕하세요 세계", "नमस्ते दुनिया", "हिन्दी भाषा",
  "ภาษาไทย", "עברית", "Tiếng Việt có dấu", "ﬁ ligature", "Ｆｕｌｌｗｉｄｔｈ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕞𝕒𝕥𝕙", "e\u0301 combining", "Å Å",
];
const CODE = [
  "def f(x):\n    return x ** 2\n", "const add = (a, b) => a + b;", "fn main() {\n    println!(\"{}\", 42);\n}",
  "#include <vector>\nint main() { std::vector<int> v{1,2,3}; return v[0]; }", "SELECT id, name FROM users WHERE age >= 18;",
  "<div class=\"x\">&nbsp;</div>", "if (a != b && c <= d) { x += 1; }", "for i in range(10):\n\tprint(i)", "func (s *S) Get() error { return nil }",
  "x = {'key': [1, 2.5, -3e10], \"k2\": None}", "    indented\n        more\n", "// comment /* block */ #hash", "a_b__c___d", "$var @decorator ~tilde `tick`",
];
const EMOJI = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🇩🇪🇨🇳", "🦙🤖", "❤️", "✨🎉", "🏳️‍🌈", "1️⃣", "🙂🙃"];
const WHITESPACE = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "\n\n\n", "\t\t", "      ", "\u00a0", "\u3000", "\u2009", " \t \n"];
const WORDS = [
  "Hello", "world", "I'm", "you're", "they'll", "it's", "WE'VE", "don't", "He'D", "'s", "'", "''", "test", "tokenizer", "llama",
  "the", "The", "THE", "a", "Ab", "aBc", "ok", "O'Neil", "rock'n'roll",
];
const DIGITS = ["0", "7", "42", "123", "1234", "12345", "3.14159", "1,000,000", "2024-06-01", "٣٤٥", "१२३", "½", "Ⅻ", "100%", "-17"];
const PUNCT = [".", ",", "!", "?", "...", "—", "–", "…", "(", ")", "[", "]", "{", "}", "\"", "'", "«»", "¿¡", ";", ":", "/", "\\", "|", "&&", "->", "=>"];

const POOLS = [GERMAN, MANDARIN, ARABIC, OTHER, CODE, EMOJI, WHITESPACE, WORDS, WORDS, DIGITS, PUNCT];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

/** A random code point from assorted ranges (letters, marks, symbols, CJK, astral, controls). */
function randomCodePoint(r: () => number): string {
  const ranges: Array<[number, number]> = [
    [0x20, 0x7e], [0xa0, 0x24f], [0x300, 0x36f], [0x370, 0x3ff], [0x400, 0x4ff], [0x590, 0x6ff], [0x900, 0x97f],
    [0x2000, 0x206f], [0x2190, 0x23ff], [0x3040, 0x30ff], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0xff00, 0xffef],
    [0x1f300, 0x1faff], [0x1d400, 0x1d7ff], [0x0, 0x1f],
  ];
  const [lo, hi] = pick(r, ranges);
  return String.fromCodePoint(lo + Math.floor(r() * (hi - lo + 1)));
}

/** One test string of 1..maxParts pieces. `specials` are token texts mixed in (e.g. "<s>", "<|im_end|>"). */
export function generateString(r: () => number, maxParts = 8, specials: readonly string[] = []): string {
  const parts = 1 + Math.floor(r() * maxParts);
  let s = "";
  for (let i = 0; i < parts; i++) {
    const x = r();
    if (x < 0.08) s += randomCodePoint(r) + randomCodePoint(r);
    else if (x < 0.12 && specials.length > 0) s += pick(r, specials);
    else s += pick(r, pick(r, POOLS));
    if (r() < 0.5) s += pick(r, [" ", " ", "", "\n", "  ", "\t"]);
  }
  return s;
}

/** `n` seeded test strings. */
export function generateStrings(seed: number, n: number, specials: readonly string[] = []): string[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => generateString(r, 8, specials));
}

/** About `bytes` UTF-8 bytes of mixed text (joined test strings). */
export function generateText(seed: number, bytes: number): string {
  const r = rng(seed);
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    const s = generateString(r, 12);
    parts.push(s);
    size += Buffer.byteLength(s) + 1;
  }
  return parts.join("\n");
}

/**
 * Strings dense in special-token texts and their fragments: whole texts back to back, texts cut anywhere and
 * glued to other texts (overlaps such as "<|im_<|im_end|>"), whitespace around them (lstrip/rstrip) and bits of
 * ordinary text. These exercise the order in which special tokens cut the text.
 */
export function generateSpecialStrings(seed: number, n: number, specials: readonly string[]): string[] {
  const r = rng(seed);
  const piece = (): string => {
    const t = pick(r, specials);
    const x = r();
    if (x < 0.4) return t;
    const cut = 1 + Math.floor(r() * Math.max(1, t.length - 1));
    if (x < 0.6) return t.slice(0, cut);
    if (x < 0.8) return t.slice(cut);
    return pick(r, [" ", "\n", "  ", "\t", "x", "Hello", "1", "<", "|", ">", "[", "]", "<|", "|>", "你好"]);
  };
  return Array.from({ length: n }, () => {
    let s = "";
    const parts = 1 + Math.floor(r() * 10);
    for (let i = 0; i < parts; i++) s += piece();
    return s;
  });
}
