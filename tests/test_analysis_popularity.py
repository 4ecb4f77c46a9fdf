"""Gains by item popularity: group labels by hand, paired statistics against scipy, and an
effect planted in the rare group found there and nowhere else."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mmrec_lib.analysis.popularity import gain_by_group, popularity_groups


def test_groups_by_hand():
    counts = np.array([0, 4, 5, 6, 7, 8, 20, 21, 100, 3])
    groups = popularity_groups(counts, n_groups=2, rare=5)
    assert list(groups.cat.categories) == ["< 5", "5-7", "8-100"]
    assert list(groups) == ["< 5", "< 5", "5-7", "5-7", "5-7", "8-100", "8-100", "8-100",
                            "8-100", "< 5"]  # fmt: skip


def test_one_group_when_every_count_is_equal():
    groups = popularity_groups(np.full(6, 9), n_groups=5, rare=5)
    assert set(groups) == {"9-9"}


def test_gain_statistics_match_scipy():
    rng = np.random.default_rng(0)
    without = rng.random(40)
    with_ = without + rng.normal(0.05, 0.1, 40)
    groups = popularity_groups(np.repeat([1, 50], 20), n_groups=1, rare=5)
    table = gain_by_group(without, with_, groups, "user")
    rare = table.loc["< 5"]
    diff = with_[:20] - without[:20]
    assert rare["n"] == 20 and rare["gain"] == pytest.approx(diff.mean())
    assert rare["p"] == pytest.approx(stats.ttest_rel(with_[:20], without[:20]).pvalue)
    half = stats.t.ppf(0.975, 19) * diff.std(ddof=1) / np.sqrt(20)
    assert rare["ci95_low"] == pytest.approx(diff.mean() - half)


def test_a_gain_planted_on_rare_items_is_found_there_only():
    rng = np.random.default_rng(1)
    counts = rng.integers(0, 200, 2000)
    without = rng.random(2000) * 0.5
    with_ = without + rng.normal(0, 0.02, 2000) + np.where(counts < 5, 0.2, 0.0)
    table = gain_by_group(without, with_, popularity_groups(counts), "user")
    assert table.loc["< 5", "ci95_low"] > 0.15
    others = table.drop(index="< 5")
    assert (others["ci95_low"] < 0).all() and (others["ci95_high"] > 0).all()
