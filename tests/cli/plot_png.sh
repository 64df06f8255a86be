#!/usr/bin/env bash
# loupe lens --plot x.png and --summary y.png: the PNG decodes (a PNG reader
# written here on zlib: chunks, CRCs, filters), its size is the SVG's size
# scaled by --dpi / 96, and it is not blank (pixel variance, several
# distinct colours). Bad --dpi and extensions are refused with status 2.
set -euo pipefail
LOUPE=${1:?usage: plot_png.sh path/to/loupe}
# under ASan: fontconfig's process-wide caches are not leaks of ours
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/plot_lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export PYTHONPATH="$(cd "$(dirname "$0")/../data" && pwd)"
python3 - "$LOUPE" <<'PY'
import math, os, struct, sys, tempfile, zlib
import xml.etree.ElementTree as ET
from lens_reference import check, run

loupe = sys.argv[1]
text = "In the beginning God created the heaven and the earth."
work = tempfile.mkdtemp()

def read_png(path):
    data = open(path, "rb").read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n", path + ": no PNG signature")
    at, idat, header = 8, b"", None
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        crc = struct.unpack(">I", data[at + 8 + length:at + 12 + length])[0]
        check(zlib.crc32(kind + body) == crc, "%s: bad CRC in %s" % (path, kind))
        if kind == b"IHDR": header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT": idat += body
        at += 12 + length
    width, height, depth, colour_type = header[:4]
    check(depth == 8 and colour_type in (2, 6), "%s: depth %d colour type %d" % (path, depth, colour_type))
    channels = 4 if colour_type == 6 else 3
    raw, stride = zlib.decompress(idat), width * channels
    rows, previous, at = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[at], bytearray(raw[at + 1:at + 1 + stride])
        at += 1 + stride
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1: line[i] = (line[i] + a) & 255
            elif kind == 2: line[i] = (line[i] + b) & 255
            elif kind == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows

def check_picture(png, svg, dpi):
    width, height, channels, rows = read_png(png)
    root = ET.parse(svg).getroot()
    w, h = float(root.get("width")), float(root.get("height"))
    expected = (math.ceil(w * dpi / 96 - 1e-9), math.ceil(h * dpi / 96 - 1e-9))
    check(abs(width - expected[0]) <= 1 and abs(height - expected[1]) <= 1,
          "%s: %d x %d pixels, expected %d x %d (the SVG's %.1f x %.1f at %g dpi)" % (png, width, height, *expected, w, h, dpi))
    grey = [sum(row[i:i + 3]) / 3 for row in rows[::3] for i in range(0, len(row), channels * 3)]
    mean = sum(grey) / len(grey)
    variance = sum((g - mean) ** 2 for g in grey) / len(grey)
    check(variance > 100, "%s: pixel variance %.1f, the picture looks blank" % (png, variance))
    colours = {row[i:i + 3] for row in rows[::5] for i in range(0, len(row), channels * 5)}
    check(len(colours) > 20, "%s: only %d colours" % (png, len(colours)))

for dpi in (96, 192):
    png, svg = os.path.join(work, "h%d.png" % dpi), os.path.join(work, "h.svg")
    run(loupe, "lens", "--metric", "rank", "--vs", "first", "--dpi", str(dpi), "--plot", png, "--plot", png, text)
    run(loupe, "lens", "--metric", "rank", "--vs", "first", "--plot", svg, text)
    check_picture(png, svg, dpi)
    spng, ssvg = os.path.join(work, "s%d.png" % dpi), os.path.join(work, "s.svg")
    run(loupe, "lens", "--dpi", str(dpi), "--summary", spng, text)
    run(loupe, "lens", "--summary", ssvg, text)
    check_picture(spng, ssvg, dpi)
    # the summary has a point per layer and series: 4 KLs, 2 ranks
    points = [g for g in ET.parse(ssvg).getroot().iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "point"]
    check(len(points) == 7 * 6, "%d summary points, expected 7 layers x 6 series" % len(points))

# pictures only: nothing on stdout without --format
out, _, _ = run(loupe, "lens", "--plot", os.path.join(work, "x.png"), text)
check(out == "", "loupe lens --plot printed the table too")
for bad in (["--dpi", "10"], ["--dpi", "x"], ["--plot", os.path.join(work, "x.jpg")], ["--summary", "x"]):
    _, err, code = run(loupe, "lens", *bad, text, expect=2)
    check(bad[0] in err, "no message naming %s: %r" % (bad[0], err))
print("plot_png: ok")
PY
