#!/usr/bin/env bash
# loupe corpus --format csv and loupe corpus-merge --format csv: the CSV
# (read with Python's csv module, RFC 4180) holds exactly the JSON's
# per-layer numbers of the same run: one line per metric of "metrics" and
# row (count, mean, p10, median, p90, exact) and per row ce_bits_per_byte,
# top1_is_final_top1, top1_is_target (in the mean column) and
# decision_layer (in the count column), each equal to the JSON's value,
# empty where the JSON has null (a corpus of no positions), lines ending in
# CRLF, nothing else. The CSV that corpus-merge writes from 3 shards' states
# equals the single run's: counts, fractions and quantiles exactly, means
# and bits per byte to 1e-8 relative (nine digits), and it matches the
# merged JSON as above.
set -uo pipefail
loupe=$1
export OMP_NUM_THREADS=1
here=$(cd "$(dirname "$0")" && pwd)
data=${LOUPE_TEST_DATA:-$here/../data}
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$py" "$data/byte_model.py" "$work/model" || exit 1
"$py" "$data/word_corpus.py" "$work/corpus.txt" 5 15 2 16 || exit 1
: >"$work/empty.txt"
options=(--model "$work/model" --subblocks --exact-limit 300)
for form in json csv; do
  "$loupe" corpus "${options[@]}" --format "$form" "$work/corpus.txt" >"$work/single.$form" || exit 1
  "$loupe" corpus "${options[@]}" --format "$form" "$work/empty.txt" >"$work/empty.$form" || exit 1
done
for ((i = 0; i < 3; i++)); do
  "$loupe" corpus "${options[@]}" --shard "$i/3" --save-state "$work/s$i" "$work/corpus.txt" >/dev/null || exit 1
done
for form in json csv; do
  "$loupe" corpus-merge --format "$form" "$work/s2" "$work/s0" "$work/s1" >"$work/merged.$form" || exit 1
done
"$py" - "$work" <<'PY'
import csv, io, json, math, sys
work = sys.argv[1]
failures = 0

def fail(message):
    global failures
    failures += 1
    print("FAIL:", message)

def read_csv(name):
    raw = open(f"{work}/{name}.csv", "rb").read()
    lines = raw.split(b"\r\n")
    if lines[-1] != b"" or any(b"\n" in line for line in lines):
        fail(f"{name}.csv: lines must end in CRLF")
    rows = list(csv.reader(io.StringIO(raw.decode(), newline="")))
    return rows

def number(text):
    return None if text == "" else float(text)

def check(name):
    """The CSV of name holds exactly the JSON's per-layer values."""
    doc = json.load(open(f"{work}/{name}.json"))
    rows = read_csv(name)
    if rows[0] != ["layer", "metric", "count", "mean", "p10", "median", "p90", "exact"]:
        fail(f"{name}: header {rows[0]}")
    expected = []
    for metric, summaries in doc["metrics"].items():
        for layer, s in zip(doc["layers"], summaries, strict=True):
            expected.append([layer, metric, s["count"], s["mean"], s["p10"], s["median"], s["p90"],
                             "true" if s["exact"] else "false"])
    for key in ("ce_bits_per_byte", "top1_is_final_top1", "top1_is_target"):
        for layer, value in zip(doc["layers"], doc[key], strict=True):
            expected.append([layer, key, None, value, None, None, None, ""])
    for layer, count in zip(doc["layers"], doc["decision_layer"], strict=True):
        expected.append([layer, "decision_layer", count, None, None, None, None, ""])
    got = rows[1:]
    if len(got) != len(expected):
        fail(f"{name}: {len(got)} lines, expected {len(expected)}")
    for line, (g, e) in enumerate(zip(got, expected), 2):
        if len(g) != 8:
            fail(f"{name}:{line}: {len(g)} fields")
            continue
        if g[:2] != e[:2] or g[7] != e[7]:
            fail(f"{name}:{line}: {g} vs {e}")
        count = None if g[2] == "" else int(g[2])
        if count != e[2]:
            fail(f"{name}:{line}: count {g[2]} vs {e[2]}")
        for col in range(3, 7):
            if number(g[col]) != e[col]:
                fail(f"{name}:{line}: {rows[0][col]} {g[col]!r} vs {e[col]!r}")
    return rows

single = check("single")
empty = check("empty")
merged = check("merged")
if not any(r[3] == "" for r in empty[1:]) or any(r[1] == "target_rank" and r[2] != "0" for r in empty[1:]):
    fail("empty corpus: expected counts 0 and empty (null) values")
if not any(r[7] == "false" for r in single[1:]) or not any(".attn" in r[0] for r in single[1:]):
    fail("the single run should have sketched (exact false) metrics and sub-block rows")
if len(merged) != len(single):
    fail(f"merged CSV has {len(merged)} lines, the single run's {len(single)}")
for line, (m, s) in enumerate(zip(merged, single), 1):
    for col, (a, b) in enumerate(zip(m, s)):
        if line > 1 and col == 3 and a and b and m[1] != "top1_is_final_top1" and m[1] != "top1_is_target":
            if not math.isclose(float(a), float(b), rel_tol=1e-8, abs_tol=1e-12):
                fail(f"merged line {line}: mean {a} vs {b}")
        elif a != b:
            fail(f"merged line {line} field {col}: {a!r} vs single {b!r}")
print(f"{len(single) - 1} lines of the single run, {len(merged) - 1} merged, {len(empty) - 1} of no positions:",
      "ok" if failures == 0 else f"{failures} failures")
sys.exit(1 if failures else 0)
PY
