#!/usr/bin/env bash
# The loupe command on bad input: a one-line "loupe: ..." message naming what
# is wrong, exit status 1 for unusable input and 2 for a bad command line,
# and never a crash.
set -uo pipefail
loupe=$1
here=$(cd "$(dirname "$0")" && pwd)
data=${LOUPE_TEST_DATA:-$here/../data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

# expect STATUS PATTERN CMD...: runs CMD, checks its exit status and that its
# stderr is one line matching PATTERN.
expect() {
  local status=$1 pattern=$2
  shift 2
  "$@" >"$work/out" 2>"$work/err"
  local got=$?
  local lines
  lines=$(wc -l <"$work/err")
  if [ "$got" -ne "$status" ] || ! grep -qE -- "$pattern" "$work/err" || [ "$lines" -ne 1 ]; then
    echo "FAILED: $* -> status $got (expected $status), stderr:"
    cat "$work/err"
    failures=$((failures + 1))
  fi
}

expect 2 "unknown command 'frobnicate'" "$loupe" frobnicate
expect 1 "^loupe: $work/nowhere: no such folder$" "$loupe" info --model "$work/nowhere"
# every command reports the missing folder itself, not the first file it looks for in it
for command in tokenize next lens generate; do
  expect 1 "^loupe: $work/nowhere: no such folder$" "$loupe" "$command" --model "$work/nowhere" x
done
expect 1 "^loupe: $work/nowhere: no such folder$" "$loupe" corpus --model "$work/nowhere" "$data/corpus_small.txt"
expect 1 "^loupe: $work/nowhere: no such folder$" "$loupe" count --model "$work/nowhere" "$data/corpus_small.txt"
expect 2 "--topk: expected a whole number from 1 to 1000, got '0'" "$loupe" next --topk 0 "x"
expect 2 "--temperature: expected a number" "$loupe" generate --temperature hot "x"
expect 1 "the text is empty" "$loupe" next ""
expect 1 "$work/missing.txt: cannot open" "$loupe" next --file "$work/missing.txt"
expect 2 "info takes no text" "$loupe" info "some text"

# A text longer than the demo model's 512-token context names both numbers.
python3 -c 'print("word " * 600)' > "$work/long.txt"
expect 1 "the text is 60[0-9] tokens, longer than the model's context of 512 tokens" "$loupe" next --file "$work/long.txt"

# A truncated checkpoint: the message names the file.
mkdir "$work/truncated"
cp "$data/gpt2-tiny-gelu/config.json" "$work/truncated/"
head -c 100000 "$data/gpt2-tiny-gelu/model.safetensors" > "$work/truncated/model.safetensors"
expect 1 "truncated/model.safetensors: " "$loupe" info --model "$work/truncated"

# An unsupported activation names the field and the value.
mkdir "$work/swish"
cp "$data/gpt2-tiny-gelu/model.safetensors" "$work/swish/"
sed 's/"gelu_new"/"swish"/' "$data/gpt2-tiny-gelu/config.json" > "$work/swish/config.json"
expect 1 "activation_function 'swish' is not supported" "$loupe" info --model "$work/swish"

# vocab.json and merges.txt that disagree: the merge line is named.
mkdir "$work/tokenizer"
python3 - "$work/tokenizer/vocab.json" "$data" <<'PY'
import json, sys
# GPT-2's byte-to-character map: printable bytes stand for themselves, the rest from U+0100 on.
sys.path.insert(0, sys.argv[-1])
from gpt2_bytes import bytes_to_unicode
chars = bytes_to_unicode()
json.dump({chars[b]: b for b in range(256)}, open(sys.argv[1], "w"))  # no token for "ab"
PY
printf '#version: 0.2\na b\n' > "$work/tokenizer/merges.txt"
expect 1 "merges.txt:2: vocab/merges disagree" "$loupe" tokenize --model "$work/tokenizer" "ab"

# Output that cannot be written (a full disk) fails every command.
printf 'A short document.\n\nAnother one.\n' > "$work/corpus.txt"
for command in info "tokenize hi" "next hi" "generate --tokens 2 hi" "lens hi" "count $work/corpus.txt" \
  "corpus $work/corpus.txt"; do
  "$loupe" $command >/dev/full 2>"$work/err"
  got=$?
  if [ "$got" -ne 1 ] || [ "$(grep -c . "$work/err")" -ne 1 ] ||
     ! grep -q "loupe: writing the output failed" "$work/err"; then
    echo "FAILED: loupe $command >/dev/full -> status $got"
    failures=$((failures + 1))
  fi
done

# The files the user had are untouched by any of this.
cmp -s "$data/gpt2-tiny-gelu/model.safetensors" "$work/swish/model.safetensors" || { echo "FAILED: input modified"; failures=$((failures + 1)); }

[ "$failures" -eq 0 ] && echo "errors: ok"
exit "$failures"
