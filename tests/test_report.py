"""Notebook helpers: the banner and the paper-beside-ours table (parameter checks:
test_report_parameters.py)."""

import numpy as np
import pandas as pd

from mmrec_lib.report.notebook import banner, paper_beside_ours


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
