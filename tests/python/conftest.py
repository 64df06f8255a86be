"""Shared by the Python package's tests: where the command, the models and
the fixtures are (tests/python/run.sh sets LOUPE_LIBRARY, LOUPE_EXECUTABLE
and PYTHONPATH to the build being tested)."""
import atexit
import json
import os
import shutil
import struct
import subprocess
import tempfile

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.environ.get("LOUPE_TEST_DATA", os.path.join(ROOT, "tests", "data"))
DEMO = os.path.join(os.environ.get("LOUPE_MODELS", os.path.join(ROOT, "models")), "gpt2-demo")


def relu_variant_of(folder):
    """A temporary model folder with folder's weights and tokenizer (linked)
    and its config with activation_function "relu": the ReLU code path on
    the real GPT-2 tokenizer. Removed when the tests end."""
    variant = tempfile.mkdtemp(prefix="loupe-relu-")
    atexit.register(shutil.rmtree, variant, True)
    for name in os.listdir(folder):
        if name != "config.json":
            os.symlink(os.path.join(folder, name), os.path.join(variant, name))
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as file:
        config = json.load(file)
    config["activation_function"] = "relu"
    with open(os.path.join(variant, "config.json"), "w", encoding="utf-8") as file:
        json.dump(config, file)
    return variant


# The second demo model (ReLU) is not in the repository: $LOUPE_DEMO_RELU
# names its folder; without it, gpt2-demo's weights run with ReLU.
DEMO_RELU = os.environ.get("LOUPE_DEMO_RELU") or relu_variant_of(DEMO)


def loupe_command(*arguments):
    """Runs the loupe command; returns its stdout (bytes), failing the test
    on a non-zero exit."""
    done = subprocess.run([os.environ["LOUPE_EXECUTABLE"], *arguments], capture_output=True,
                          env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def read_safetensors(path):
    """The tensors of a safetensors file as numpy arrays (F32 and I32 only:
    the fixtures' dtypes)."""
    with open(path, "rb") as file:
        data = file.read()
    (header_length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_length])
    body = data[8 + header_length:]
    dtypes = {"F32": np.float32, "I32": np.int32}
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(body[begin:end], dtype=dtypes[entry["dtype"]]).reshape(entry["shape"])
    return tensors


@pytest.fixture(scope="session")
def demo():
    import loupe
    return loupe.Model(DEMO)
