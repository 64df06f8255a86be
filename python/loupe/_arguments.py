"""Checks of what a caller passes, before it reaches the library: the
library validates values (ids against the vocabulary, lengths against the
context); these turn Python types it cannot take into LoupeError."""
import numbers
import os

import numpy as np

from .errors import LoupeError


def path(value, name):
    """A str or os.PathLike as the str the library takes."""
    if isinstance(value, (str, os.PathLike)):
        return os.fsdecode(os.fspath(value))
    raise LoupeError(f"{name}: expected a path (str or os.PathLike), got {type(value).__name__}")


def integer(value, name, low=None, high=None):
    """An int (bool refused) within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise LoupeError(f"{name}: expected a whole number, got {type(value).__name__}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise LoupeError(f"{name}: expected a whole number from {low} to {high}, got {value}")
    return value


def flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise LoupeError(f"{name}: expected True or False, got {type(value).__name__}")
    return bool(value)


def token_ids(value, name="ids"):
    """A sequence of token ids (list, tuple or integer numpy array) as a
    contiguous int32 array (T); the library checks them against the
    vocabulary."""
    if isinstance(value, (str, bytes)):
        raise LoupeError(f"{name}: expected token ids, got {type(value).__name__}")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exception:
        raise LoupeError(f"{name}: expected a sequence of token ids ({exception})") from None
    if array.ndim != 1:
        raise LoupeError(f"{name}: expected a flat sequence of token ids, got an array of shape {array.shape}")
    if array.size == 0:
        return np.zeros(0, dtype=np.int32)
    if array.dtype == object and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in array):
        array = np.array([int(v) for v in array], dtype=object)  # ints beyond int64: range-checked below
    elif array.dtype.kind not in "iu":
        raise LoupeError(f"{name}: expected whole-number token ids, got {array.dtype} values")
    low, high = array.min(), array.max()
    if low < -2**31 or high >= 2**31:
        raise LoupeError(f"{name}: token id {low if low < -2**31 else high} is outside the vocabulary")
    return np.ascontiguousarray(array, dtype=np.int32)


def window(value, n, name):
    """A window over n rows or positions, given as a slice, a (first, end)
    pair, an "A:B" string as the command takes it, or None (all): the
    half-open range (first, end), resolved as Python resolves a slice."""
    if value is None:
        return 0, n
    if isinstance(value, str):
        parts = value.split(":")
        try:
            if len(parts) != 2:
                raise ValueError
            value = slice(*(int(p) if p.strip() else None for p in parts))
        except ValueError:
            raise LoupeError(f"{name}: expected A:B (either end may be left out), got '{value}'") from None
    elif isinstance(value, tuple) and len(value) == 2:
        value = slice(*value)
    if not isinstance(value, slice):
        raise LoupeError(f"{name}: expected a slice, a (first, end) pair or 'A:B', got {type(value).__name__}")
    for end in (value.start, value.stop):
        if end is not None:
            integer(end, name)
    first, end, step = value.indices(n)
    if step != 1:
        raise LoupeError(f"{name}: the step of a window must be 1, got {step}")
    if end <= first:
        raise LoupeError(f"{name}: {value.start}:{value.stop} selects nothing of {n}")
    return first, end
