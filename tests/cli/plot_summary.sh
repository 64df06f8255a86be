#!/usr/bin/env bash
# loupe lens --summary x.svg: the rank panel plots per layer the median over
# the positions of the true next token's rank and of the input token's rank
# (the mean of the two middle ranks for an even count), computed here from
# the lens JSON of the same text; the KL panel the mean; the panel says
# "median". The text is chosen so that mean and median differ.
set -euo pipefail
LOUPE=${1:?usage: plot_summary.sh path/to/loupe}
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/plot_lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export PYTHONPATH="$(cd "$(dirname "$0")/../data" && pwd)"
python3 - "$LOUPE" <<'PY'
import os, sys, tempfile
import xml.etree.ElementTree as ET
from lens_reference import check, run, run_json

loupe = sys.argv[1]
NS = "{http://www.w3.org/2000/svg}"
work = tempfile.mkdtemp()

def median(values):
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2

def plotted(path):
    """{(series, layer): value} of the summary's points."""
    root = ET.parse(path).getroot()
    return {(g.get("data-series"), g.get("data-x")): float(g.get("data-value"))
            for g in root.iter(NS + "g") if g.get("class") == "point"}, ET.tostring(root, encoding="unicode")

def close(a, b):
    return abs(a - b) <= 1e-5 * max(1.0, abs(b))

differs = 0
# an odd and an even number of targets (the last position has none), and a window
for text, window in (("And God said, Let there be light: and there was light.", []),
                     ("The quick brown fox jumps over the lazy dog", []),
                     ("And God said, Let there be light: and there was light.", ["--positions", "2:9"])):
    lens = run_json(loupe, "lens", "--format", "json", "--topk", "1", *window, text)
    svg = os.path.join(work, "s.svg")
    run(loupe, "lens", "--summary", svg, *window, text)
    points, markup = plotted(svg)
    check("median rank over positions" in markup, "the rank panel does not say median")
    for row, name in enumerate(lens["layers"]):
        cells = lens["cells"][row]
        targets = [c["target"]["rank"] for c in cells if "target" in c and c["target"] is not None]
        inputs = [c["input"]["rank"] for c in cells]
        for series, values in (("rank of the true next token", targets), ("rank of the input token", inputs)):
            got, expected = points[(series, name)], median(values)
            check(close(got, expected), "%s at %s: plotted %g, the median is %g (of %r)" %
                  (series, name, got, expected, values))
            differs += not close(sum(values) / len(values), expected)
        kl = sum(c["kl_final"] for c in cells) / len(cells)
        check(close(points[("KL(final || row)", name)], kl), "KL(final || row) at %s: %g, the mean is %g" %
              (name, points[("KL(final || row)", name)], kl))
check(differs > 0, "no case where the mean and the median of the ranks differ")
print("plot_summary: ok")
PY
