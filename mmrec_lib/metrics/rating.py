"""Rating-prediction metrics (paper A): errors, and its thresholded "hit rate".

Inputs are numpy arrays or anything ``numpy.asarray`` accepts (lists, CPU tensors
without grad); predictions and actual ratings must have the same shape.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def mse(pred: ArrayLike, actual: ArrayLike) -> float:
    """Mean squared error."""
    pred, actual = _paired(pred, actual)
    return float(np.mean((pred - actual) ** 2))


def rmse(pred: ArrayLike, actual: ArrayLike) -> float:
    """Root mean squared error."""
    return float(np.sqrt(mse(pred, actual)))


def mae(pred: ArrayLike, actual: ArrayLike) -> float:
    """Mean absolute error."""
    pred, actual = _paired(pred, actual)
    return float(np.mean(np.abs(pred - actual)))


def hit_rate(pred: ArrayLike, actual: ArrayLike, threshold: float = 4.0) -> float:
    """Paper A's "hit rate": accuracy of ``pred >= threshold`` against ``actual >= threshold``.

    Each rating is turned into a binary "liked" label at the threshold, and the result is
    the share of ratings whose predicted label equals the actual one. It is a
    classification accuracy over ratings, NOT the ranking hit ratio HR@k of
    :mod:`mmrec_lib.metrics.ranking` (share of users whose held-out item is in the top k).
    """
    pred, actual = _paired(pred, actual)
    return float(np.mean((pred >= threshold) == (actual >= threshold)))


def _paired(pred: ArrayLike, actual: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    if pred.shape != actual.shape:
        raise ValueError(f"pred and actual differ in shape: {pred.shape} vs {actual.shape}")
    if pred.size == 0:
        raise ValueError("pred and actual are empty; need at least one rating")
    if not (np.isfinite(pred).all() and np.isfinite(actual).all()):
        raise ValueError("pred and actual must be finite (found NaN or inf)")
    return pred, actual
