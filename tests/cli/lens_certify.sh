#!/usr/bin/env bash
# `loupe lens --certify`: the JSON document's certified members against the
# ordinary lens of the same run (an independent float32 computation): every
# float32 logit, probability, rank, entropy and KL lies inside its interval
# (all but ranks to the float lens's own rounding), a top1_certain cell's
# top-1 is the float lens's, the input row is decided everywhere, and
# --weight-radius bf16 gives intervals that contain those at radius 0.
# Without --certify the document has no certified member. --metric
# certainty: the HTML heatmap's colours and values and the table's values
# follow the JSON's certainty, undefined exactly where top1_certain is false.
# The certified document is the same bytes with 1, 2 and 3 threads, and a
# cell whose top-1 logit is unbounded (the deep rows with bf16 weights
# overflow) reports top1 null and is never certain.
set -euo pipefail
loupe=${1:?usage: lens_certify.sh path/to/loupe}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
text="The quick brown fox jumps over the lazy dog."
"$loupe" lens --format json "$text" >"$work/plain.json"
"$loupe" lens --certify --format json "$text" >"$work/exact.json"
"$loupe" lens --certify --weight-radius bf16 --format json "$text" >"$work/bf16.json"
"$loupe" lens --certify --subblocks --layers 1:4 --positions 2:5 --format json "$text" >"$work/window.json"
"$loupe" lens --certify --metric certainty --plot "$work/certainty.html" "$text"
"$loupe" lens --certify --metric certainty --values --colour never "$text" >"$work/certainty.txt"
for threads in 1 3; do
  OMP_NUM_THREADS=$threads "$loupe" lens --certify --format json "$text" >"$work/threads-$threads.json"
done
OMP_NUM_THREADS=2 "$loupe" lens --certify --format json "$text" >"$work/threads-2.json"
for threads in 2 3; do
  cmp -s "$work/threads-1.json" "$work/threads-$threads.json" ||
    { echo "FAIL: --certify with $threads threads differs from 1 thread" >&2; exit 1; }
done
python3 - "$work" <<'PY'
import json, sys
from math import inf
work = sys.argv[1]
load = lambda name: json.load(open(f"{work}/{name}.json"))
plain, exact, bf16, window = load("plain"), load("exact"), load("bf16"), load("window")
failures = []
def check(ok, message):
    if not ok:
        failures.append(message)

check("certified" not in plain, "a document without --certify has a certified member")
check(len(exact["certified"]["cells"]) == len(exact["cells"]) and
      all(len(a) == len(b) for a, b in zip(exact["certified"]["cells"], exact["cells"])), "certified cells per cell")
slack = lambda x: 1e-5 * (1 + abs(x))
def inside(x, bounds, where):
    lo, hi = (-inf if bounds[0] is None else bounds[0]), (inf if bounds[1] is None else bounds[1])
    check(lo <= hi, f"{where}: bad interval {bounds}")
    check(lo - slack(x) <= x <= hi + slack(x), f"{where}: {x} outside {bounds}")

check(exact["certified"]["weight_radius"] == 0, "weight_radius is not 0")
check(bf16["certified"]["weight_radius"] == 2 ** -8, "bf16 is not 2^-8")
check(len(exact["certified"]["rows"]) == len(exact["layers"]), "one radius per row")
certain_rows = []
for r, row in enumerate(exact["cells"]):
    certain = 0
    for t, cell in enumerate(row):
        c, where = exact["certified"]["cells"][r][t], f"row {r} position {t}"
        for token in ("target", "input"):
            if token not in cell:
                check(f"{token}_logit" not in c, f"{where}: {token} intervals without a {token}")
                continue
            inside(cell[token]["logit"], c[f"{token}_logit"], f"{where} {token}_logit")
            inside(cell[token]["prob"], c[f"{token}_prob"], f"{where} {token}_prob")
            best, worst = c[f"{token}_rank"]
            check(best <= cell[token]["rank"] <= worst, f"{where}: {token} rank {cell[token]['rank']} outside {best, worst}")
        for key in ("entropy", "kl_final", "kl_final_rev", "kl_first", "kl_first_rev"):
            inside(cell[key], c[key], f"{where} {key}")
        if c["top1_certain"]:
            certain += 1
            check(c["top1"] == cell["top"][0][0], f"{where}: certain top-1 {c['top1']}, the float lens's {cell['top'][0][0]}")
            check(c["certainty"] is None or c["certainty"] > 1, f"{where}: certain with a margin of {c['certainty']} radii")
        b = bf16["certified"]["cells"][r][t]
        for key in ("target_logit", "target_prob", "input_logit", "input_prob", "target_rank", "input_rank",
                    "entropy", "kl_final", "kl_final_rev", "kl_first", "kl_first_rev"):
            if key in c:
                lo, hi = (-inf if b[key][0] is None else b[key][0]), (inf if b[key][1] is None else b[key][1])
                check(lo <= (c[key][0] if c[key][0] is not None else -inf) and
                      (c[key][1] if c[key][1] is not None else inf) <= hi, f"{where}: bf16 {key} {b[key]} misses {c[key]}")
    certain_rows.append(certain)
    m = exact["certified"]["rows"][r]["radius"]
    median, top = (inf if m["median"] is None else m["median"]), (inf if m["max"] is None else m["max"])
    check(0 <= median <= top, f"row {r}: radius {m}")
check(certain_rows[0] == len(exact["cells"][0]), f"input row: {certain_rows[0]} certain cells")
check(window["layers"] == ["h1.attn", "h1", "h2.attn"] and len(window["certified"]["rows"]) == 3, "window rows")
check(len(window["certified"]["cells"]) == 3 and all(len(row) == 3 for row in window["certified"]["cells"]),
      "window cells")
# --metric certainty in the HTML heatmap: its rows are listed top-down (final row first)
html = open(f"{work}/certainty.html", encoding="utf-8").read()
start = html.index('<script type="application/json" id="lens-data">') + len('<script type="application/json" id="lens-data">')
data = json.loads(html[start:html.index("</script>", start)])
choice = data["metrics"]["certainty/-/-"]
R, P = len(exact["cells"]), len(exact["cells"][0])
check(data["rows"] == exact["layers"][::-1], "HTML rows")
pairs = []
for line in range(R):
    for t in range(P):
        c = exact["certified"]["cells"][R - 1 - line][t]
        colour, text = choice["colour"][line * P + t], choice["value"][line * P + t]
        if not c["top1_certain"]:
            check(colour == -1 and text == "-", f"HTML line {line} position {t}: an uncertain cell coloured {colour}")
            continue
        margin = inf if c["certainty"] is None else c["certainty"]
        check(colour >= 0, f"HTML line {line} position {t}: a certain cell uncoloured")
        check(text == ("exact" if margin == inf else "%.2g" % margin), f"HTML value {text} for certainty {margin}")
        pairs.append((margin, colour))
pairs.sort()
check(all(a[1] <= b[1] for a, b in zip(pairs, pairs[1:])), "HTML colours do not rise with the certainty")
check(len({colour for _, colour in pairs}) > 2, "HTML colours do not vary")
# the table (wrapped into blocks of columns): each row's cells are "token value" pairs, tokens without spaces
values = {name: [] for name in exact["layers"]}
for line in open(f"{work}/certainty.txt", encoding="utf-8").read().split("\nlegend:")[0].splitlines():
    words = line.split()
    if words and words[0] in values:
        values[words[0]] += words[2::2]
for r, name in enumerate(exact["layers"]):
    want = ["-" if not c["top1_certain"] else "exact" if c["certainty"] is None else "%.2g" % c["certainty"]
            for c in exact["certified"]["cells"][r]]
    check(values[name] == want, f"table row {name}: values {values[name]}, expected {want}")
# unbounded cells: top1 null and never certain
unbounded = 0
for doc in (exact, bf16):
    for r, row in enumerate(doc["certified"]["cells"]):
        for t, c in enumerate(row):
            if c["top1"] is None:
                unbounded += 1
                check(not c["top1_certain"], f"row {r} position {t}: unbounded but certain")
check(unbounded > 0, "no cell with an unbounded top-1: the check above checked nothing")
for f in failures[:20]:
    print("FAILED:", f)
print("top1_certain per row:", certain_rows)
sys.exit(1 if failures else 0)
PY
