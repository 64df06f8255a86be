#!/usr/bin/env bash
# loupe lens --window N --stride S: every position's cells are those of
# `loupe lens` run on the window that scores it, by the rule of
# docs/CORPUS.md written again here (windows every S tokens, the last moved
# back to end at the text's end; a position in the first window holding it
# and its next token; the last position in the last window). A text within
# one window is the plain lens, byte for byte. The PNG and SVG heatmaps wrap
# into panels of at most --columns positions: the SVG repeats the row names
# once per panel, and the pictures grow down, not across.
set -euo pipefail
LOUPE=${1:?usage: lens_window.sh path/to/loupe}
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/plot_lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export PYTHONPATH="$(cd "$(dirname "$0")/../data" && pwd)"
python3 - "$LOUPE" <<'PY'
import json, math, os, re, struct, sys, tempfile
from lens_reference import check, run, run_json

loupe = sys.argv[1]
work = tempfile.mkdtemp()
text = ("In the beginning God created the heaven and the earth. And the earth was without form, and void; "
        "and darkness was upon the face of the deep. And the Spirit of God moved upon the face of the waters. "
        "And God said, Let there be light: and there was light. And God saw the light, that it was good.")
ids = run_json(loupe, "tokenize", "--json", text)["ids"]
n = len(ids)

def window_starts(n, size, stride):
    starts, s = [], 0
    while True:
        if s + size >= n:
            starts.append(max(0, n - size))
            return starts
        starts.append(s)
        s += stride

def scoring_start(t, starts, size):
    if t == n - 1: return starts[-1]
    return next(s for s in starts if s <= t and t + 1 < min(s + size, n))

for size, stride in [(24, 10), (32, 31)]:
    lens = run_json(loupe, "lens", "--format", "json", "--window", str(size), "--stride", str(stride), text)
    check(lens["positions"] == [0, n] and [t["id"] for t in lens["tokens"]] == ids, "--window %d: tokens" % size)
    starts = window_starts(n, size, stride)
    check(len(starts) > 2, "the text must need several windows of %d" % size)
    windows = {s: run_json(loupe, "lens", "--format", "json", "--ids", ",".join(map(str, ids[s:s + size])))
               for s in starts}
    for t in range(n):
        s = scoring_start(t, starts, size)
        for row in range(len(lens["layers"])):
            check(lens["cells"][row][t] == windows[s]["cells"][row][t - s],
                  "--window %d --stride %d: cell (%d, %d) is not window %d's" % (size, stride, row, t, s))

# one window: the plain lens, byte for byte; the table too
plain, _, _ = run(loupe, "lens", "--format", "json", "And God said")
windowed, _, _ = run(loupe, "lens", "--format", "json", "--window", "8", "And God said")
check(plain == windowed, "a text within one window must be the plain lens")

# a text longer than the context: refused without --window, lensed with it
long_ids = ",".join(map(str, (ids * 10)[:600]))
_, err, _ = run(loupe, "lens", "--format", "json", "--ids", long_ids, expect=1)
lens = run_json(loupe, "lens", "--format", "json", "--window", "320", "--stride", "280", "--ids", long_ids)
check(lens["positions"] == [0, 600] and len(lens["cells"][0]) == 600, "600 tokens through windows of 320")
saved = os.path.join(work, "long.json")
with open(saved, "w") as f: json.dump(lens, f)

# panels: row names once per panel, the picture grows down
def svg_size(path):
    head = open(path).read(4000)
    width = float(re.search(r'<svg[^>]* width="([0-9.]+)', head).group(1))
    height = float(re.search(r'<svg[^>]* height="([0-9.]+)', head).group(1))
    return width, height, open(path).read().count('class="layer-name"')

def png_size(path):
    data = open(path, "rb").read(32)
    check(data[:8] == b"\x89PNG\r\n\x1a\n", path + ": not a PNG")
    return struct.unpack(">II", data[16:24])

rows = len(lens["layers"])
sizes = {}
for columns in [64, 200, 600]:
    svg = os.path.join(work, "long-%d.svg" % columns)
    run(loupe, "plot", "--columns", str(columns), "--plot", svg, saved)
    width, height, names = svg_size(svg)
    panels = math.ceil(600 / columns)
    check(names == rows * panels, "--columns %d: %d row names, expected %d panels of %d" % (columns, names, panels, rows))
    sizes[columns] = (width, height)
check(sizes[64][0] < sizes[200][0] < sizes[600][0], "wider panels, wider pictures: %r" % sizes)
check(sizes[64][1] > sizes[200][1] > sizes[600][1], "more panels, taller pictures: %r" % sizes)
panel = (sizes[64][1] - sizes[600][1]) / 9   # 10 panels against 1
check(abs((sizes[200][1] - sizes[600][1]) - 2 * panel) < 1e-6, "each panel adds the same height: %r" % sizes)
# the PNG that a single row of 600 columns cannot be (E1502) is drawn in panels
png = os.path.join(work, "long.png")
run(loupe, "plot", "--plot", png, saved)
width, height = png_size(png)
check(width <= 32767 and height <= 32767 and abs(width - sizes[64][0] * 1.5) <= 2, "PNG %dx%d" % (width, height))
_, err, _ = run(loupe, "plot", "--columns", "600", "--plot", os.path.join(work, "wide.png"), saved, expect=1)
check("more than 32767 on a side" in err, "600 columns in one panel should be refused: %r" % err)
print("lens --window and heatmap panels: ok")
PY
