"""Deterministic splits with a frozen holdout.

A row's split depends only on a hash of its own values and the salt: appending rows never
moves an old row, identical rows always land together (no leak of a duplicate across splits),
and the holdout that decides champion against challenger stays the same set of block groups.
"""

import hashlib

import numpy as np
import numpy.typing as npt

from core.profile import FloatArray


def row_positions(matrix: FloatArray, salt: str) -> FloatArray:
    """Each row's place in [0, 1), uniform over rows, from blake2b(salt, row float64 bytes)."""
    # Adding 0.0 turns -0.0 into 0.0: equal values must hash alike.
    rows = np.ascontiguousarray(np.asarray(matrix, dtype=np.float64) + 0.0)
    key = salt.encode()
    digests = [hashlib.blake2b(row.tobytes(), digest_size=8, key=key).digest() for row in rows]
    integers = np.array([int.from_bytes(d, "big") for d in digests], dtype=np.float64)
    return integers / 2.0**64


def assign_splits(
    matrix: FloatArray, salt: str, holdout_fraction: float, validation_fraction: float
) -> npt.NDArray[np.str_]:
    """`holdout`, `validation` or `train` for each row of the matrix."""
    position = row_positions(matrix, salt)
    cut = holdout_fraction + validation_fraction
    return np.where(
        position < holdout_fraction, "holdout", np.where(position < cut, "validation", "train")
    )
