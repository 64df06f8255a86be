#!/usr/bin/env python3
"""Writes a plain-text corpus of random documents (separated by blank lines)
of MIN .. MAX words drawn from a small fixed vocabulary, reproducible from
SEED: a corpus of many short documents for the corpus tests.
    python3 tests/data/word_corpus.py OUT SEED DOCUMENTS MIN MAX"""
import random
import sys

out, seed, documents, low, high = sys.argv[1], *map(int, sys.argv[2:6])
r = random.Random(seed)
words = "the cat sat on a mat while dogs ran far away into deep woods and rivers".split()
docs = [" ".join(r.choice(words) for _ in range(r.randint(low, high))) for _ in range(documents)]
with open(out, "w") as corpus:
    corpus.write("\n\n".join(docs) + "\n")
