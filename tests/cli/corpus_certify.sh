#!/usr/bin/env bash
# loupe corpus --certify on the tiny test model (a byte-level tokenizer, so
# each short document is one window): per row the share of top1_certain
# cells and the radius quantiles must be those computed directly from
# `loupe lens --certify --format json` of each document (docs/CORPUS.md,
# "Certified"); bf16 weights can only widen; the table has the section;
# --weight-radius needs --certify.
set -euo pipefail
loupe=${1:?usage: corpus_certify.sh path/to/loupe}
here=$(cd "$(dirname "$0")" && pwd)
data=${LOUPE_TEST_DATA:-$here/../data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$data/byte_model.py" "$work/model" || exit 1
docs=("The quick brown fox jumps." "Over the lazy dog, twice!" "Certified or not: a lens.")
printf '%s<|endoftext|>' "${docs[@]}" >"$work/corpus.txt"
for ((i = 0; i < ${#docs[@]}; i++)); do
  "$loupe" lens --model "$work/model" --certify --format json "${docs[$i]}" >"$work/lens$i.json"
done
"$loupe" corpus --model "$work/model" --certify --separator '<|endoftext|>' --format json "$work/corpus.txt" \
  >"$work/exact.json"
"$loupe" corpus --model "$work/model" --certify --weight-radius bf16 --separator '<|endoftext|>' --format json \
  "$work/corpus.txt" >"$work/bf16.json"
"$loupe" corpus --model "$work/model" --certify --separator '<|endoftext|>' "$work/corpus.txt" >"$work/table.txt"
grep -q "^certified lens (weight radius 0, 3 windows)" "$work/table.txt" || { echo "FAILED: no certified table"; exit 1; }
if "$loupe" corpus --model "$work/model" --weight-radius bf16 "$work/corpus.txt" >/dev/null 2>&1; then
  echo "FAILED: --weight-radius without --certify accepted"; exit 1
fi
python3 - "$work" "${#docs[@]}" <<'PY'
import json, math, sys
work, n = sys.argv[1], int(sys.argv[2])
lenses = [json.load(open(f"{work}/lens{i}.json")) for i in range(n)]
exact, bf16 = json.load(open(f"{work}/exact.json")), json.load(open(f"{work}/bf16.json"))
failures = []
def check(ok, message):
    if not ok:
        failures.append(message)
rows = exact["certified"]["rows"]
check([r["row"] for r in rows] == lenses[0]["layers"], "row names")
check(exact["certified"]["windows"] == n and exact["certified"]["weight_radius"] == 0, "windows, weight radius")
check(bf16["certified"]["weight_radius"] == 2 ** -8, "bf16 weight radius")
inf = lambda x: math.inf if x is None else x
def lower_quantile(values, q):  # numpy method="lower"
    values = sorted(values)
    return values[int(math.floor(q * (len(values) - 1)))]
for r, row in enumerate(rows):
    # every position but a document's last predicts a next token and is scored
    cells = [lens["certified"]["cells"][r][t] for lens in lenses for t in range(len(lens["tokens"]) - 1)]
    certain = sum(c["top1_certain"] for c in cells) / len(cells)
    radii = [inf(c["radius"]) for c in cells]
    check(row["cells"] == len(cells), f"row {r}: {row['cells']} cells, expected {len(cells)}")
    check(abs(row["top1_certain"] - certain) < 1e-8, f"row {r}: certain {row['top1_certain']}, expected {certain}")
    for key, q in (("median", 0.5), ("p90", 0.9)):
        want, got = lower_quantile(radii, q), inf(row["radius"][key])
        check(got == want or abs(got - want) <= 1e-6 * abs(want), f"row {r}: radius {key} {got}, expected {want}")
    b = bf16["certified"]["rows"][r]
    check(b["top1_certain"] <= row["top1_certain"], f"row {r}: bf16 certifies more cells")
    check(inf(b["radius"]["median"]) >= inf(row["radius"]["median"]), f"row {r}: bf16 radius narrower")
check(rows[0]["top1_certain"] == 1, "the input row is not decided everywhere")
kernels = exact["certified"]["kernels"]
check(len(kernels) == len(rows) - 1 and all(k["layer"] == i + 1 for i, k in enumerate(kernels)), "kernel layers")
check(all(0 < k["qkv"] < inf(kernels[-1]["residual_2"]) for k in kernels[:1]), "kernel widths of layer 1")
for f in failures[:20]:
    print("FAILED:", f)
sys.exit(1 if failures else 0)
PY
