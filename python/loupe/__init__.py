"""loupe: the logit lens for transformer language models, from Python.

    import loupe
    m = loupe.Model()                 # the embedded demo model, or loupe.Model("path/to/hf-folder")
    r = m.lens("And God said")        # a LensResult: numpy arrays of every row and position
    r.kl_final.shape                  # (7, 3)

Every number comes from the C library libloupe (include/loupe.h) through
cffi; docs/PYTHON.md describes the whole API.
"""
from .errors import LoupeError
from .lens_result import LensResult
from .model import Model

__all__ = ["Model", "LensResult", "LoupeError"]
__version__ = "0.1.0"
