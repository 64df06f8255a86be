#!/usr/bin/env bash
# Peak memory and wall time of a full logit lens (all rows, all metrics,
# JSON) at T = 512 (SIZE) on the Llama-3.2-3B-shaped random BF16 checkpoint
# of bench_llama3b_checkpoint (bench/common.sh: about 6.4 GB, made once under
# bench/models by tools/make_random_checkpoint, never committed). Budget:
# the weights' size + 1.5 GB. RUNS runs (default 1).
source "$(dirname "$0")/common.sh"
runs=${RUNS:-1}
size=${SIZE:-512}
bench_build
model=$(bench_llama3b_checkpoint)
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
