#!/usr/bin/env bash
# loupe plot A.json B.json --plot FILE: saved corpus reports overlaid. Each
# report's points carry the medians and fractions of its own JSON (read here
# from the files), one series per report named in the legend, each band in
# the legend; a log panel with zeros (KL(final || final) = 0 at the last
# row) draws them on its 0-labelled bottom edge and says so; no title repeats
# its unit; the PNG is the SVG's size at 144 dpi. Reports with other rows,
# or a file that is not a corpus report, are refused.
set -euo pipefail
LOUPE=${1:?usage: plot_overlay.sh path/to/loupe}
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/plot_lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export PYTHONPATH="$(cd "$(dirname "$0")/../data" && pwd)"
findings=$(cd "$(dirname "$0")/../../docs/findings" && pwd)
python3 - "$LOUPE" "$findings/gpt2-demo-full.json" "$findings/gpt2-demo-relu-full.json" <<'PY'
import json, os, re, struct, sys, tempfile
import xml.etree.ElementTree as ET
from lens_reference import check, run

loupe, first, second = sys.argv[1:4]
work = tempfile.mkdtemp()
reports = [json.load(open(first)), json.load(open(second))]
names = [r["model"]["name"] for r in reports]
svg = os.path.join(work, "o.svg")
run(loupe, "plot", "--plot", svg, first, second)
root = ET.parse(svg).getroot()
ns = "{http://www.w3.org/2000/svg}"
texts = ["".join(t.itertext()) for t in root.iter(ns + "text")]
points = {}
for g in root.iter(ns + "g"):
    if g.get("class") == "point":
        points.setdefault(g.get("data-series"), []).append((g.get("data-x"), float(g.get("data-value"))))
check(sorted(points) == sorted(names), "series %r" % sorted(points))
for report, name in zip(reports, names):
    layers = report["layers"]
    expected = []
    for metric in ["target_rank", "input_rank", "kl_final", "entropy"]:
        expected += [(layers[r], report["metrics"][metric][r]["median"]) for r in range(len(layers))]
    expected += list(zip(layers, report["top1_is_target"]))
    got = points[name]
    check(len(got) == len(expected), "%s: %d points, expected %d" % (name, len(got), len(expected)))
    for (x, value), (ex, evalue) in zip(got, expected):
        check(x == ex and abs(value - evalue) <= 1e-5 * max(1.0, abs(evalue)), "%s at %s: %g, expected %g" % (name, x, value, evalue))
    check(sum(t == name for t in texts) == 5, "%s in each legend" % name)
    check(sum(t == name + " 10% .. 90%" for t in texts) == 4, "%s's band in each banded legend" % name)
check(not any(re.search(r"\(([^()]*)\) \(\1\)", t) or "(1 = top) (rank)" in t for t in texts), "a unit repeated")
kl_title = [t for t in texts if t.startswith("median KL(final || layer)")]
check(len(kl_title) == 1 and "0 drawn on the bottom edge" in kl_title[0], "the log zero explained: %r" % kl_title)
check(("h6", 0.0) in points[names[0]], "KL(final || final) = 0 drawn")
check(texts.count("0") >= 2, "0 labels")  # the KL panel's bottom edge and the linear panels

png = os.path.join(work, "o.png")
run(loupe, "plot", "--plot", png, first, second)
width, height = struct.unpack(">II", open(png, "rb").read(24)[16:24])
check(abs(width - float(root.get("width")) * 1.5) <= 2 and abs(height - float(root.get("height")) * 1.5) <= 2, "PNG size")

# refusals
lens = os.path.join(work, "lens.json")
out, _, _ = run(loupe, "lens", "--format", "json", "hello world")
open(lens, "w").write(out)
_, err, _ = run(loupe, "plot", "--plot", svg, first, lens, expect=1)
check(err.strip() == "loupe: plot: %s is not a corpus document: several files overlay saved loupe corpus --format json reports" % lens, err)
fewer = os.path.join(work, "fewer.json")
short = dict(reports[1]); short["layers"] = short["layers"][:-1]
short["metrics"] = {k: v[:-1] for k, v in short["metrics"].items()}
for key in ["top1_is_final_top1", "top1_is_target"]: short[key] = short[key][:-1]
short["rarity"] = None
short["decision_layer"] = short["decision_layer"][:-1] if isinstance(short["decision_layer"], list) else short["decision_layer"]
json.dump(short, open(fewer, "w"))
_, err, _ = run(loupe, "plot", "--plot", svg, first, fewer, expect=1)
check(err.strip() == "loupe: plot: %s has other layers than %s (6 rows and 7): the reports must have the same rows"
      % (fewer, first), "other rows: %r" % err)
print("plot overlay: ok")
PY
