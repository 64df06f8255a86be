#!/usr/bin/env bash
# valgrind memcheck over the loupe commands on the embedded demo model:
# info, tokenize, next, generate, lens, corpus shards and corpus-merge must
# show 0 errors and 0 bytes
# definitely lost. Leaks that are only "possibly lost" or "still reachable"
# (the thread pools of OpenBLAS and OpenMP keep their stacks until exit) are
# allowed; tests/valgrind.supp holds suppressions proven to lie in those
# libraries. Exits 77 (ctest: skipped) when valgrind is not installed.
# usage: tests/valgrind.sh path/to/loupe
set -uo pipefail
loupe=${1:?usage: valgrind.sh path/to/loupe}
here=$(cd "$(dirname "$0")" && pwd)
command -v valgrind >/dev/null || { echo "valgrind not installed: skipped"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-2} NO_COLOR=1
failures=0

# memcheck NAME ARGS...: runs loupe under memcheck; fails on any error or
# definite leak (both make valgrind exit 99) or a non-zero status of loupe.
memcheck() {
  local name=$1
  shift
  valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \
    --errors-for-leak-kinds=definite --error-exitcode=99 --track-origins=yes \
    --suppressions="$here/valgrind.supp" --log-file="$work/$name.log" \
    "$loupe" "$@" >"$work/$name.out" 2>"$work/$name.err"
  local status=$?
  local summary
  summary=$(grep -E 'ERROR SUMMARY|definitely lost' "$work/$name.log" | sed 's/^==[0-9]*== *//' | tr '\n' ' ')
  if [ "$status" -ne 0 ]; then
    echo "FAILED: loupe $* -> status $status: $summary"
    cat "$work/$name.err"
    grep -vE '^==[0-9]+== *$' "$work/$name.log" | head -60
    failures=$((failures + 1))
  else
    echo "ok: loupe $*: $summary"
  fi
}

text="The quick brown fox jumps over the lazy dog."
memcheck info info
memcheck tokenize tokenize "$text"
memcheck next next --topk 5 "$text"
memcheck generate generate --tokens 3 "$text"
memcheck generate_sampled generate --tokens 2 --temperature 0.8 --seed 7 "$text"
memcheck lens lens --format json --topk 3 "$text"
memcheck lens_table lens --subblocks --values --color always --width 100 "$text"
# shards, their states and a checkpoint (docs/SCALE.md), on the tiny model with byte tokens
python3 "$here/data/byte_model.py" "$work/bytes"
printf 'the cat sat on the mat\n\na dog ran far away\n\nand back\n' >"$work/docs.txt"
memcheck corpus_shard0 corpus --model "$work/bytes" --track e --shard 0/2 --save-state "$work/s0" "$work/docs.txt"
memcheck corpus_shard1 corpus --model "$work/bytes" --track e --shard 1/2 --checkpoint "$work/ck" \
  --save-state "$work/s1" "$work/docs.txt"
memcheck corpus_resume corpus --model "$work/bytes" --track e --shard 1/2 --checkpoint "$work/ck" --resume \
  "$work/docs.txt"
memcheck corpus_merge corpus-merge --format json "$work/s0" "$work/s1"
# Failures must free what they made as well.
memcheck_failure() {
  local name=$1 expected=$2
  shift 2
  valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \
    --errors-for-leak-kinds=definite --error-exitcode=99 \
    --suppressions="$here/valgrind.supp" --log-file="$work/$name.log" \
    "$loupe" "$@" >"$work/$name.out" 2>"$work/$name.err"
  local status=$?
  if [ "$status" -ne "$expected" ]; then
    echo "FAILED: loupe $* -> status $status (expected $expected)"
    grep -vE '^==[0-9]+== *$' "$work/$name.log" | head -60
    failures=$((failures + 1))
  else
    echo "ok: loupe $* (fails cleanly with status $expected)"
  fi
}
python3 -c 'print("word " * 600)' >"$work/long.txt"
memcheck_failure too_long 1 next --file "$work/long.txt"
mkdir "$work/truncated"
cp "$here/data/gpt2-tiny-gelu/config.json" "$work/truncated/"
head -c 100000 "$here/data/gpt2-tiny-gelu/model.safetensors" >"$work/truncated/model.safetensors"
memcheck_failure truncated 1 info --model "$work/truncated"
memcheck_failure corpus_merge_overlap 1 corpus-merge "$work/s0" "$work/s0"
[ "$failures" -eq 0 ] && echo "valgrind: ok"
exit "$failures"
