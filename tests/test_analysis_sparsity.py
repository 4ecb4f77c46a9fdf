"""The sparsity curve: statistics by hand, and a gain that the planted structure of the
synthetic data puts there, found by the whole pipeline."""

from __future__ import annotations

import pytest

from mmrec_lib.analysis.sparsity import sparsity_curve, train_fraction
from mmrec_lib.experiments.grids import sparsity_configs
from mmrec_lib.experiments.sequential import run_sequential
from mmrec_lib.experiments.store import RunRecord
from tests.test_experiments_sequential import FAST, genre_chain


def fake_record(model: str, fraction: float, seed: int, value: float) -> RunRecord:
    split = {"seed": 0, "n_negatives": 10} | ({"train_fraction": fraction} if fraction < 1 else {})
    config = {"model": model, "split": split, "train": {"seed": seed}}
    return RunRecord(config, {"sampled/NDCG@10": value}, {}, 0.0)


def test_curve_by_hand():
    values = {  # (fraction, seed): (without, with)
        (0.25, 0): (0.10, 0.20), (0.25, 1): (0.20, 0.24),
        (1.0, 0): (0.50, 0.50), (1.0, 1): (0.60, 0.62),
    }  # fmt: skip
    records = [
        fake_record(model, fraction, seed, pair[i])
        for (fraction, seed), pair in values.items()
        for i, model in enumerate(("sasrec", "sasrec+"))
    ]
    curve = sparsity_curve(records)
    assert list(curve.index) == [0.25, 1.0]
    assert curve.loc[0.25, "sasrec"] == pytest.approx(0.15)
    assert curve.loc[0.25, "gain"] == pytest.approx(0.07)
    assert curve.loc[1.0, "gain"] == pytest.approx(0.01)
    assert curve.loc[0.25, "n seeds"] == 2
    assert train_fraction(records[0].config) == 0.25 and train_fraction(records[-1].config) == 1
    # read as an error (lower is better), the gain is the reduction: without - with
    reduction = sparsity_curve(records, lower_is_better=True)
    assert reduction.loc[0.25, "gain"] == pytest.approx(-0.07)
    assert reduction.loc[0.25, "ci95_low"] == pytest.approx(-curve.loc[0.25, "ci95_high"])
    assert reduction.loc[0.25, "sasrec+"] == pytest.approx(0.22)  # the means stay as they are


def test_the_planted_side_information_gain_shows_on_the_curve():
    """On the genre chain the next item's genre follows the current one; SASRec+ reads each
    item's genres (the tabular table), so the curve shows its gain with full histories (the
    setting of ``test_sasrec_plus_beats_sasrec_when_transitions_follow_item_features``), and
    less history costs SASRec. (At a quarter of the history the two were level here: on
    this 80-item chain the planted gain is not larger where data are scarce.)"""
    configs = sparsity_configs(
        [0.25, 1.0], seeds=[0, 1], dataset=genre_chain(0), n_negatives=30, modalities=["tabular"],
        features={"tabular": "table"}, train={"epochs": 20, "patience": 20, "lr": 5e-3}, **FAST,
    )  # fmt: skip
    curve = sparsity_curve([run_sequential(config) for config in configs])
    assert curve.loc[1.0, "gain"] > 0.02
    assert curve.loc[0.25, "sasrec"] < curve.loc[1.0, "sasrec"]  # less history, worse
