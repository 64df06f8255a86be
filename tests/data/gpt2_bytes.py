"""GPT-2's byte-level alphabet, written from its definition for the tests.

The 188 printable bytes stand for themselves; the other 68 map, in byte
order, to U+0100 onwards. Shared by every test script that builds or reads a
GPT-2 vocabulary without loupe's own code.
"""


def bytes_to_unicode():
    """{byte: the character standing for it}."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(0x100 + extra)
            extra += 1
    return table


def unicode_to_bytes():
    """{character: the byte it stands for}."""
    return {c: b for b, c in bytes_to_unicode().items()}
