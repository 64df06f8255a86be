"""Model.corpus: the loupe.corpus/1 document of `loupe corpus` as a dict,
texts in memory read as documents, the progress line, and Ctrl-C stopping
the run cleanly with the partial aggregate."""
import json
import os
import pathlib
import signal
import threading

import pytest

import loupe
from conftest import DATA, DEMO, loupe_command

CORPUS = pathlib.Path(DATA) / "corpus_small.txt"


def without_time(document):
    document = json.loads(json.dumps(document))
    del document["corpus"]["seconds"]
    return document


def test_the_document_is_the_commands(demo):
    printed = json.loads(loupe_command("corpus", "--model", DEMO, "--format", "json", "--max-tokens", "50",
                                       "--stride", "64", str(CORPUS)))
    ours = demo.corpus(CORPUS, max_tokens=50, stride=64, progress=False)
    assert without_time(ours) == without_time(printed)
    assert ours["partial"] is False and ours["corpus"]["positions"] == 50


def test_texts_are_documents(demo, tmp_path):
    texts = ["And God said, Let there be light: and there was light.",
             "In the beginning God created the heaven and the earth."]
    as_file = tmp_path / "texts.jsonl"
    as_file.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    from_file = demo.corpus(as_file, progress=False)
    from_memory = demo.corpus(texts, progress=False)
    assert from_memory["corpus"]["files"] == ["<texts>"]
    assert from_memory["corpus"]["documents"] == 2
    assert from_memory["metrics"] == from_file["metrics"]
    assert from_memory["decision_layer"] == from_file["decision_layer"]


def test_progress_is_shown(demo, capfd):
    demo.corpus(CORPUS, max_tokens=60, progress=True)
    shown = capfd.readouterr().err
    assert "tokens/s" in shown and "100%" in shown


def test_options_are_checked(demo):
    with pytest.raises(loupe.LoupeError, match="--stride: expected a whole number"):
        demo.corpus(CORPUS, stride=0, progress=False)
    with pytest.raises(loupe.LoupeError, match="unknown option 'colour'"):
        demo.corpus(CORPUS, colour=1)
    with pytest.raises(loupe.LoupeError, match="paths_or_texts"):
        demo.corpus([1, 2])
    with pytest.raises(loupe.LoupeError, match="no-such.txt"):
        demo.corpus(pathlib.Path("no-such.txt"), progress=False)


def test_ctrl_c_stops_with_the_partial_aggregate(demo):
    text = CORPUS.read_text()
    texts = [text] * 40
    timer = threading.Timer(3.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        document = demo.corpus(texts, progress=False)
    finally:
        timer.cancel()
    assert document["partial"] is True
    per_text = demo.corpus([text], progress=False)["corpus"]["positions"]
    assert 0 <= document["corpus"]["positions"] < 40 * per_text
