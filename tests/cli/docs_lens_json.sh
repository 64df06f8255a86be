#!/usr/bin/env bash
# The example cell of docs/LENS_JSON.md is the cell it says it is: every
# number shown equals (to 1e-5) that cell of a real run of the command the
# text names, so the example cannot mix positions again.
set -euo pipefail
LOUPE=${1:?usage: docs_lens_json.sh path/to/loupe}
here=$(cd "$(dirname "$0")" && pwd)
export PYTHONPATH="$here/../data"
python3 - "$LOUPE" "$here/../../docs/LENS_JSON.md" <<'PY'
import json, re, sys
from lens_reference import check, run_json

loupe, doc = sys.argv[1], open(sys.argv[2], encoding="utf-8").read()
section = doc[doc.index("## A cell"):]
m = re.search(r'row `(h\d+)`[^\n]*?at position (\d+).*?`loupe lens --format json "([^"]+)"`', section, re.S)
check(m is not None, "the example cell does not say which cell it is")
row_name, position, text = m[1], int(m[2]), m[3]
block = section[section.index("```json\n") + 8:]
block = block[:block.index("```")]
shown = json.loads(block.replace(", ...]", "]"))
lens = run_json(loupe, "lens", "--format", "json", text)
cell = lens["cells"][lens["layers"].index(row_name)][position]

def same(a, b, where):
    if isinstance(a, dict):
        check(set(a) == set(b), "%s: fields %s, the run has %s" % (where, sorted(a), sorted(b)))
        for key in a:
            same(a[key], b[key], where + "." + key)
    elif isinstance(a, list):
        for i, item in enumerate(a):  # the example may cut a list short
            same(item, b[i], "%s[%d]" % (where, i))
    else:
        check(abs(a - b) <= 1e-5 * max(1.0, abs(b)), "%s: the example shows %r, the run gives %r" % (where, a, b))

same(shown, cell, "cell")
check(len(shown["top"]) >= 1, "the example shows no top token")
print("docs_lens_json: the example cell is %s at position %d" % (row_name, position))
PY
