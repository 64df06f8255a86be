#!/usr/bin/env python3
"""Makes tokenizer_extra_cases.json: expected GPT-2 pre-tokenizer pieces and
token ids for inputs the Hugging Face fixture does not cover (invalid UTF-8,
control characters, Unicode white space, long words, ...).

The expectations come from an implementation independent of loupe's C code:
the `regex` module runs GPT-2's pattern itself, and the classic GPT-2 BPE loop
(merge every occurrence of the lowest-ranked pair, repeat) runs over the
pieces. Invalid UTF-8 bytes are decoded with 'surrogateescape' into lone
surrogates, which the pattern treats like loupe does: one character each that
is neither a letter, a number nor white space. Before writing anything the
script checks itself against gpt2_tokenizer_cases.json (made by Hugging Face).

Run from the repository root: python3 tests/data/tokenizer_extra_cases.py
"""
import json
import random
import sys

import regex

sys.path.insert(0, __import__("os").path.dirname(__file__))
from gpt2_bytes import bytes_to_unicode  # noqa: E402

VOCAB = "models/gpt2-demo/vocab.json"
MERGES = "models/gpt2-demo/merges.txt"
OUT = "tests/data/tokenizer_extra_cases.json"

# \s spelled as the White_Space property so the meaning cannot depend on the
# regex engine's reading of \s.
S = r"\p{White_Space}"
PATTERN = regex.compile(
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^" + S + r"\p{L}\p{N}]+|[" + S + r"]+(?![^" + S
    + r"])|[" + S + r"]+"
)


BYTE_CHAR = bytes_to_unicode()
vocab = json.load(open(VOCAB, encoding="utf-8"))
ranks = {}
with open(MERGES, encoding="utf-8") as merges_file:
    lines = merges_file.read().split("\n")
for line in lines:
    if line.startswith("#version") or not line:
        continue
    left, right = line.split(" ")
    ranks[(left, right)] = len(ranks)


def pieces_of(data: bytes):
    text = data.decode("utf-8", errors="surrogateescape")
    return [m.encode("utf-8", errors="surrogateescape") for m in PATTERN.findall(text)]


def bpe(piece: bytes):
    word = [BYTE_CHAR[b] for b in piece]
    while len(word) > 1:
        best = min(range(len(word) - 1), key=lambda i: (ranks.get((word[i], word[i + 1]), float("inf")), i))
        pair = (word[best], word[best + 1])
        if pair not in ranks:
            break
        merged, i = [], 0
        while i < len(word):
            if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
                merged.append(word[i] + word[i + 1])
                i += 2
            else:
                merged.append(word[i])
                i += 1
        word = merged
    return [vocab[token] for token in word]


def encode(data: bytes):
    ids = []
    for piece in pieces_of(data):
        ids.extend(bpe(piece))
    return ids


def self_check():
    fixture = json.load(open("tests/data/gpt2_tokenizer_cases.json", encoding="utf-8"))
    for case in fixture["cases"]:
        got = encode(case["text"].encode("utf-8"))
        if got != case["ids"]:
            sys.exit("reference disagrees with Hugging Face on %r" % case["text"])


PRETOKENIZER_TEXTS = [
    b"a   b",
    b"a   \nb",
    b"end   ",
    b"x \t\n y",
    b"hello\n\n\nworld",
    b" \tb",
    b"   ",
    b"\n",
    b" ",
    b"'S 's 'Re 're 'LL 'll 'd 'D '' ''s don't it'sn't I'M 'm 've 'VE",
    b" 's x'",
    b"2024 12345678 \xd9\xa1\xd9\xa2\xd9\xa3 \xc2\xbd \xe2\x85\xab x2y",
    "日本語テキスト 中文，标点。 한국어".encode(),
    "🤖🔥 a🤖b 👍🏽 👨‍👩‍👧 end".encode(),
    "a\u00a0b\u3000c\u2003 d\u200be\u2028f\u0085g".encode(),
    b"a\x1c b\x1f",
    b"line\r\nnext\r\n",
    b"e\xcc\x81 caf\xc3\xa9",
    b"\xff\xfe abc \x80\x80 d\xc3",
    b"\xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xe6\x97a \xe6\x97\xa5",
    b" \xff x \xff\xff y",
    b"\x00\x01\x07\x1b[31m red\x7f",
    b"!!! ??? ... ,,, x!!",
    b"def f(x):\n\treturn x  \n",
]

ENCODE_TEXTS = PRETOKENIZER_TEXTS + [
    b"The quick brown fox jumps over the lazy dog.\n" * 3,
    b"\xe2\x80\x9cSmart quotes\xe2\x80\x9d and \xe2\x80\x94 dashes \xe2\x80\xa6",
    b"\t\t\tindented\n    four spaces\n",
    b"http://example.com/path?query=1&b=2#frag",
    b"<|endoftext|><|endoftext|>",
    bytes(range(256)),
]


def main():
    self_check()
    rng = random.Random(20240611)
    letters = "abcdefghijklmnopqrstuvwxyz"
    long_word = "".join(rng.choice(letters) for _ in range(10240)).encode()
    repeated_word = b"tokenization" * 900
    cases = {
        "source": "tests/data/tokenizer_extra_cases.py: the regex module and the classic GPT-2 BPE loop",
        "pretokenizer": [{"text_hex": t.hex(), "pieces_hex": [p.hex() for p in pieces_of(t)]}
                         for t in PRETOKENIZER_TEXTS],
        "encode": [{"text_hex": t.hex(), "ids": encode(t)}
                   for t in ENCODE_TEXTS + [long_word, repeated_word]],
        "single_bytes": [vocab[BYTE_CHAR[b]] for b in range(256)],
    }
    with open(OUT, "w", encoding="utf-8") as out:
        json.dump(cases, out, indent=0)
        out.write("\n")


if __name__ == "__main__":
    main()
