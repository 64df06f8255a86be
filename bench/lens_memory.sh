#!/usr/bin/env bash
# Peak memory of a full logit lens (all rows, all metrics, JSON) on a
# GPT-2-small-shaped checkpoint at T = 1024, in each of DTYPES (default
# "F32 BF16"), against the budget of the weights' size + 100 MB (F32) or
# + 120 MB (BF16, F16: their matrices are read in place from the file,
# converted panel by panel). Medians of RUNS runs (default 3).
source "$(dirname "$0")/common.sh"
runs=${RUNS:-3}
dtypes=${DTYPES:-F32 BF16}
bench_build
text=$(mktemp)
trap 'rm -f "$text"' EXIT
bench_text 1024 "$text"
status=0
for dtype in $dtypes; do
  model=$(bench_checkpoint "$dtype")
  tokens=$("$loupe" tokenize --model "$model" --json --file "$text" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["ids"]))')
  weights=$("$loupe" info --model "$model" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["weight_bytes"])')
  peak=$(for _ in $(seq "$runs"); do peak_rss_kb "$loupe" lens --model "$model" --format json --file "$text"; done | median)
  allowance_mb=$([ "$dtype" = F32 ] && echo 100 || echo 120)
  budget_kb=$(( weights / 1024 + allowance_mb * 1024 ))
  over_kb=$(( peak - weights / 1024 ))
  echo "$dtype, $tokens tokens: weights $(( weights / 1048576 )) MiB;" \
       "peak RSS (median of $runs) $(( peak / 1024 )) MiB = weights + $(( over_kb / 1024 )) MiB;" \
       "budget weights + $allowance_mb MiB = $(( budget_kb / 1024 )) MiB"
  if [ "$peak" -le "$budget_kb" ]; then echo "  within budget"; else echo "  OVER BUDGET"; status=1; fi
done
exit $status
