"""Reference helpers for the `loupe lens` CLI tests (tests/cli/lens_*.sh).

Independent of loupe's own code: token texts come from the model's vocab.json
through the GPT-2 byte-to-unicode table, the readable form follows the rules
of loupe_tokenizer_render as documented in include/loupe.h, and the plain
table is parsed from its documented layout (docs/LENS_OUTPUT.md).
"""
import codecs
import json
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_bytes import unicode_to_bytes  # noqa: E402

ELLIPSIS = "\u2026"
OPEN_BOX = "\u2423"
TOKEN_MAX_WIDTH = 12


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def exact_projection():
    """Whether the lens's projection is tile_gemm (the avx512 level), whose
    elements are the same bits whatever call computes them, so lenses of the
    same taps in other shapes (sub-block or contribution rows, batches) must
    be the same bits: LOUPE_CPU unset or avx512 on a CPU with AVX-512."""
    with open("/proc/cpuinfo") as f:
        has_avx512 = " avx512f" in f.read()
    return os.environ.get("LOUPE_CPU", "avx512") == "avx512" and has_avx512


def lens_documents_agree(a, b):
    """Two parsed lens documents (or parts) agree: equal with the avx512
    projection; below it cblas_sgemm may sum a logit in another order when
    the product has another shape (OpenBLAS's Haswell and Zen kernels do), so
    numbers agree within float32 rounding, 1e-5 relative as tests/test_lens.c
    and tests/test_lens_batch.c allow, and everything else exactly."""
    if exact_projection() or type(a) is not type(b):
        return a == b
    if isinstance(a, float):
        return abs(a - b) <= 1e-5 * (1.0 + abs(b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(lens_documents_agree(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(lens_documents_agree(x, y) for x, y in zip(a, b))
    return a == b


def run(loupe, *args, env=None, expect=0):
    """Runs loupe with args; returns (stdout, stderr) as text."""
    full_env = dict(os.environ)
    if env:
        for key, value in env.items():
            if value is None:
                full_env.pop(key, None)
            else:
                full_env[key] = value
    done = subprocess.run([loupe, *args], capture_output=True, env=full_env)
    if expect is not None and done.returncode != expect:
        fail("loupe %s: exit %d, expected %d; stderr: %s"
             % (" ".join(args), done.returncode, expect, done.stderr.decode(errors="replace")))
    return done.stdout.decode("utf-8"), done.stderr.decode("utf-8", errors="replace"), done.returncode


def target_cross_entropy(cell):
    """-log p(target) of a loupe.lens/1 cell: log Z recovered from the most probable of the cell's tokens as
    logit - log prob (accurate where that probability is not tiny), less the target's logit."""
    k = max(("target", "input", "final_top"), key=lambda key: cell[key]["prob"])
    return cell[k]["logit"] - math.log(cell[k]["prob"]) - cell["target"]["logit"]


def run_json(loupe, *args, env=None):
    out, _, _ = run(loupe, *args, env=env)
    return json.loads(out)


def _angle_hex(error):
    bad = error.object[error.start:error.end]
    return ("".join("<0x%02X>" % b for b in bad), error.end)


codecs.register_error("lens_angle_hex", _angle_hex)


def bytes_text(raw):
    """Token bytes as loupe prints them in JSON and CSV: valid UTF-8 as is,
    other bytes as <0xNN>."""
    return raw.decode("utf-8", errors="lens_angle_hex")


def byte_decoder():
    """GPT-2's byte-level alphabet: the byte each unicode character stands for."""
    return unicode_to_bytes()


class Vocabulary:
    """id -> token bytes, read from the model folder's vocab.json."""

    def __init__(self, directory):
        with open(os.path.join(directory, "vocab.json"), encoding="utf-8") as f:
            vocab = json.load(f)
        decoder = byte_decoder()
        self.bytes = {}
        for piece, token_id in vocab.items():
            self.bytes[token_id] = bytes(decoder[c] for c in piece)

    def text(self, token_id):
        return bytes_text(self.bytes[token_id])

    def render(self, token_id):
        return render_bytes(self.bytes[token_id])


def render_bytes(raw):
    """The readable form loupe_tokenizer_render documents: a leading space as
    U+2423, \\n \\t \\r as two characters, control characters and bytes that
    are not valid UTF-8 as <0xNN>."""
    out = []
    at = 0
    while at < len(raw):
        b = raw[at]
        if b == 0x20 and at == 0:
            out.append(OPEN_BOX)
            at += 1
            continue
        if b in (0x0A, 0x09, 0x0D):
            out.append({0x0A: "\\n", 0x09: "\\t", 0x0D: "\\r"}[b])
            at += 1
            continue
        length = 1 if b < 0x80 else 2 if 0xC2 <= b <= 0xDF else 3 if 0xE0 <= b <= 0xEF else 4 if 0xF0 <= b <= 0xF4 else 0
        character = None
        if length and at + length <= len(raw):
            try:
                character = raw[at:at + length].decode("utf-8")
            except UnicodeDecodeError:
                character = None
        if character is not None and not (ord(character) < 0x20 or 0x7F <= ord(character) <= 0x9F):
            out.append(character)
            at += length
            continue
        count = length if character is not None else 1
        out.append("".join("<0x%02X>" % x for x in raw[at:at + count]))
        at += count
    return "".join(out)


def fit(text, width=TOKEN_MAX_WIDTH):
    """Cut to width columns with an ellipsis (texts in these tests are all
    one column per character)."""
    if len(text) <= width:
        return text
    return text[:width - 1] + ELLIPSIS


def parse_plain_table(out, n_rows):
    """Splits a plain (uncoloured) table into blocks. Each block is a marker
    line, a header line and n_rows row lines; blocks are separated by one
    empty line and the legend starts with "legend:". Returns a list of
    {"markers": [columns of '*'], "header": [(column, token)], "rows":
    [(name, [(column, token)])]}; tokens never hold a space here."""
    lines = out.split("\n")
    check("legend:" in lines, "no legend line in:\n" + out)
    body = lines[:lines.index("legend:")]
    check(body and body[-1] == "", "no empty line before the legend")
    body = body[:-1]
    check((len(body) + 1) % (n_rows + 3) == 0,
          "table has %d lines, not a whole number of blocks of %d+2 lines" % (len(body), n_rows))
    blocks = []
    for start in range(0, len(body), n_rows + 3):
        if start > 0:
            check(body[start - 1] == "", "no empty line between blocks")
        marker, header = body[start], body[start + 1]
        rows = []
        for line in body[start + 2:start + 2 + n_rows]:
            fields = words_with_columns(line)
            rows.append((fields[0][1], fields[1:]))
        blocks.append({"markers": [i for i, c in enumerate(marker) if c == "*"],
                       "header": words_with_columns(header), "rows": rows,
                       "lines": body[start:start + 2 + n_rows]})
    return blocks


def words_with_columns(line):
    """[(column, word)] for the space-separated words of a line."""
    words = []
    column = 0
    for part in line.split(" "):
        if part:
            words.append((column, part))
        column += len(part) + 1
    return words


def check_plain_table(out, lens, vocab, top_down=False, width=None):
    """Checks a plain table against the JSON of the same run. Every block:
    the row names in order, the header holding the window's input tokens,
    each cell the top-1 of its (row, position) in the column of its
    position, '*' over the columns whose final top-1 is the next token.
    Returns the blocks."""
    names = lens["layers"] if top_down else lens["layers"][::-1]
    row_index = {name: i for i, name in enumerate(lens["layers"])}
    blocks = parse_plain_table(out, len(names))
    first_position = lens["positions"][0]
    seen = []
    for block in blocks:
        check([name for name, _ in block["rows"]] == names, "row names %r, expected %r" % ([n for n, _ in block["rows"]], names))
        header = block["header"]
        positions = list(range(first_position + len(seen), first_position + len(seen) + len(header)))
        for (column, token), t in zip(header, positions):
            expected = fit(render_bytes(vocab.bytes[lens["tokens"][t - first_position]["id"]]))
            check(" " not in expected, "test text has a token with a space: %r" % expected)
            check(token == expected, "header at position %d: %r, expected %r" % (t, token, expected))
        columns = [column for column, _ in header]
        for name, cells in block["rows"]:
            check([c for c, _ in cells] == columns, "row %s: cells not under their header tokens" % name)
            for (column, token), t in zip(cells, positions):
                cell = lens["cells"][row_index[name]][t - first_position]
                expected = fit(vocab.render(cell["top"][0][0]))
                check(token == expected, "row %s position %d: %r, expected top-1 %r" % (name, t, token, expected))
        # final_top is the same in every row: the model's own top-1
        marked = [columns[k] for k, t in enumerate(positions)
                  if "target" in lens["cells"][0][t - first_position]
                  and lens["cells"][0][t - first_position]["final_top"]["id"] == lens["cells"][0][t - first_position]["target"]["id"]]
        check(block["markers"] == marked, "markers at columns %r, expected %r" % (block["markers"], marked))
        if width is not None:
            for line in block["lines"]:
                check(len(line) <= width, "line wider than %d: %r" % (width, line))
        seen += positions
    check(seen == list(range(*lens["positions"])), "the blocks show positions %r" % seen)
    return blocks
