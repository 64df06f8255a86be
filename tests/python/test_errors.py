"""What a caller can get wrong raises loupe.LoupeError with the library's
one-line message (naming the file or field), and never takes the
interpreter down."""
import os
import shutil

import numpy as np
import pytest

import loupe
from conftest import DATA, DEMO


def test_missing_folder(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(loupe.LoupeError) as caught:
        loupe.Model(missing)
    assert str(missing) in str(caught.value) and "\n" not in str(caught.value)
    assert isinstance(caught.value, Exception)


def test_truncated_safetensors(tmp_path):
    folder = tmp_path / "truncated"
    shutil.copytree(os.path.join(DATA, "gpt2-tiny-gelu"), folder)
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(loupe.LoupeError) as caught:
        loupe.Model(folder)
    assert "model.safetensors" in str(caught.value)
    assert caught.value.status == "format error"


def test_hostile_header(tmp_path):
    folder = tmp_path / "hostile"
    shutil.copytree(os.path.join(DATA, "gpt2-tiny-gelu"), folder)
    (folder / "model.safetensors").write_bytes((2**62).to_bytes(8, "little") + b"{}")
    with pytest.raises(loupe.LoupeError, match="model.safetensors"):
        loupe.Model(folder)


@pytest.mark.parametrize("call, field", [
    (lambda m: loupe.Model(42), "directory"),
    (lambda m: m.lens(3.5), "text"),
    (lambda m: m.lens(["a", "b"]), "text"),
    (lambda m: m.lens([[1, 2]]), "text"),
    (lambda m: m.lens("x", topk="5"), "topk"),
    (lambda m: m.lens("x", topk=0), "topk"),
    (lambda m: m.lens("x", topk=101), "topk"),
    (lambda m: m.lens("x", subblocks="yes"), "subblocks"),
    (lambda m: m.lens("And God said", layers="1:2:3"), "layers"),
    (lambda m: m.lens("And God said", positions=slice(5, 9)), "positions"),
    (lambda m: m.tokenize(None), "text"),
    (lambda m: m.next("x", k=0), "k"),
    (lambda m: m.lens_logits([1, 2], "h9"), "row"),
    (lambda m: m.lens_logits([1, 2], 7), "row"),
    (lambda m: m.hidden_states([1, 2], subblocks=1), "subblocks"),
    (lambda m: m.decode([2**40]), "ids"),
])
def test_wrong_argument_types_and_values(demo, call, field):
    with pytest.raises(loupe.LoupeError) as caught:
        call(demo)
    assert str(caught.value).startswith(field + ":"), str(caught.value)


def test_ids_outside_the_vocabulary(demo):
    with pytest.raises(loupe.LoupeError, match=r"token id 50257 at position 1 is outside the vocabulary"):
        demo.lens([1, 50257])
    with pytest.raises(loupe.LoupeError, match="outside the vocabulary"):
        demo.hidden_states(np.array([-1], dtype=np.int64))


def test_empty_text(demo):
    for call in (demo.lens, demo.next, demo.hidden_states):
        with pytest.raises(loupe.LoupeError, match="the text has no tokens"):
            call("")
    with pytest.raises(loupe.LoupeError, match="the text has no tokens"):
        demo.lens_logits([], 0)


def test_text_longer_than_the_context(demo):
    text = " light" * 600
    for call in (demo.lens, demo.next, demo.hidden_states, lambda t: demo.lens_logits(t, 0)):
        with pytest.raises(loupe.LoupeError, match="600 tokens, longer than the model's context of 512 tokens"):
            call(text)


def test_bad_lens_documents(tmp_path):
    with pytest.raises(loupe.LoupeError, match="no-such.json"):
        loupe.LensResult.from_json(str(tmp_path / "no-such.json"))
    with pytest.raises(loupe.LoupeError, match="schema"):
        loupe.LensResult.from_json('{"schema": "loupe.lens/2"}')
    with pytest.raises(loupe.LoupeError, match="<document>"):
        loupe.LensResult.from_json("{not json")
    with pytest.raises(loupe.LoupeError):
        loupe.LensResult.from_json(17)


def test_plot_refuses_what_the_command_refuses(demo, tmp_path):
    result = demo.lens("And God said")
    with pytest.raises(loupe.LoupeError, match="--metric: expected one of"):
        result.plot(tmp_path / "lens.svg", metric="colour")
    with pytest.raises(loupe.LoupeError, match=r"\.png, \.svg or \.html"):
        result.plot(tmp_path / "lens.gif")
    with pytest.raises(loupe.LoupeError, match="cannot create the file"):
        result.plot(tmp_path / "no-folder" / "lens.svg")


def test_a_folder_without_a_tokenizer_runs_on_ids():
    model = loupe.Model(os.path.join(DATA, "gpt2-tiny-gelu"))
    assert model.lens([1, 2, 3]).kl_final.shape == (4, 3)
    with pytest.raises(loupe.LoupeError, match="vocab.json|tokenizer"):
        model.tokenize("x")
