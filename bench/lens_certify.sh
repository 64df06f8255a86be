#!/usr/bin/env bash
# The cost of `loupe lens --certify` against the plain lens on the
# GPT-2-small shape (12 layers, width 768, vocabulary 50257) at T = 512:
# interleaved rounds, medians of the wall times and their ratio (the issue's
# bound: at most 5x). usage: bench/lens_certify.sh [ROUNDS]
source "$(dirname "$0")/common.sh"
rounds=${1:-3}
bench_build
bench_blas_kernels
dir=$(bench_checkpoint F32)
text=$(mktemp)
trap 'rm -f "$text"' EXIT
bench_text 512 "$text"
echo "tokens: $("$loupe" tokenize --model "$dir" --file "$text" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["ids"]))')"
seconds() {
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null || { echo "failed: $*" >&2; exit 1; }
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
plain=() certified=()
for ((round = 1; round <= rounds; round++)); do
  plain+=("$(seconds "$loupe" lens --model "$dir" --file "$text" --format json)")
  certified+=("$(seconds "$loupe" lens --model "$dir" --file "$text" --format json --certify)")
  echo "round $round: plain ${plain[-1]} s, --certify ${certified[-1]} s (load $(cut -d' ' -f1 /proc/loadavg))"
done
p=$(printf '%s\n' "${plain[@]}" | median)
c=$(printf '%s\n' "${certified[@]}" | median)
echo "median: plain $p s, --certify $c s, ratio $(echo "scale=2; $c / $p" | bc)"
