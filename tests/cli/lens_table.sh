#!/usr/bin/env bash
# loupe lens, the terminal table: layout (rows, header, cells, markers,
# wrapping, windows) checked against the JSON of the same text and the
# model's vocab.json; colour escapes only when asked; the colour ramp
# ordered like the metric; bad option values refused with exit status 2.
set -euo pipefail
LOUPE=${1:?usage: lens_table.sh path/to/loupe}
export PYTHONPATH="$(cd "$(dirname "$0")/../data" && pwd)"
python3 - "$LOUPE" <<'PY'
import re
import sys
from lens_reference import Vocabulary, check, check_plain_table, fit, run, run_json

loupe = sys.argv[1]
PLAIN = {"NO_COLOR": "1", "COLORTERM": None}
short = "And God said, Let there be light"
long_text = ("In the beginning God created the heaven and the earth. And the earth was without form, "
             "and void; and darkness was upon the face of the deep.")

def table(text, *args, env=PLAIN):
    out, _, _ = run(loupe, "lens", *args, text, env=env)
    return out

def lens_for(text, *args):
    return run_json(loupe, "lens", "--format", "json", *args, text)

def check_table(out, lens, vocab, top_down=False, width=None):
    return check_plain_table(out, lens, vocab, top_down=top_down, width=width)

lens = lens_for(short)
vocab = Vocabulary(lens["model"]["directory"])
L = len(lens["layers"]) - 1

# plain, bottom-up by default and top-down on request; no escape codes
out = table(short, "--width", "200")
check("\x1b" not in out, "escape codes with NO_COLOR=1")
blocks = check_table(out, lens, vocab)
check(len(blocks) == 1, "a short text wrapped at width 200")
check(sum(1 for line in out.split("\n") if line.split(" ")[0] in lens["layers"]) == L + 1, "not one line per row")
check(out.split("\n").index("legend:") > L + 2, "legend before the table")
check_table(table(short, "--width", "200", "--top-down"), lens, vocab, top_down=True)
check("\x1b" not in table(short, "--color", "never", env={"NO_COLOR": None}), "escape codes with --color never")
check("\x1b" not in table(short, env={"NO_COLOR": None}), "escape codes with --color auto into a pipe")

# colour when asked, even with NO_COLOR; 24-bit with COLORTERM=truecolor, else the 256-colour cube
coloured = table(short, "--color", "always")
check("\x1b[48;5;" in coloured and "\x1b[48;2;" not in coloured, "--color always without COLORTERM: not 256 colours")
true = table(short, "--color", "always", env={"NO_COLOR": "1", "COLORTERM": "truecolor"})
check("\x1b[48;2;" in true, "COLORTERM=truecolor: no 24-bit escapes")

def luminance(rgb):
    def linear(c):
        c /= 255.0
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b

cell_pattern = re.compile("\x1b\\[48;2;(\\d+);(\\d+);(\\d+)m\x1b\\[38;2;(\\d+);(\\d+);(\\d+)m ([^\x1b]*)\x1b\\[0m")

def coloured_cells(out, names):
    """(row name, position, background, foreground, text) of every cell."""
    found = []
    for line in out.split("\n"):
        name = line.split(" ")[0]
        if name not in names or "\x1b" not in line:
            continue
        for t, m in enumerate(cell_pattern.finditer(line)):
            found.append((name, t, tuple(map(int, m.group(1, 2, 3))), tuple(map(int, m.group(4, 5, 6))), m.group(7).strip()))
    return found

def check_ramp(metric_args, value_of, brighter_when_larger):
    out = table(short, "--color", "always", "--width", "200", *metric_args, env={"NO_COLOR": None, "COLORTERM": "24bit"})
    cells = coloured_cells(out, lens["layers"])
    check(len(cells) == (L + 1) * len(lens["tokens"]), "%s: %d coloured cells" % (metric_args, len(cells)))
    pairs = []
    for name, t, bg, fg, token in cells:
        cell = lens["cells"][lens["layers"].index(name)][t]
        check(token == fit(vocab.render(cell["top"][0][0])), "coloured cell text %r" % token)
        # the text colour is whichever of black and white contrasts more
        y = luminance(bg)
        black_better = (y + 0.05) / 0.05 >= 1.05 / (y + 0.05)
        check(fg == ((0, 0, 0) if black_better else (255, 255, 255)), "text %r on %r" % (fg, bg))
        pairs.append((value_of(cell), y))
    pairs.sort()
    for (v1, y1), (v2, y2) in zip(pairs, pairs[1:]):
        if v2 > v1:
            ok = y2 >= y1 - 1e-3 if brighter_when_larger else y2 <= y1 + 1e-3
            check(ok, "%s: value %r has luminance %.4f, value %r %.4f" % (metric_args, v1, y1, v2, y2))
    return out

prob_out = check_ramp([], lambda c: c["final_top"]["prob"], True)
check("legend:" in prob_out and "probability of the final row's top-1 token" in prob_out, "legend does not name the metric")
check_ramp(["--metric", "rank", "--vs", "first"], lambda c: c["input"]["rank"], False)
check_ramp(["--metric", "kl", "--kl", "reverse"], lambda c: c["kl_final_rev"], True)
check_ramp(["--metric", "entropy"], lambda c: c["entropy"], True)
check_ramp(["--metric", "logit", "--vs", "first"], lambda c: c["input"]["logit"], True)

# --values: "token value" in every cell, the value of the chosen metric
values = table(short, "--values", "--width", "300", "--metric", "prob", "--token", "target")
for line in values.split("\nlegend:\n")[0].split("\n"):
    words = line.split()
    if not words or words[0] not in lens["layers"]:
        continue
    row = lens["cells"][lens["layers"].index(words[0])]
    pairs = words[1:]
    check(len(pairs) == 2 * len(row), "--values row %s: %r" % (words[0], pairs))
    for t, cell in enumerate(row):
        expected = "-"
        if "target" in cell:
            expected = "%.2f" % cell["target"]["prob"]
            expected = expected[1:] if expected.startswith("0.") else expected
        check(pairs[2 * t + 1] == expected, "--values %s at %d: %r, expected %r" % (words[0], t, pairs[2 * t + 1], expected))

# wrapping: a 30-token text at width 60 gives several blocks, each with all row names
long_lens = lens_for(long_text)
check(len(long_lens["tokens"]) >= 30, "long text has only %d tokens" % len(long_lens["tokens"]))
wrapped = check_table(table(long_text, "--width", "60"), long_lens, vocab, width=60)
check(len(wrapped) >= 3, "width 60 gave %d blocks" % len(wrapped))
wrapped_sub = check_table(table(long_text, "--width", "60", "--subblocks", "--top-down"),
                          lens_for(long_text, "--subblocks"), vocab, top_down=True, width=60)

# windows select rows and columns
window = lens_for(short, "--layers", "1:3", "--positions", "2:5")
check(window["layers"] == ["h1", "h2"], "--layers 1:3 rows %r" % window["layers"])
check([t["id"] for t in window["tokens"]] == [t["id"] for t in lens["tokens"][2:5]], "--positions 2:5 tokens")
blocks = check_table(table(short, "--layers", "1:3", "--positions", "2:5"), window, vocab)
check([name for name, _ in blocks[0]["rows"]] == ["h2", "h1"], "--layers 1:3 table rows")
check(len(blocks[0]["header"]) == 3, "--positions 2:5 table columns")
check_table(table(short, "--layers", ":-1", "--positions", "-3:"), lens_for(short, "--layers", ":-1", "--positions", "-3:"), vocab)

# bad values: exit 2 and a message naming the option
for args, option in ((["--metric", "foo"], "--metric"), (["--layers", "x:y"], "--layers"), (["--topk", "0"], "--topk"),
                     (["--topk", "101"], "--topk"), (["--format", "xml"], "--format"), (["--vs", "last"], "--vs"),
                     (["--kl", "both"], "--kl"), (["--token", "next"], "--token"), (["--color", "sometimes"], "--color"),
                     (["--width", "abc"], "--width"), (["--positions", "5:2"], "--positions"),
                     (["--layers", "1:2:3"], "--layers"), (["--positions", "40:"], "--positions")):
    out, err, rc = run(loupe, "lens", *args, short, env=PLAIN, expect=None)
    check(rc == 2, "%r: exit %d, expected 2" % (args, rc))
    check(option in err, "%r: message %r does not name %s" % (args, err, option))
    check(out == "", "%r: printed output before failing" % (args,))
print("ok: lens table")
PY
