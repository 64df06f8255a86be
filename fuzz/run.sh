#!/usr/bin/env bash
# Runs one fuzz target, or all of them one after another, for SECONDS each:
# builds them if needed (fuzz/build.sh into fuzz/out/), grows fuzz/corpus/
# <name>/ in place and then minimises it (-merge=1), keeps findings in
# fuzz/findings/<name>/ and prints executions, coverage and findings.
# usage: fuzz/run.sh TARGET|all SECONDS      (TARGET e.g. safetensors)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
which=${1:?usage: fuzz/run.sh TARGET|all SECONDS}
seconds=${2:?usage: fuzz/run.sh TARGET|all SECONDS}
out=$here/out
if [ "$which" = all ]; then
  names=$(ls "$here"/targets/fuzz_*.c | xargs -n1 basename | sed 's/^fuzz_//; s/\.c$//' | grep -vx support)
else
  names=$which
fi
for name in $names; do
  if [ ! -x "$out/fuzz_$name" ] || [ -n "$(find "$here/targets" "$here/../src" -newer "$out/fuzz_$name" -name '*.[ch]')" ]; then
    "$here/build.sh" "$out" >/dev/null || exit 1
  fi
done
printf '%-16s %12s %8s %8s %8s %8s\n' target executions cov ft corpus findings
for name in $names; do
  [ -x "$out/fuzz_$name" ] || { echo "run.sh: no target $name" >&2; exit 2; }
  bash "$here/run_one.sh" "$out/fuzz_$name" "$here/corpus/$name" "$here/findings/$name" \
    "$here/logs/$name.log" "$seconds"
  # Keep the committed corpus small: only inputs that add coverage stay.
  merged=$(mktemp -d)
  cp "$here/corpus/$name"/seed_* "$merged"/ 2>/dev/null
  if "$out/fuzz_$name" -merge=1 "$merged" "$here/corpus/$name" >>"$here/logs/$name.log" 2>&1; then
    find "$here/corpus/$name" -type f ! -name 'seed_*' -delete
    find "$merged" -type f ! -name 'seed_*' -exec cp {} "$here/corpus/$name/" \;
  fi
  rm -rf "$merged"
done
