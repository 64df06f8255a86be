"""hidden_states and lens_logits against the Hugging Face transformers
fixtures of tests/data (reference.safetensors: transformers' every hidden
state and every lens row's logits, lm_head(ln_f(hidden)), as the C tests
test_gpt2_forward and test_lens read them), to 1e-4."""
import os

import numpy as np
import pytest

import loupe
from conftest import DATA, read_safetensors

FIXTURES = ["gpt2-tiny-gelu", "gpt2-tiny-relu", "gpt2-tiny-bf16", "llama-tiny"]


@pytest.mark.parametrize("name", FIXTURES)
def test_hidden_states_and_lens_logits_match_transformers(name):
    folder = os.path.join(DATA, name)
    reference = read_safetensors(os.path.join(folder, "reference.safetensors"))
    model = loupe.Model(folder)
    ids = reference["input_ids"].tolist()
    n_layer = model.info["n_layer"]
    hidden = model.hidden_states(ids)
    assert hidden.dtype == np.float32
    assert hidden.shape == (n_layer + 1, len(ids), model.info["n_embd"])
    # transformers' last hidden state is after the final norm; the lens's is
    # before it: that row is checked through its logits below
    for layer in range(n_layer):
        np.testing.assert_allclose(hidden[layer], reference[f"hidden.{layer}"], rtol=0, atol=1e-4,
                                   err_msg=f"{name}: hidden state {layer}")
    expected_logits = reference["lens_logits"]
    assert expected_logits.shape[0] == n_layer + 1
    for row in range(n_layer + 1):
        logits = model.lens_logits(ids, row)
        assert logits.dtype == np.float32 and logits.shape == (len(ids), model.info["vocab_size"])
        np.testing.assert_allclose(logits, expected_logits[row], rtol=0, atol=1e-4,
                                   err_msg=f"{name}: lens row {row}")
    # a row by name and by negative index is the same row
    np.testing.assert_array_equal(model.lens_logits(ids, "input"), model.lens_logits(ids, 0))
    np.testing.assert_array_equal(model.lens_logits(ids, -1), model.lens_logits(ids, n_layer))


def test_subblock_rows_interleave_the_attention_taps():
    folder = os.path.join(DATA, "gpt2-tiny-gelu")
    reference = read_safetensors(os.path.join(folder, "reference.safetensors"))
    model = loupe.Model(folder)
    ids = reference["input_ids"].tolist()
    plain = model.hidden_states(ids)
    with_attention = model.hidden_states(ids, subblocks=True)
    assert with_attention.shape[0] == 2 * model.info["n_layer"] + 1
    # rows 0, 2, 4, ... are the block outputs of the plain lens
    np.testing.assert_array_equal(with_attention[0::2], plain)
    # an attention tap is the block's input plus attention: not the block's output
    assert not np.allclose(with_attention[1], plain[1])
    np.testing.assert_array_equal(model.lens_logits(ids, "h1.attn", subblocks=True),
                                  model.lens_logits(ids, 1, subblocks=True))
