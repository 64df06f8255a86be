#!/usr/bin/env bash
# loupe lens --plot x.svg and loupe plot LENS.json --plot x.svg: the SVG parses
# as XML and has one cell per layer x position, each labelled with the top-1
# token of the lens JSON (rendered independently from vocab.json), the input
# tokens along the bottom, the true next tokens along the top with the
# correct-prediction marks, the layer names in order; a windowed JSON plots
# its window.
set -euo pipefail
LOUPE=${1:?usage: plot_svg.sh path/to/loupe}
# under ASan: fontconfig's process-wide caches are not leaks of ours
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/plot_lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export PYTHONPATH="$(cd "$(dirname "$0")/../data" && pwd)"
python3 - "$LOUPE" <<'PY'
import json, os, subprocess, sys, tempfile
import xml.etree.ElementTree as ET
from lens_reference import Vocabulary, check, fit, run, run_json

loupe = sys.argv[1]
NS = "{http://www.w3.org/2000/svg}"
text = "And God said, Let there be light: and there was light."
work = tempfile.mkdtemp()

def luminance(colour):
    r, g, b = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b

def check_svg(path, lens, vocab, bottom_up=True):
    root = ET.parse(path).getroot()
    check(root.tag == NS + "svg", "root is %s" % root.tag)
    groups = root.iter(NS + "g")
    by_class = {}
    for g in root.iter(NS + "g"):
        by_class.setdefault(g.get("class"), []).append(g)
    layers, tokens, cells = lens["layers"], lens["tokens"], lens["cells"]
    R, P, first = len(layers), len(tokens), lens["positions"][0]
    got = by_class.get("cell", [])
    check(len(got) == R * P, "%s: %d cells, expected %d x %d" % (path, len(got), R, P))
    seen = set()
    for g in got:
        i = layers.index(g.get("data-layer"))
        j = int(g.get("data-position")) - first
        check(0 <= j < P, "position %s outside the window" % g.get("data-position"))
        seen.add((i, j))
        expected = fit(vocab.render(cells[i][j]["top"][0][0]))
        label = g.find(NS + "text").text or ""
        check(label == expected and g.get("data-token") == expected,
              "%s: cell (%s, %d) says %r, expected %r" % (path, layers[i], first + j, label, expected))
        check(g.find(NS + "rect") is not None, "cell without a rectangle")
    check(len(seen) == R * P, "cells repeat")
    inputs = by_class.get("input-token", [])
    check([g.find(NS + "text").text or "" for g in inputs] == [fit(vocab.render(t["id"])) for t in tokens],
          "%s: input tokens along the bottom differ" % path)
    nexts = by_class.get("next-token", [])
    check(len(nexts) == P, "%d next-token labels" % len(nexts))
    for j, g in enumerate(nexts):
        target = cells[0][j].get("target")
        expected = fit(vocab.render(target["id"])) if target else ""
        label = (g.find(NS + "text").text or "") if g.find(NS + "text") is not None else ""
        check(label == expected, "next token %d: %r != %r" % (j, label, expected))
        correct = target is not None and cells[0][j]["final_top"]["id"] == target["id"]
        check(g.get("data-correct") == ("true" if correct else "false"), "next token %d: correct flag" % j)
        check((g.find(NS + "polygon") is not None) == correct, "next token %d: marker drawn iff correct" % j)
    names = [g.find(NS + "text").text for g in by_class.get("layer-name", [])]
    check(names == (layers[::-1] if bottom_up else layers), "layer names %r" % names)
    check(root.find(NS + "title") is not None and lens["model"]["name"] in root.find(NS + "title").text,
          "the title does not name the model")
    return got

# the whole lens, coloured by the probability of the final top-1 token
out, _, _ = run(loupe, "lens", "--format", "json", text)
lens = json.loads(out)
vocab = Vocabulary(lens["model"]["directory"])
svg = os.path.join(work, "lens.svg")
run(loupe, "lens", "--plot", svg, text)
cells = check_svg(svg, lens, vocab)
# colour follows the metric: the brightest cell holds the highest probability
probs = {(g.get("data-layer"), g.get("data-position")): g for g in cells}
def prob(g):
    i = lens["layers"].index(g.get("data-layer"))
    return lens["cells"][i][int(g.get("data-position"))]["final_top"]["prob"]
ordered = sorted(cells, key=prob)
low, high = ordered[0].find(NS + "rect").get("fill"), ordered[-1].find(NS + "rect").get("fill")
check(luminance(high) > luminance(low), "the most probable cell is not brighter than the least")

# a saved window, drawn by loupe plot, top-down, with --metric kl
window_json = os.path.join(work, "window.json")
with open(window_json, "w") as f:
    f.write(run(loupe, "lens", "--format", "json", "--layers", "2:6", "--positions", "3:10", text)[0])
window = json.load(open(window_json))
svg2 = os.path.join(work, "window.svg")
run(loupe, "plot", "--metric", "kl", "--top-down", "--plot", svg2, window_json)
check_svg(svg2, window, vocab, bottom_up=False)
title = ET.parse(svg2).getroot().find(NS + "title").text
check("KL(final || row)" in title and "vs the final row" in title, "title %r names neither metric nor comparison" % title)
print("plot_svg: ok")
PY
