// gpt2_tokenizer_json.js - writes the tokenizer.json Hugging Face's GPT-2
// tokenizer has, from a GPT-2 folder's vocab.json and merges.txt: a BPE model
// under a ByteLevel pre-tokenizer (GPT-2's pattern, no prefix space), the
// ByteLevel post-processor and decoder, and <|endoftext|> as a special added
// token. The reference test encodes it with the tokenizers library.
//
//   node gpt2_tokenizer_json.js GPT2_FOLDER OUT_JSON
'use strict';
const fs = require('fs');
const path = require('path');

const [folder, out] = process.argv.slice(2);
const vocab = JSON.parse(fs.readFileSync(path.join(folder, 'vocab.json'), 'utf8'));
const merges = fs.readFileSync(path.join(folder, 'merges.txt'), 'utf8')
  .split('\n')
  .filter((line) => line.length > 0 && !line.startsWith('#version'));
const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
const tokenizer = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [{
    id: vocab['<|endoftext|>'], content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false,
    normalized: true, special: true,
  }],
  normalizer: null,
  pre_tokenizer: byteLevel,
  post_processor: byteLevel,
  decoder: byteLevel,
  model: {
    type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
    fuse_unk: false, byte_fallback: false, vocab, merges,
  },
};
fs.writeFileSync(out, JSON.stringify(tokenizer));
