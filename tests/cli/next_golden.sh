#!/usr/bin/env bash
# `loupe next` on the embedded model against a golden file made by an
# independent plain-Python GPT-2 (tests/reference/gpt2_reference.py), and
# against that reference run afresh on a second prompt.
set -euo pipefail
loupe=$1
here=$(cd "$(dirname "$0")" && pwd)
data=${LOUPE_TEST_DATA:-$here/../data}

"$loupe" next --json --topk 10 "And God said, Let there be" > "${TMPDIR:-/tmp}/loupe-next-$$.json"
trap 'rm -f "${TMPDIR:-/tmp}/loupe-next-$$.json"' EXIT
python3 - "${TMPDIR:-/tmp}/loupe-next-$$.json" "$data/next_golden.json" <<'PY'
import json, sys
ours = json.load(open(sys.argv[1])); golden = json.load(open(sys.argv[2]))
# GPT-2's own ids for the prompt: And, " God", " said", ",", " Let", " there", " be"
assert ours["ids"] == [1870, 1793, 531, 11, 3914, 612, 307], ours["ids"]
assert len(ours["next"]) == 10
for got, (gid, gprob) in zip(ours["next"], golden["top"]):
    assert got["id"] == gid, (got, gid)
    assert abs(got["prob"] - gprob) < 1e-5, (got, gprob)
assert ours["next"][0]["text"] == " no", ours["next"][0]
print("next golden: ok")
PY

# A second prompt, the reference run now (Python prose, 5 tokens).
ids=$("$loupe" tokenize --json "The Python interpreter" | python3 -c 'import json,sys; print(" ".join(map(str, json.load(sys.stdin)["ids"])))')
"$loupe" next --json --topk 5 "The Python interpreter" | python3 -c '
import json, subprocess, sys
ours = json.load(sys.stdin)
ref = json.loads(subprocess.check_output([sys.executable, sys.argv[1], sys.argv[2]] + sys.argv[3].split() + ["--topk", "5"]))
for got, (rid, rprob) in zip(ours["next"], ref["top"]):
    assert got["id"] == rid and abs(got["prob"] - rprob) < 1e-5, (got, rid, rprob)
print("next vs reference: ok")' "$here/../reference/gpt2_reference.py" "$(dirname "$here")/../models/gpt2-demo" "$ids"
