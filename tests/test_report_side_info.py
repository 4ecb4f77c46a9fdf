"""The side-information chapter's stated values and verdicts, by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from mmrec_lib.report.side_info import side_info_glue_values

COLUMNS = ["n", "without", "with", "gain", "ci95_low", "ci95_high", "p"]


def curve(rows: dict) -> pd.DataFrame:
    frame = pd.DataFrame.from_dict(
        rows, orient="index", columns=["n seeds", "sasrec", "sasrec+", "gain", "ci95_low",
                                       "ci95_high", "p"],
    )  # fmt: skip
    frame.index.name = "share of each training history"
    return frame


def groups(rows: dict) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index", columns=COLUMNS)


COLD_COLUMNS = ["cold users", "n seeds", "chance", "mean", "gain", "ci95_low", "ci95_high", "p"]


def cold(rows: dict) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index", columns=COLD_COLUMNS)


def rating_curve(rows: dict) -> pd.DataFrame:
    frame = pd.DataFrame.from_dict(
        rows,
        orient="index",
        columns=["n seeds", "mf", "tsem", "gain", "ci95_low", "ci95_high", "p"],
    )
    frame.index.name = "share of each training history"
    return frame


RATING_COLD = pd.DataFrame.from_dict(
    {"cold items": [500, 1.2, 1.05, 0.1, 0.05, 0.15, 0.001],
     "warm items": [19000, 0.91, 0.92, -0.01, -0.02, 0.0, 0.04]},
    orient="index", columns=["n", "mf RMSE", "tsem RMSE", "gain", "ci95_low", "ci95_high", "p"],
)  # fmt: skip


COLD = cold({
    "sasrec": [40, 3, 0.045, 0.05, 0.005, -0.01, 0.02, 0.5],
    "sasrec+": [40, 3, 0.045, 0.046, 0.001, -0.02, 0.022, 0.9],
    "content-knn": [40, 3, 0.045, 0.09, 0.045, 0.02, 0.07, 0.001],
})  # fmt: skip


def test_values_and_verdicts_by_hand():
    values = side_info_glue_values(
        curve({
            0.1: [3, 0.2, 0.25, 0.05, 0.01, 0.09, 0.03],
            1.0: [3, 0.4, 0.4, 0.0, -0.01, 0.01, 0.9],
        }),
        groups({
            "< 5": [12, 0.1, 0.08, -0.02, -0.05, -0.01, 0.01],
            "5-40": [100, 0.3, 0.3, 0, -0.1, 0.1, 1],
        }),
        groups({"< 5": [30, -1.2, -1.1, 0.1, -0.1, 0.3, 0.4]}),
        COLD,
        COLD.assign(chance=0.01),
        rating_curve({0.1: [3, 0.95, 0.93, 0.02, 0.01, 0.03, 0.01],
                      1.0: [3, 0.91, 0.92, -0.01, -0.02, 0.0, 0.04]}),
        RATING_COLD,
    )  # fmt: skip
    assert values["pair_without"] == "sasrec" and values["pair_with"] == "sasrec+"
    assert values["smallest_share"] == 0.1 and values["gain_smallest"] == pytest.approx(0.05)
    assert values["gain_full_low"] == pytest.approx(-0.01)
    assert values["rare"] == 5 and values["rare_users"] == 12
    assert values["rating_gain_rare"] == pytest.approx(0.1)
    assert values["cold_users"] == 40 and values["cold_n_seeds"] == 3
    assert values["cold_with"] == pytest.approx(0.001) and values["cold_with_mean"] == 0.046
    assert values["cold_content_low"] == pytest.approx(0.02)
    assert values["cold_full_content_chance"] == pytest.approx(0.01)
    assert values["rating_gain_smallest"] == pytest.approx(0.02)
    assert values["rating_gain_full"] == pytest.approx(-0.01)
    assert values["rating_cold_n"] == 500 and values["rating_cold_rmse_with"] == 1.05
    assert values["rating_cold_gain_low"] == pytest.approx(0.05)


def test_every_value_is_present_when_a_profile_is_too_small():
    """One seed and no rare test item: NaN numbers, never a gap."""
    nan = math.nan
    values = side_info_glue_values(
        curve({0.5: [1, 0.2, 0.3, 0.1, nan, nan, nan], 1.0: [1, 0.3, 0.3, 0.0, nan, nan, nan]}),
        groups({"5-9": [10, 0.3, 0.3, 0, -0.1, 0.1, 1]}),
        groups({"5-9": [10, -1, -1, 0, -0.1, 0.1, 1]}),
        COLD.drop(index="content-knn"),
        COLD.drop(index="content-knn"),
        rating_curve({0.5: [1, 0.95, 0.93, 0.02, nan, nan, nan],
                      1.0: [1, 0.9, 0.9, 0, nan, nan, nan]}),
        RATING_COLD.drop(index="cold items"),
    )  # fmt: skip
    assert values["n_seeds_smallest"] == 1 and math.isnan(values["gain_smallest_low"])
    assert math.isnan(values["gain_rare"]) and math.isnan(values["rare"])
    assert math.isnan(values["cold_content"]) and math.isnan(values["cold_full_content_mean"])
    assert math.isnan(values["rating_cold_gain"]) and math.isnan(values["rating_gain_smallest_low"])
