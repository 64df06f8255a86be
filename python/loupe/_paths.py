"""Where the package finds what lies beside the library it loaded: the
embedded demo model and the `loupe` command (which draws the pictures and
runs corpora), by the same rules as the command itself."""
import os
import shutil

from ._library import LIBRARY_PATH
from .errors import LoupeError


def _library_folder():
    return os.path.dirname(os.path.realpath(LIBRARY_PATH)) if os.sep in LIBRARY_PATH else None


def demo_model():
    """$LOUPE_MODEL, else gpt2-demo next to the library: ../models/gpt2-demo
    from a build folder, ../share/loupe/models/gpt2-demo from an install."""
    explicit = os.environ.get("LOUPE_MODEL")
    if explicit:
        return explicit
    folder = _library_folder()
    if folder is not None:
        for relative in ("../models/gpt2-demo", "../share/loupe/models/gpt2-demo"):
            candidate = os.path.normpath(os.path.join(folder, relative))
            if os.path.isfile(os.path.join(candidate, "config.json")):
                return candidate
    raise LoupeError("no model given and the embedded model gpt2-demo was not found next to "
                     f"{LIBRARY_PATH}; pass loupe.Model(\"path/to/model\") or set LOUPE_MODEL")


def executable():
    """$LOUPE_EXECUTABLE, else the `loupe` built or installed with the
    library (the same folder in a build tree, ../bin from an install), else
    `loupe` on PATH."""
    explicit = os.environ.get("LOUPE_EXECUTABLE")
    if explicit:
        return explicit
    folder = _library_folder()
    if folder is not None:
        for relative in ("loupe", "../bin/loupe"):
            candidate = os.path.normpath(os.path.join(folder, relative))
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
    found = shutil.which("loupe")
    if found:
        return found
    raise LoupeError(f"the loupe command was not found beside {LIBRARY_PATH} nor on PATH; "
                     "set LOUPE_EXECUTABLE")
