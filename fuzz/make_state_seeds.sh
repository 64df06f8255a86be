#!/usr/bin/env bash
# Writes the seeds fuzz/corpus/corpus_state/seed_* : corpus states and
# checkpoints of the tiny test model (tests/data/gpt2-tiny-gelu with a
# byte-level tokenizer) over two short documents, each a few KB: kept values
# and sketches, with and without token counts and a tracked token, a
# checkpoint, and a merged state of two shards. Each seed is the file less
# its last 8 bytes (the checksum, which the target appends).
#     bash fuzz/make_state_seeds.sh build/loupe
set -euo pipefail
loupe=$(realpath "${1:?usage: make_state_seeds.sh path/to/loupe}")
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/fuzz/corpus/corpus_state
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
python3 "$root/tests/data/byte_model.py" "$work/model"
printf 'the cat sat on the mat\n\na dog ran far away\n' >"$work/corpus.txt"
"$loupe" count --model "$work/model" "$work/corpus.txt" >"$work/counts.tsv"
run() { "$loupe" corpus --model "$work/model" "$@" "$work/corpus.txt" >/dev/null; }
run --save-state "$out/seed_plain"
run --exact-limit 0 --save-state "$out/seed_sketch"
run --counts "$work/counts.tsv" --track e --reservoir 8 --save-state "$out/seed_counts_track"
run --counts "$work/counts.tsv" --exact-limit 5 --checkpoint "$out/seed_checkpoint"
run --shard 0/2 --save-state "$work/a"
run --shard 1/2 --save-state "$work/b"
"$loupe" corpus-merge --save-state "$out/seed_merged" "$work/a" "$work/b" >/dev/null
for seed in "$out"/seed_*; do truncate -s -8 "$seed"; done
ls -l "$out"
