"""Paired t-test: a hand-worked case, agreement with scipy, table layout, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from mmrec_lib.analysis.stats import paired_ttest

A = [1.0, 2.0, 3.0, 4.0]
B = [2.0, 4.0, 5.0, 7.0]


def test_hand_worked_case():
    # differences b - a = 1, 2, 2, 3: mean 2, sd sqrt(2/3), t = 2 / (sqrt(2/3) / 2)
    result = paired_ttest(A, B, unit="seed")
    assert result.mean_diff == pytest.approx(2.0)
    assert result.t == pytest.approx(2 / (math.sqrt(2 / 3) / 2))
    assert result.t == pytest.approx(4.899, abs=1e-3)
    assert (result.n, result.dof) == (4, 3)
    assert (result.mean_a, result.mean_b) == (2.5, 4.5)
    assert result.std_a == pytest.approx(np.std(A, ddof=1))
    assert result.std_b == pytest.approx(np.std(B, ddof=1))
    half_width = stats.t.ppf(0.975, 3) * math.sqrt(2 / 3) / 2
    assert result.ci95_low == pytest.approx(2 - half_width)
    assert result.ci95_high == pytest.approx(2 + half_width)
    assert result.ci95_low < result.mean_diff < result.ci95_high
    assert result.ci95_low > 0  # significant at 5 %, consistent with p
    assert result.p < 0.05


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_matches_scipy(alternative):
    rng = np.random.default_rng(0)
    a = rng.normal(0.68, 0.02, size=10)
    b = a + rng.normal(0.02, 0.01, size=10)
    result = paired_ttest(a, b, unit="seed", alternative=alternative)
    reference = stats.ttest_rel(b, a, alternative=alternative)
    assert result.t == pytest.approx(reference.statistic)
    assert result.p == pytest.approx(reference.pvalue)
    assert result.t > 0  # b is larger: the sign follows b - a
    assert result.alternative == alternative and result.unit == "seed"


def test_one_sided_p_values_halve_the_two_sided_one():
    two = paired_ttest(A, B, unit="seed").p
    assert paired_ttest(A, B, unit="seed", alternative="greater").p == pytest.approx(two / 2)
    assert paired_ttest(A, B, unit="seed", alternative="less").p == pytest.approx(1 - two / 2)


def test_paper_table_layout():
    table = paired_ttest(A, B, unit="seed").to_frame("SASRec", "SASRec+")
    assert list(table.columns) == ["SASRec", "SASRec+"]
    assert list(table.index) == [
        "Mean", "Standard deviation", "Observations", "degrees of freedom", "t statistic",
        "p-value",
    ]  # fmt: skip
    assert table.loc["Mean", "SASRec+"] == 4.5
    assert table.loc["Observations", "SASRec"] == 4
    assert table.loc["t statistic", "SASRec+"] == pytest.approx(4.899, abs=1e-3)
    assert np.isnan(table.loc["p-value", "SASRec"])


@pytest.mark.parametrize(
    "a, b, kwargs, message",
    [
        ([1.0, 2.0], [1.0, 2.0, 3.0], {}, "equal length"),
        ([1.0], [2.0], {}, "at least 2"),
        ([1.0, np.nan], [2.0, 3.0], {}, "NaN"),
        ([1.0, 2.0], [2.0, 3.5], {"alternative": "bigger"}, "alternative"),
        ([1.0, 2.0], [2.0, 3.5], {"unit": ""}, "unit"),
        ([[1.0, 2.0]], [[2.0, 3.5]], {}, "1-D"),
    ],
)
def test_bad_input(a, b, kwargs, message):
    with pytest.raises(ValueError, match=message):
        paired_ttest(a, b, **{"unit": "seed", **kwargs})
