"""Notebook helpers: parameter checks, the banner, and the paper-beside-ours table."""

import numpy as np
import pandas as pd
import pytest

from mmrec_lib.report.notebook import banner, check_parameters, paper_beside_ours


def test_check_parameters_names_every_bad_value():
    rules = {
        "dataset": ("synthetic", "ml-100k"),
        "epochs": (lambda v: v > 0, "positive"),
        "seed": int,
    }
    check_parameters({"dataset": "ml-100k", "epochs": 3, "seed": 1}, rules)
    with pytest.raises(ValueError) as error:
        check_parameters({"dataset": "ml-10k", "epochs": 0, "seed": "1"}, rules)
    message = str(error.value)
    assert "dataset='ml-10k'" in message and "epochs=0" in message and "seed='1'" in message


def test_check_parameters_reports_missing_and_rejects_bool_as_int():
    with pytest.raises(ValueError, match="seed: missing"):
        check_parameters({}, {"seed": int})
    with pytest.raises(ValueError, match="type int"):
        check_parameters({"seed": True}, {"seed": int})


def test_banner_warns_on_synthetic_data_only():
    assert "not the reproduction" in banner("synthetic", "synthetic").data
    real = banner("ml-100k", "ml-100k").data
    assert "ml-100k" in real and "not the reproduction" not in real


def test_paper_beside_ours_interleaves_and_leaves_unreported_cells_empty():
    ours = pd.DataFrame({"MSE": [0.80, 0.90]}, index=["MF", "NN"])
    paper = pd.DataFrame({"MSE": [1.12, 0.72], "RMSE": [1.06, 0.85]}, index=["NN", "MF"])
    table = paper_beside_ours(ours, paper)
    assert list(table.columns) == [
        ("MSE", "paper"),
        ("MSE", "ours"),
        ("RMSE", "paper"),
        ("RMSE", "ours"),
    ]
    assert table.loc["MF", ("MSE", "paper")] == 0.72 and table.loc["MF", ("MSE", "ours")] == 0.80
    assert np.isnan(table.loc["NN", ("RMSE", "ours")])


def test_check_parameters_accepts_integer_ranges():
    check_parameters({"k": 5}, {"k": range(1, 51)})
    for bad in (0, 51, 2.5, True):
        with pytest.raises(ValueError, match="integer in 1..50"):
            check_parameters({"k": bad}, {"k": range(1, 51)})
