#!/usr/bin/env bash
# Peak memory of a full logit lens (all rows, all metrics, JSON) on a
# GPT-2-small-shaped checkpoint at T = 1024, against the budget of the
# weights' size + 100 MB. Medians of RUNS runs (default 3).
source "$(dirname "$0")/common.sh"
runs=${RUNS:-3}
bench_build
model=$(bench_checkpoint F32)
text=$(mktemp)
trap 'rm -f "$text"' EXIT
bench_text 1024 "$text"
tokens=$("$loupe" tokenize --model "$model" --json --file "$text" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["ids"]))')
weights=$("$loupe" info --model "$model" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["weight_bytes"])')
peak=$(for _ in $(seq "$runs"); do peak_rss_kb "$loupe" lens --model "$model" --format json --file "$text"; done | median)
budget_kb=$(( weights / 1024 + 100 * 1024 ))
over_kb=$(( peak - weights / 1024 ))
echo "tokens: $tokens"
echo "weights: $(( weights / 1048576 )) MiB"
echo "peak RSS (median of $runs): $(( peak / 1024 )) MiB = weights + $(( over_kb / 1024 )) MiB"
echo "budget: weights + 100 MiB = $(( budget_kb / 1024 )) MiB"
if [ "$peak" -le "$budget_kb" ]; then echo "within budget"; else echo "OVER BUDGET"; exit 1; fi
