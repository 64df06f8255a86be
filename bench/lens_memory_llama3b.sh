#!/usr/bin/env bash
# Peak memory and wall time of a full logit lens (all rows, all metrics,
# JSON) at T = 512 (SIZE) on a Llama-3.2-3B-shaped random BF16 checkpoint:
# 28 layers of width 3072, 24 query and 8 key/value heads of 128, a SwiGLU of
# 8192, a vocabulary of 128256, the head tied to the embedding (about 6.4 GB,
# made once under bench/models by tools/make_random_checkpoint, never
# committed; GPT-2's tokenizer is copied in, its ids lie inside the
# vocabulary). Budget: the weights' size + 1.5 GB. RUNS runs (default 1).
source "$(dirname "$0")/common.sh"
runs=${RUNS:-1}
size=${SIZE:-512}
bench_build
model=$models_dir/llama-3.2-3b-shaped-random-BF16
if [ ! -f "$model/model.safetensors" ]; then
  free_kb=$(df -Pk "$root/bench" | awk 'NR == 2 {print $4}')
  if [ "$free_kb" -lt $(( 8 * 1024 * 1024 )) ]; then
    echo "the checkpoint needs about 6.4 GB; only $(( free_kb / 1048576 )) GB free under $root/bench" >&2
    exit 1
  fi
  mkdir -p "$models_dir"
  "$build"/make_random_checkpoint "$model" --arch llama --dtype BF16 --layers 28 --width 3072 --heads 24 \
    --kv-heads 8 --head-dim 128 --inner 8192 --vocab 128256 --context 8192 --tied >&2
  cp "$root"/models/gpt2-demo/vocab.json "$root"/models/gpt2-demo/merges.txt "$model"/
fi
text=$(mktemp)
trap 'rm -f "$text"' EXIT
bench_text "$size" "$text"
tokens=$("$loupe" tokenize --model "$model" --json --file "$text" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["ids"]))')
weights=$("$loupe" info --model "$model" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["weight_bytes"])')
for _ in $(seq "$runs"); do
  /usr/bin/time -v "$loupe" lens --model "$model" --format json --file "$text" 2>&1 >/dev/null |
    awk -F': ' '/Maximum resident set size/ {print "rss", $2} /Elapsed \(wall clock\)/ {print "wall", $2}'
done > "$text.runs"
peak=$(awk '$1 == "rss" {print $2}' "$text.runs" | median)
budget_kb=$(( weights / 1024 + 1536 * 1024 ))
echo "tokens: $tokens; weights: $(( weights / 1048576 )) MiB"
echo "wall times: $(awk '$1 == "wall" {printf "%s ", $2}' "$text.runs")"
echo "peak RSS (median of $runs): $(( peak / 1024 )) MiB = weights + $(( (peak - weights / 1024) / 1024 )) MiB"
echo "budget: weights + 1536 MiB = $(( budget_kb / 1024 )) MiB"
rm -f "$text.runs"
if [ "$peak" -le "$budget_kb" ]; then echo "within budget"; else echo "OVER BUDGET"; exit 1; fi
