#!/usr/bin/env bash
# The plain table of the embedded demo model for one sentence, compared byte
# for byte with tests/data/lens_golden_table.txt. The expected file is itself
# checked against the JSON of the same run and the model's vocab.json (every
# cell the top-1 of its row and position, in its place), so it holds what the
# lens computes, not merely what the table printer once printed.
set -euo pipefail
LOUPE=${1:?usage: lens_golden.sh path/to/loupe}
DATA="$(cd "$(dirname "$0")/../data" && pwd)"
export PYTHONPATH="$DATA"
TEXT="And God said, Let there be light"
EXPECTED="$DATA/lens_golden_table.txt"
python3 - "$LOUPE" "$TEXT" "$EXPECTED" <<'PY'
import sys
from lens_reference import Vocabulary, check_plain_table, run_json

loupe, text, expected = sys.argv[1:]
lens = run_json(loupe, "lens", "--format", "json", text)
with open(expected, encoding="utf-8") as f:
    check_plain_table(f.read(), lens, Vocabulary(lens["model"]["directory"]))
PY
ACTUAL="$(mktemp)"
trap 'rm -f "$ACTUAL"' EXIT
NO_COLOR=1 COLUMNS=120 "$LOUPE" lens "$TEXT" > "$ACTUAL"
if ! diff -u "$EXPECTED" "$ACTUAL"; then
    echo "FAIL: the table differs from $EXPECTED" >&2
    exit 1
fi
echo "ok: lens golden table"
