#!/usr/bin/env bash
# The lens gives the same bytes whatever the number of threads
# (docs/PERFORMANCE.md: fixed vocabulary stripes merged in order, fixed
# matmul panels). The text is long enough for several blocks of 24
# positions, so the final row projected one block ahead goes through both
# of its buffers; --subblocks adds the attention rows.
set -euo pipefail
LOUPE=${1:?usage: lens_threads.sh path/to/loupe}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

text="In the beginning God created the heaven and the earth. And the earth was without form, and void;
and darkness was upon the face of the deep. And the Spirit of God moved upon the face of the waters.
And God said, Let there be light: and there was light. And God saw the light, that it was good: and
God divided the light from the darkness."
printf '%s\n' "$text" > "$work/text"

tokens=$("$LOUPE" tokenize --json --file "$work/text" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["ids"]))')
if [ "$tokens" -le 48 ]; then
  echo "FAIL: the text has $tokens tokens; it must span more than two blocks of 24" >&2
  exit 1
fi

status=0
for options in "" "--subblocks"; do
  for threads in 1 2 3; do
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=$threads "$LOUPE" lens --format json $options --file "$work/text" > "$work/lens$threads.json"
  done
  for threads in 2 3; do
    if ! cmp -s "$work/lens1.json" "$work/lens$threads.json"; then
      echo "FAIL: lens ${options:-(all rows)} with $threads threads differs from 1 thread" >&2
      status=1
    fi
  done
  size=$(wc -c < "$work/lens1.json")
  if [ "$size" -lt 10000 ]; then
    echo "FAIL: lens ${options:-(all rows)} wrote only $size bytes" >&2
    status=1
  fi
done
[ $status -eq 0 ] && echo "lens JSON identical with 1, 2 and 3 threads ($tokens tokens, with and without --subblocks)"
exit $status
