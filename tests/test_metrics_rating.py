"""Rating metrics on hand-worked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmrec_lib.metrics import hit_rate, mae, mse, rmse

PRED = [3.5, 4.0, 2.0, 5.0]
ACTUAL = [4.0, 4.0, 1.0, 3.0]


def test_errors_hand_case():
    # differences -0.5, 0, 1, 2: squares 0.25, 0, 1, 4
    assert mse(PRED, ACTUAL) == pytest.approx(5.25 / 4)
    assert rmse(PRED, ACTUAL) == pytest.approx(math.sqrt(5.25 / 4))
    assert mae(PRED, ACTUAL) == pytest.approx(3.5 / 4)
    assert mse(ACTUAL, ACTUAL) == 0.0


def test_hit_rate_is_thresholded_accuracy():
    # liked at >= 4: pred F T F T, actual T T F F -> agree on items 2 and 3
    assert hit_rate(PRED, ACTUAL) == pytest.approx(0.5)
    # at threshold 3: pred T T F T, actual T T F T -> all agree
    assert hit_rate(PRED, ACTUAL, threshold=3.0) == 1.0
    # the threshold itself counts as liked
    assert hit_rate([4.0], [3.99]) == 0.0


def test_two_dimensional_input():
    pred = np.array(PRED).reshape(2, 2)
    assert mse(pred, np.array(ACTUAL).reshape(2, 2)) == pytest.approx(5.25 / 4)


@pytest.mark.parametrize("metric", [mse, rmse, mae, hit_rate])
def test_bad_input(metric):
    with pytest.raises(ValueError, match="shape"):
        metric([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="empty"):
        metric([], [])
    with pytest.raises(ValueError, match="finite"):
        metric([1.0, np.nan], [1.0, 2.0])
