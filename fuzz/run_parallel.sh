#!/usr/bin/env bash
# Runs every fuzz_* binary in DIR at once, one process each, for SECONDS, on
# DIR/corpus/<name>/ (grown in place); findings go to DIR/findings/<name>/,
# logs to DIR/logs/<name>.log, and the table below to DIR/summary.txt.
# usage: run_parallel.sh DIR SECONDS     (DIR as laid out by fuzz/build.sh)
set -uo pipefail
dir=$(cd "${1:?usage: run_parallel.sh DIR SECONDS}" && pwd)
seconds=${2:?usage: run_parallel.sh DIR SECONDS}
here=$(cd "$(dirname "$0")" && pwd)
run_one=$here/run_one.sh
[ -x "$run_one" ] || run_one=$dir/run_one.sh
mkdir -p "$dir/logs" "$dir/findings"
rows=()
for binary in "$dir"/fuzz_*; do
  [ -x "$binary" ] || continue
  name=$(basename "$binary")
  name=${name#fuzz_}
  bash "$run_one" "$binary" "$dir/corpus/$name" "$dir/findings/$name" "$dir/logs/$name.log" \
    "$seconds" >"$dir/logs/$name.summary" &
  rows+=("$name")
done
wait
{
  echo "fuzzed ${seconds}s each, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores"
  printf '%-16s %12s %8s %8s %8s %8s\n' target executions cov ft corpus findings
  for name in "${rows[@]}"; do cat "$dir/logs/$name.summary"; done
} | tee "$dir/summary.txt"
