// make_texts.js - writes the texts the tokenizer reference test encodes, as a
// JSON array of strings, to the file given as the argument.
//
//   node make_texts.js REPOSITORY_ROOT OUT.json
//
// English prose and code come from the repository's own files; the other
// groups are written out here or generated from a fixed seed, so the list is
// the same on every run.
'use strict';
const fs = require('fs');
const path = require('path');

const [root, outPath] = process.argv.slice(2);
if (!root || !outPath) {
  console.error('usage: node make_texts.js REPOSITORY_ROOT OUT.json');
  process.exit(2);
}
const texts = [];

// English prose: paragraphs of the README and docs (no tables or code).
for (const file of ['README.md', 'docs/LENS_OUTPUT.md', 'docs/METRICS.md', 'docs/CORPUS.md']) {
  const full = path.join(root, file);
  if (!fs.existsSync(full)) continue;
  const paragraphs = fs.readFileSync(full, 'utf8').split(/\n\s*\n/)
    .filter((p) => p.length > 40 && !p.startsWith('|') && !p.startsWith('```') && !p.startsWith('    '));
  texts.push(...paragraphs.slice(0, 30));
}
texts.push(
  'The quick brown fox jumps over the lazy dog.',
  "It's a truth universally acknowledged; they'd said so, and we'll see. DON'T SHOUT, I'M HERE.",
  'In the beginning God created the heaven and the earth.',
  'Mr. Smith (aged 42) paid $3.50 for 2 coffees at 9:45 a.m. on 2024-03-01!',
  'He said, "Hello," and left—without a word... Really?!',
);

// Code: blocks of the repository's C sources.
for (const file of ['src/tokenizer/bpe_encode.c', 'src/tokenizer/pretokenizer.c', 'tools/tokenizer_ids.c']) {
  const full = path.join(root, file);
  if (!fs.existsSync(full)) continue;
  const lines = fs.readFileSync(full, 'utf8').split('\n');
  for (let i = 0; i + 12 <= lines.length && i < 240; i += 12) texts.push(lines.slice(i, i + 12).join('\n'));
}
texts.push(
  'def add(a, b):\n    return a + b\n',
  'for (int i = 0; i < n; i++) {\n\tsum += x[i] * y[i];\n}',
  'const f = (x) => x ** 2; // square\nconsole.log(f(12));',
  '<html><body class="main">&nbsp;&lt;tag&gt;</body></html>',
  '{"key": [1, 2.5, -3e10, null, true], "nested": {"a": "b"}}',
  'SELECT name, COUNT(*) FROM users WHERE age >= 18 GROUP BY name;',
);

// Numbers and digit runs.
for (let n = 1; n <= 16; n++) texts.push('1234567890123456'.slice(0, n));
texts.push('3.14159265358979', '1,000,000', '-42', '+1 (555) 010-9999', '0x1F2E3D', '1e-9', '2026-12-01T20:48:22Z',
  'Version 10.42.1 of 2023', 'a1b2c3d4', 'x = 12345678901234567890', '١٢٣ ٤٥٦', '৪২', '½ ¾ ² ³ ⅷ');

// White space runs, tabs and line ends.
texts.push(' ', '  ', '   ', '\t', '\n', '\r\n', 'a  b', 'a   b', 'a\tb', 'a\t\tb', ' leading', 'trailing ',
  'trailing   ', '\n\nparagraph\n\n\n', 'line\r\nline\r\n', '  \n  \n', 'x \n y', ' \t \t ', '\u00a0non\u00a0breaking',
  'ideographic\u3000space', 'em\u2003space', 'line\u2028separator', 'next\u0085line', 'mongolian\u180evowel',
  'tab\tthen  two   three    four     spaces', '          indented ten');

// Emoji.
texts.push('👍', 'I ❤️ Unicode 😀😃😄', '👨‍👩‍👧‍👦 family', '🇫🇷🇯🇵 flags', '👋🏽 wave', '🤖🚀✨🔥', 'a😀b😀c', '☃ ☕ ⚡',
  '🏳️‍🌈', '1️⃣ keycap');

// CJK.
texts.push('你好，世界！', '我爱自然语言处理。', '日本語のテキストです。カタカナもひらがなも。', '東京タワーは333メートル',
  '한국어 문장입니다.', '안녕하세요, 세계!', '中文English混合text', '「引用」と『二重引用』', '漢字かな交じり文',
  '𠀀𠀁𠀂 (CJK Extension B)');

// Accented and combining characters.
texts.push('café', 'cafe\u0301', 'naïve résumé', 'Ångström', 'A\u030angstro\u0308m', 'São Paulo', 'Tiếng Việt có dấu',
  'Ελληνικά κείμενα', 'Русский текст', 'עברית', 'العربية', 'हिन्दी', 'ไทย', 'Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇', 'ﬁ ﬂ ligatures',
  'Straße STRASSE', 'İstanbul ıi', 'ǅungla ǈ', 'e\u0300\u0301\u0302 stacked', '\u0301 leading combining');

// Special tokens of the four tokenizers inside text (each is plain text
// where its tokenizer lacks it).
texts.push('<s>', '</s>', '<unk>', '<s> hello </s>', 'a<s>b', '<|endoftext|>', 'end<|endoftext|>start',
  '<|begin_of_text|>Hello', '<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n', '<think>\nhmm\n</think>',
  '<bos>text<eos>', '<start_of_turn>user\nhello<end_of_turn>', '<pad><pad>', ' <s> ', '  <|endoftext|>  ',
  '<|reserved_special_token_5|>', '<0x41>', '<|eot_id|>', '<mask>', '<s><s></s></s>');

// Words of 10 KB.
texts.push('a'.repeat(10000), 'ab'.repeat(5000), '1'.repeat(10000), ' '.repeat(10000), '😀'.repeat(2500),
  'é'.repeat(5000), '中'.repeat(3400), 'x'.repeat(5000) + ' ' + 'y'.repeat(5000), '\n'.repeat(10000),
  'Supercalifragilistic'.repeat(500));

// Random Unicode from a fixed seed (xorshift32): code points from ASCII,
// Latin, general BMP (no surrogates), astral planes and white space.
let seed = 0x2545F491;
function next() {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed;
}
const spaces = [0x20, 0x09, 0x0a, 0x0d, 0x85, 0xa0, 0x1680, 0x180e, 0x2000, 0x2007, 0x200a, 0x200b, 0x2028, 0x2029,
  0x202f, 0x205f, 0x3000, 0xfeff];
function randomCodePoint() {
  const kind = next() % 10;
  if (kind < 3) return 0x20 + (next() % 95);
  if (kind < 4) return 0xa0 + (next() % 0x1e0);
  if (kind < 5) return spaces[next() % spaces.length];
  if (kind < 6) return 0x300 + (next() % 0x70); // combining marks
  if (kind < 9) {
    let c;
    do { c = 0x80 + (next() % 0xff80); } while (c >= 0xd800 && c <= 0xdfff);
    return c;
  }
  return 0x10000 + (next() % 0x20000);
}
for (let i = 0; i < 150; i++) {
  const length = 1 + (next() % 60);
  let text = '';
  for (let k = 0; k < length; k++) text += String.fromCodePoint(randomCodePoint());
  texts.push(text);
}
texts.push('');

fs.writeFileSync(outPath, JSON.stringify(texts));

// Invalid UTF-8, which JavaScript strings cannot carry: loupe reads the raw
// bytes (OUT.invalid.json) and the library the text as loupe's rule makes it
// (OUT.replaced.json): each byte that does not begin a complete, valid UTF-8
// sequence becomes U+FFFD. The replacements below are written out by hand.
const invalid = [
  [[0x61, 0xff, 0x62], 'a\ufffdb'],
  [[0xc3, 0x28, 0x20, 0x78], '\ufffd( x'],                          // a lead byte without its continuation
  [[0x65, 0x6e, 0x64, 0xe2, 0x82], 'end\ufffd\ufffd'],             // cut at the end
  [[0xed, 0xa0, 0x80, 0x21], '\ufffd\ufffd\ufffd!'],               // a surrogate
  [[0xc0, 0xaf, 0x2f], '\ufffd\ufffd/'],                           // an overlong form
  [[0xf4, 0x90, 0x80, 0x80], '\ufffd\ufffd\ufffd\ufffd'],          // above U+10FFFF
  [[0x63, 0x61, 0x66, 0xe9, 0x20, 0x6f, 0x6b], 'caf\ufffd ok'],   // Latin-1
  [[0x80, 0x80, 0x20, 0x68, 0x69], '\ufffd\ufffd hi'],             // continuation bytes alone
  [[0x20, 0xf8, 0x88, 0x80, 0x80, 0x80], ' \ufffd\ufffd\ufffd\ufffd\ufffd'], // a five-byte form
  [[0xe4, 0xb8, 0xad, 0xff, 0xe6, 0x96, 0x87], '中\ufffd文'],
];
const rawParts = invalid.map(([bytes]) =>
  Buffer.concat([Buffer.from('"'), Buffer.from(bytes), Buffer.from('"')]));
fs.writeFileSync(outPath.replace(/\.json$/, '.invalid.json'),
  Buffer.concat([Buffer.from('['), Buffer.concat(rawParts.flatMap((part, i) => (i ? [Buffer.from(','), part] : [part]))),
    Buffer.from(']')]));
fs.writeFileSync(outPath.replace(/\.json$/, '.replaced.json'), JSON.stringify(invalid.map(([, text]) => text)));
