#!/usr/bin/env bash
# Runs one libFuzzer binary for SECONDS on CORPUS (grown in place), writing
# crashers, leaks, timeouts and out-of-memory inputs to FINDINGS/ and the
# fuzzer's output to LOG. A finding stops libFuzzer; the run then resumes on
# the same corpus until the time is spent. Prints one line:
#   NAME  executions  coverage(edges)  features  corpus files  findings
# usage: run_one.sh BINARY CORPUS FINDINGS LOG SECONDS
set -uo pipefail
binary=$1 corpus=$2 findings=$3 log=$4 seconds=$5
name=$(basename "$binary")
name=${name#fuzz_}
mkdir -p "$corpus" "$findings" "$(dirname "$log")"
: >"$log"
# Longer inputs for the tokenizer targets, where a slow path would show on
# long words; -timeout turns a hang or a quadratic blow-up into a finding.
max_len=8192
case $name in bpe_encode | tokenizer_files | merges) max_len=65536 ;; esac
end=$(($(date +%s) + seconds))
runs=0
while :; do
  left=$((end - $(date +%s)))
  [ "$left" -gt 0 ] || break
  runs=$((runs + 1))
  "$binary" -max_total_time="$left" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$findings/" "$corpus" >>"$log" 2>&1
  status=$?
  [ "$status" -eq 0 ] && break
  [ "$runs" -ge 50 ] && break # a finding on every start: no point going on
done
executions=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{s += $2} END {print s + 0}')
last=$(grep -E '^#[0-9]+.*cov: [0-9]+' "$log" | tail -n 1)
coverage=$(echo "$last" | sed -nE 's/.*cov: ([0-9]+).*/\1/p')
features=$(echo "$last" | sed -nE 's/.*ft: ([0-9]+).*/\1/p')
files=$(find "$corpus" -type f | wc -l)
found=$(find "$findings" -type f | wc -l)
printf '%-16s %12s %8s %8s %8s %8s\n' "$name" "$executions" "${coverage:-?}" "${features:-?}" "$files" "$found"
