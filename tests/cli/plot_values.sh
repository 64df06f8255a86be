#!/usr/bin/env bash
# PNG/SVG heatmaps with --values (loupe lens --plot and loupe plot): each
# cell's text is its top-1 token and the metric's value, the value the
# saved JSON holds (the final top-1's probability, the default metric);
# without --values, the token alone. loupe plot --layers/--positions draws
# just that window of a saved lens: its cells, row names and positions.
set -euo pipefail
LOUPE=${1:?usage: plot_values.sh path/to/loupe}
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/plot_lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export PYTHONPATH="$(cd "$(dirname "$0")/../data" && pwd)"
python3 - "$LOUPE" <<'PY'
import json, os, sys, tempfile
import xml.etree.ElementTree as ET
from lens_reference import check, run, run_json

loupe = sys.argv[1]
work = tempfile.mkdtemp()
text = "And God said, Let there be light"
lens = run_json(loupe, "lens", "--format", "json", text)
saved = os.path.join(work, "lens.json")
json.dump(lens, open(saved, "w"))
ns = "{http://www.w3.org/2000/svg}"

def cells(path):
    out = []
    for g in ET.parse(path).getroot().iter(ns + "g"):
        if g.get("class") == "cell":
            out.append((g.get("data-layer"), int(g.get("data-position")), "".join(g.find(ns + "text").itertext())))
    return out

def row_of(name): return lens["layers"].index(name)

for command in (["lens", "--values", "--plot", os.path.join(work, "a.svg"), text],
                ["plot", "--values", "--plot", os.path.join(work, "a.svg"), saved]):
    run(loupe, *command)
    drawn = cells(os.path.join(work, "a.svg"))
    check(len(drawn) == len(lens["layers"]) * len(lens["tokens"]), "%s: %d cells" % (command[0], len(drawn)))
    for layer, t, label in drawn:
        token, _, number = label.rpartition(" ")
        prob = lens["cells"][row_of(layer)][t]["final_top"]["prob"]
        check(token != "" and abs(float(number) - prob) <= 0.005 + 1e-9, "%s (%s, %d): %r, prob %g" % (command[0], layer, t, label, prob))

run(loupe, "plot", "--plot", os.path.join(work, "b.svg"), saved)
for layer, t, label in cells(os.path.join(work, "b.svg")):
    check(not label.rsplit(" ", 1)[-1].replace(".", "").isdigit() or label.strip().isdigit(), "a value without --values: %r" % label)

run(loupe, "plot", "--layers", "2:5", "--positions", "-3:", "--plot", os.path.join(work, "c.svg"), saved)
drawn = cells(os.path.join(work, "c.svg"))
n = len(lens["tokens"])
check(sorted({layer for layer, _, _ in drawn}) == ["h2", "h3", "h4"], "rows %r" % drawn[:3])
check(sorted({t for _, t, _ in drawn}) == [n - 3, n - 2, n - 1] and len(drawn) == 9, "positions %r" % drawn)
# a window within a saved window
part = run_json(loupe, "lens", "--format", "json", "--positions", "2:6", text)
json.dump(part, open(os.path.join(work, "part.json"), "w"))
run(loupe, "plot", "--positions", "4:", "--plot", os.path.join(work, "d.svg"), os.path.join(work, "part.json"))
check(sorted({t for _, t, _ in cells(os.path.join(work, "d.svg"))}) == [4, 5], "positions 4: of the saved 2:6")
print("plot --values, --layers, --positions: ok")
PY
