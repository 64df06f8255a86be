"""Compares two loupe.corpus/1 reports field by field, as the tests of the
ways of splitting a corpus run need (shards + corpus-merge, loupe-mpi)."""


def compare(got, want, fail, path=""):
    """Calls fail(message) for every field of got that differs from want:
    every field equal (.corpus.seconds aside), means, Spearman's rho and its
    interval to 1e-8 relative (the JSON's nine digits)."""
    if isinstance(want, dict):
        if set(got) != set(want):
            fail("%s: keys %r vs %r" % (path, sorted(got), sorted(want)))
            return
        for key in want:
            if path + "." + key != ".corpus.seconds":
                compare(got[key], want[key], fail, path + "." + key)
    elif isinstance(want, list):
        if len(got) != len(want):
            fail("%s: %d vs %d entries" % (path, len(got), len(want)))
            return
        for i, (g, w) in enumerate(zip(got, want)):
            compare(g, w, fail, "%s[%d]" % (path, i))
    elif isinstance(want, float) and isinstance(got, float) and (path.endswith(".mean") or path.endswith(".rho")
                                                                 or path.endswith(".low") or path.endswith(".high")):
        if abs(got - want) > 1e-8 * abs(want):
            fail("%s: %r vs %r" % (path, got, want))
    elif got != want:
        fail("%s: %r vs %r" % (path, got, want))
