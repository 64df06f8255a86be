"""Every array of a LensResult against the JSON document the loupe command
writes for the same text and options (an independent path: the command's
own run, printed and parsed back), on both demo models, sub-blocks off and
on; to_json against the command's bytes; from_json of the command's
document."""
import json
import os

import numpy as np
import pytest

import loupe
from conftest import DEMO, DEMO_RELU, loupe_command

TEXT = "And God said, Let there be light: and there was light."

MODELS = [DEMO, pytest.param(DEMO_RELU, marks=pytest.mark.skipif(
    not os.path.isdir(DEMO_RELU), reason=f"the ReLU demo model is not at {DEMO_RELU}"))]


def expected_arrays(document):
    """The arrays a LensResult must hold, read from a loupe.lens/1 document."""
    cells = document["cells"]
    def grid(value):
        return np.array([[value(cell) for cell in row] for row in cells], dtype=np.float64)
    arrays = {name: grid(lambda cell, name=name: cell[name])
              for name in ("kl_final", "kl_final_rev", "kl_first", "kl_first_rev", "entropy")}
    for token in ("input", "final_top"):
        arrays[f"{token}_prob"] = grid(lambda cell, token=token: cell[token]["prob"])
    arrays["input_logit"] = grid(lambda cell: cell["input"]["logit"])
    arrays["input_rank"] = grid(lambda cell: cell["input"]["rank"])
    arrays["target_prob"] = grid(lambda cell: cell["target"]["prob"] if "target" in cell else np.nan)
    arrays["target_logit"] = grid(lambda cell: cell["target"]["logit"] if "target" in cell else np.nan)
    arrays["target_rank"] = grid(lambda cell: cell["target"]["rank"] if "target" in cell else -1)
    arrays["top_ids"] = np.array([[[pair[0] for pair in cell["top"]] for cell in row] for row in cells])
    arrays["top_probs"] = np.array([[[pair[1] for pair in cell["top"]] for cell in row] for row in cells])
    return arrays


def assert_matches(result, document):
    """result's every field equals the document's: floats as the float32 that
    %.9g round-trips, ranks and ids exactly."""
    assert result.rows == document["layers"]
    assert result.ids == [token["id"] for token in document["tokens"]]
    assert result.tokens == [token["text"] for token in document["tokens"]]
    for name, expected in expected_arrays(document).items():
        actual = getattr(result, name)
        assert actual.shape == expected.shape, name
        if name.endswith("rank") or name == "top_ids":
            assert actual.dtype == np.int32, name
            np.testing.assert_array_equal(actual, expected, err_msg=name)
        else:
            assert actual.dtype == np.float64, name
            np.testing.assert_array_equal(actual.astype(np.float32), expected.astype(np.float32), err_msg=name)


@pytest.mark.parametrize("subblocks", [False, True])
@pytest.mark.parametrize("model_dir", MODELS)
def test_arrays_equal_the_commands_json(model_dir, subblocks):
    model = loupe.Model(model_dir)
    options = ["--subblocks"] if subblocks else []
    printed = loupe_command("lens", "--model", model_dir, "--format", "json", "--topk", "7", *options, TEXT)
    document = json.loads(printed)
    result = model.lens(TEXT, topk=7, subblocks=subblocks)
    n_rows = 1 + model.info["n_layer"] * (2 if subblocks else 1)
    assert result.kl_final.shape == (n_rows, len(document["tokens"]))
    assert result.top_ids.shape == (n_rows, len(document["tokens"]), 7)
    assert_matches(result, document)
    # the last position has no next token; every other one has
    assert np.isnan(result.target_prob[:, -1]).all() and (result.target_rank[:, -1] == -1).all()
    assert (result.target_rank[:, :-1] >= 1).all()
    assert result.to_json().encode() == printed


def test_window_equals_the_commands_window(demo):
    printed = loupe_command("lens", "--model", DEMO, "--format", "json", "--layers", "2:-1", "--positions", "-4:",
                            TEXT)
    result = demo.lens(TEXT, layers="2:-1", positions=slice(-4, None))
    assert_matches(result, json.loads(printed))
    assert result.to_json().encode() == printed
    assert result.rows == ["h2", "h3", "h4", "h5"]


def test_ids_and_options_as_the_command(demo):
    printed = loupe_command("lens", "--model", DEMO, "--format", "json", "--bos", "--no-special",
                            "Hello<|endoftext|>world")
    result = demo.lens("Hello<|endoftext|>world", bos=True, no_special=True)
    assert_matches(result, json.loads(printed))
    assert result.ids[0] == 50256 and 50256 not in result.ids[1:]
    by_ids = demo.lens(result.ids)
    np.testing.assert_array_equal(by_ids.kl_final, result.kl_final)


def test_from_json_reads_the_commands_document(demo, tmp_path):
    printed = loupe_command("lens", "--model", DEMO, "--format", "json", "--subblocks", TEXT)
    path = tmp_path / "lens.json"
    path.write_bytes(printed)
    for source in (path, str(path), printed.decode()):
        saved = loupe.LensResult.from_json(source)
        assert_matches(saved, json.loads(printed))
        assert saved.subblocks and saved.topk == 5
        assert saved.to_json().encode() == printed


def test_next_tokenize_and_decode_as_the_command(demo):
    printed = json.loads(loupe_command("next", "--model", DEMO, "--json", "--topk", "10", "And God said"))
    ours = demo.next("And God said", k=10)
    assert [i for i, _, _ in ours] == [entry["id"] for entry in printed["next"]]
    assert [s for _, s, _ in ours] == [entry["text"] for entry in printed["next"]]
    np.testing.assert_allclose([p for _, _, p in ours], [entry["prob"] for entry in printed["next"]], rtol=1e-5)
    assert demo.tokenize("And God said") == printed["ids"]
    assert demo.decode(printed["ids"]) == "And God said"
    assert demo.token_strings(printed["ids"]) == ["And", " God", " said"]


def test_info_is_the_commands(demo):
    printed = json.loads(loupe_command("info", "--model", DEMO, "--json"))
    info = demo.info
    assert info["architecture"] == printed["architecture"] == "GPT2LMHeadModel"
    for ours, theirs in (("n_layer", "n_layer"), ("n_embd", "n_embd"), ("n_head", "n_head"),
                         ("vocab_size", "n_vocab"), ("context", "n_ctx")):
        assert info[ours] == printed[theirs], ours
    assert info["dtype"] == "F16" and info["parameters"] == printed["n_parameters"]


def test_the_readme_line(demo):
    assert loupe.Model().lens("And God said").kl_final.shape == (7, 3)
