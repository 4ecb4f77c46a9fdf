"""Grid search on validation: every combination trained, the lowest validation error chosen,
the test split never consulted, the chosen run reproducible, bad grids rejected."""

import numpy as np
import pytest

from mmrec_lib.data.splits import RatingSplit, ratio_split
from mmrec_lib.data.synthetic import make_synthetic
from mmrec_lib.rating_experiment import (
    comparison_table,
    glue_values,
    rating_inputs,
    train_rating_model,
)
from mmrec_lib.training import TrainConfig
from mmrec_lib.tuning import grid_combinations, grid_search

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def planted():
    data = make_synthetic("tiny", seed=1)
    split = ratio_split(data.interactions, test_frac=0.2, val_frac=0.1, seed=0)
    return split, rating_inputs(data, split, ["mf"])


CONFIG = TrainConfig(epochs=15, lr=0.02, patience=3, progress=False, seed=0)
GRID = {"reg": [0.05, 20.0], "dim": [4, 8], "lr": [0.02]}


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


def test_grid_search_chooses_the_lowest_validation_error(planted):
    split, inputs = planted
    search = grid_search("mf", split, inputs, CONFIG, GRID, progress=False)
    table = search.table
    assert len(table) == 4
    assert table["val RMSE"].is_monotonic_increasing
    # a huge penalty shrinks every factor and bias to zero: that can never be the best fit
    assert search.best_params["reg"] == 0.05
    assert table.loc[0, "reg"] == 0.05
    assert table.loc[0, "test RMSE"] == pytest.approx(search.best.metrics["rmse"])
    assert (table.loc[table["reg"] == 20.0, "val RMSE"] > table.loc[0, "val RMSE"] + 0.05).all()
    # the chosen run is the run those settings give when trained on their own
    params = search.best_params
    alone = train_rating_model(
        "mf", split, inputs, CONFIG, model_kwargs={"reg": params["reg"], "dim": params["dim"]}
    )
    assert alone.metrics["rmse"] == pytest.approx(search.best.metrics["rmse"], abs=1e-6)
    # the chosen run is labelled as a variant of MF in tables, glue and the verdict
    assert (search.best.label, search.best.key) == ("MF (tuned)", "mf_tuned")
    table9 = comparison_table([alone, search.best])
    assert table9.loc["MF (tuned)", ("RMSE", "ours")] == pytest.approx(search.best.metrics["rmse"])
    assert np.isnan(table9.loc["MF (tuned)", ("RMSE", "reported")])
    assert table9.loc["MF", ("RMSE", "reported")] == 0.85
    assert "mf_tuned_rmse" in glue_values([alone, search.best])


def test_the_choice_never_looks_at_the_test_split(planted):
    split, inputs = planted
    scrambled_test = split.test.assign(
        rating=split.test["rating"].sample(frac=1, random_state=0).to_numpy()
    )
    scrambled = RatingSplit(train=split.train, val=split.val, test=scrambled_test, seed=split.seed)
    grid = {"dim": [2, 8], "reg": [0.05, 1.0]}
    clean = grid_search("mf", split, inputs, CONFIG, grid, progress=False)
    noisy = grid_search("mf", scrambled, inputs, CONFIG, grid, progress=False)
    assert clean.best_params == noisy.best_params
    assert clean.table["val RMSE"].tolist() == pytest.approx(noisy.table["val RMSE"].tolist())


def test_unknown_model_or_hyperparameter_fails_clearly(planted):
    split, inputs = planted
    with pytest.raises(ValueError, match="unknown rating model"):
        grid_search("svd", split, inputs, CONFIG, {"dim": [2]}, progress=False)
    with pytest.raises(TypeError, match="no_such_knob"):
        grid_search("mf", split, inputs, CONFIG, {"no_such_knob": [1]}, progress=False)
