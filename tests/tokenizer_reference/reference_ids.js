// reference_ids.js - prints the Hugging Face tokenizers library's ids for a
// list of texts, one line per text, ids separated by spaces (the format of
// tools/tokenizer_ids).
//
//   node reference_ids.js TOKENIZER_JSON TEXTS_JSON [--no-special]
//
// --no-special: add_special_tokens=False, and special tokens are not matched
// in the text (the library's Node binding cannot set encode_special_tokens,
// so each special token's content is made a string no text holds, a NUL
// on either side, which keeps every id where it was).
'use strict';
const fs = require('fs');
const { Tokenizer } = require('tokenizers');

async function main() {
  const [tokenizerPath, textsPath, flag] = process.argv.slice(2);
  const noSpecial = flag === '--no-special';
  let tokenizer;
  if (noSpecial) {
    const json = JSON.parse(fs.readFileSync(tokenizerPath, 'utf8'));
    for (const token of json.added_tokens || []) {
      if (token.special) token.content = `\u0000special ${token.id}\u0000`;
    }
    tokenizer = Tokenizer.fromString(JSON.stringify(json));
  } else {
    tokenizer = Tokenizer.fromFile(tokenizerPath);
  }
  const texts = JSON.parse(fs.readFileSync(textsPath, 'utf8'));
  const lines = [];
  for (const text of texts) {
    const encoding = await tokenizer.encode(text, null, { addSpecialTokens: !noSpecial });
    lines.push(encoding.getIds().join(' '));
  }
  process.stdout.write(lines.join('\n') + '\n');
}
main().catch((error) => {
  console.error(error);
  process.exit(1);
});
