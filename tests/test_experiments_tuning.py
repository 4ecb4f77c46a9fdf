"""Grid search on validation: every combination run from one base config, the lowest
validation error chosen, the test split never consulted, the chosen run reproducible, bad
grids rejected."""

import dataclasses

import numpy as np
import pytest

import mmrec_lib.data
from mmrec_lib.data import dataset_spec
from mmrec_lib.data.synthetic import make_synthetic
from mmrec_lib.experiments.rating import (
    active_users,
    dataset_and_split,
    rating_config,
    rating_split,
    run_rating,
)
from mmrec_lib.experiments.tuning import grid_combinations, grid_search, with_params
from mmrec_lib.report.paper_a import comparison_table, glue_values

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = dataset_spec("synthetic", "tiny", 1)
TRAIN = {"epochs": 15, "lr": 0.02, "patience": 3}
GRID = {"reg": [0.05, 20.0], "dim": [4, 8], "lr": [0.02]}


def mf_config(dataset: dict = TINY) -> dict:
    return rating_config("mf", dataset=dataset, train=TRAIN)


def test_grid_combinations_is_the_product_in_key_order():
    combos = grid_combinations({"a": [1, 2], "b": ["x"], "c": [0.1, 0.2]})
    assert combos == [
        {"a": 1, "b": "x", "c": 0.1},
        {"a": 1, "b": "x", "c": 0.2},
        {"a": 2, "b": "x", "c": 0.1},
        {"a": 2, "b": "x", "c": 0.2},
    ]
    with pytest.raises(ValueError, match="empty"):
        grid_combinations({})
    with pytest.raises(ValueError, match=r"\['b'\] have no values"):
        grid_combinations({"a": [1], "b": []})


def test_with_params_sets_the_rate_the_batch_size_and_the_models_own_settings():
    base = rating_config("mf", dataset=TINY, train=TRAIN, hyperparameters={"dim": 4})
    config = with_params(base, {"lr": 0.1, "batch_size": 64, "dim": 8, "reg": 0.5})
    assert config["train"] == {**base["train"], "lr": 0.1}
    assert config["batch_size"] == 64
    assert config["hyperparameters"] == {"dim": 8, "reg": 0.5}
    assert base["hyperparameters"] == {"dim": 4} and base["train"]["lr"] == 0.02  # a copy


def test_grid_search_chooses_the_lowest_validation_error():
    search = grid_search(mf_config(), GRID, progress=False)
    table = search.table
    assert len(table) == 4
    assert table["val RMSE"].is_monotonic_increasing
    # a huge penalty shrinks every factor and bias to zero: that can never be the best fit
    assert search.best_params["reg"] == 0.05
    assert table.loc[0, "reg"] == 0.05
    assert table.loc[0, "test RMSE"] == pytest.approx(search.best.metrics["rmse"])
    assert (table.loc[table["reg"] == 20.0, "val RMSE"] > table.loc[0, "val RMSE"] + 0.05).all()
    assert search.best.config == with_params(mf_config(), search.best_params)
    # the chosen run is the run those settings give when trained on their own
    alone = run_rating(with_params(mf_config(), search.best_params))
    assert alone.metrics["rmse"] == pytest.approx(search.best.metrics["rmse"], abs=1e-6)
    # the chosen run is labelled as a variant of MF in tables and glue
    table9 = comparison_table({"mf": alone, "mf_tuned": search.best})
    assert table9.loc["MF (tuned)", ("RMSE", "ours")] == pytest.approx(search.best.metrics["rmse"])
    assert np.isnan(table9.loc["MF (tuned)", ("RMSE", "reported")])
    assert table9.loc["MF", ("RMSE", "reported")] == 0.85
    assert "mf_tuned_rmse" in glue_values({"mf": alone, "mf_tuned": search.best})


def scrambled_test_ratings(**kwargs):
    """The tiny synthetic dataset with its test rows' ratings shuffled among themselves (the
    split depends on the rows, not the ratings, so train and validation stay the same)."""
    data = make_synthetic(**kwargs)
    split = rating_split(active_users(data.interactions, 1), seed=0)
    interactions = data.interactions.copy()
    test_rows = split.test.index
    interactions.loc[test_rows, "rating"] = (
        split.test["rating"].sample(frac=1, random_state=0).to_numpy()
    )
    return dataclasses.replace(data, interactions=interactions, extras={})


def test_the_choice_never_looks_at_the_test_split(monkeypatch):
    # configs name their dataset: the scrambled one is registered as a dataset of its own
    monkeypatch.setitem(mmrec_lib.data.DATASETS, "tiny-scrambled-test", scrambled_test_ratings)
    scrambled_base = mf_config({**TINY, "name": "tiny-scrambled-test"})
    _, clean_split = dataset_and_split(mf_config())
    _, scrambled_split = dataset_and_split(scrambled_base)
    assert clean_split.train.equals(scrambled_split.train)
    assert clean_split.val.equals(scrambled_split.val)
    assert not clean_split.test.equals(scrambled_split.test)
    grid = {"dim": [2, 8], "reg": [0.05, 1.0]}
    clean = grid_search(mf_config(), grid, progress=False)
    noisy = grid_search(scrambled_base, grid, progress=False)
    assert clean.best_params == noisy.best_params
    assert clean.table["val RMSE"].tolist() == pytest.approx(noisy.table["val RMSE"].tolist())
    assert clean.table["test RMSE"].tolist() != pytest.approx(noisy.table["test RMSE"].tolist())


def test_unknown_model_or_hyperparameter_fails_clearly():
    with pytest.raises(ValueError, match="unknown rating model"):
        grid_search(rating_config("svd", dataset=TINY), {"dim": [2]}, progress=False)
    with pytest.raises(ValueError, match="unknown rating model"):  # a config written by hand
        grid_search({**mf_config(), "model": "svd"}, {"dim": [2]}, progress=False)
    with pytest.raises(TypeError, match="no_such_knob"):
        grid_search(mf_config(), {"no_such_knob": [1]}, progress=False)
