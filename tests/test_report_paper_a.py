"""Paper A beside ours: row labels of plain and variant runs, the metrics table, glue values,
the transcribed Table 9 and the side-information verdict, all from run records."""

import numpy as np
import pytest

from mmrec_lib.experiments.store import RunRecord
from mmrec_lib.report.paper_a import (
    REPORTED,
    comparison_table,
    glue_values,
    metrics_frame,
    reported_values,
    row_label,
    side_information_verdict,
    table9_styled,
)


def record(rmse: float, **metrics) -> RunRecord:
    """A finished rating run's record with the metrics the tables read."""
    values = {
        "mse": rmse**2,
        "rmse": rmse,
        "mae": 0.8 * rmse,
        "hit_rate": 0.6,
        "epochs": 5,
        "best_epoch": 3,
        "n_parameters": 1000,
    }
    return RunRecord({}, {**values, **metrics}, seconds=2.5)


def test_row_labels_name_the_model_and_its_variant():
    assert [row_label(key) for key in ("nn", "mf", "mf_nn", "tsem")] == [
        "NN",
        "MF",
        "MF_NN",
        "TSEM",
    ]
    assert row_label("mf_tuned") == "MF (tuned)"
    assert row_label("mf_nn_refit") == "MF_NN (refit)"  # the longest model name wins
    assert row_label("tsem_fine-tune") == "TSEM (fine-tune)"
    with pytest.raises(ValueError, match="names no model"):
        row_label("svd_tuned")


def test_metrics_frame_and_glue_values_read_the_records():
    records = {"mf": record(0.9), "mf_tuned": record(0.8, hit_rate=0.65, epochs=7)}
    frame = metrics_frame(records)
    assert list(frame.index) == ["MF", "MF (tuned)"] and frame.index.name == "model"
    assert frame.loc["MF (tuned)", "RMSE"] == 0.8
    assert frame.loc["MF (tuned)", "MSE"] == pytest.approx(0.64)
    assert frame.loc["MF (tuned)", "hit rate (%)"] == pytest.approx(65.0)
    assert frame.loc["MF", "MAE"] == pytest.approx(0.72)
    assert frame.loc["MF (tuned)", "epochs"] == 7 and frame.loc["MF", "best epoch"] == 3
    assert frame.loc["MF", "parameters"] == 1000 and frame.loc["MF", "seconds"] == 2.5
    glue = glue_values(records)
    assert glue["mf_tuned_rmse"] == 0.8 and glue["mf_rmse"] == 0.9
    assert glue["mf_tuned_hit_rate_pct"] == pytest.approx(65.0)
    assert glue["mf_tuned_epochs"] == 7 and glue["mf_seconds"] == 2.5
    assert {"mf_mse", "mf_mae", "mf_tuned_mse", "mf_tuned_mae"} <= set(glue)


def test_table_9_puts_ours_beside_the_reported_numbers():
    records = {"mf": record(0.9), "tsem": record(0.85), "mf_tuned": record(0.8)}
    table = comparison_table(records)
    assert list(table.index[:3]) == ["MF", "TSEM", "MF (tuned)"]  # ours first
    assert table.loc["MF", ("RMSE", "ours")] == 0.9
    assert table.loc["MF", ("RMSE", "reported")] == 0.85
    assert table.loc["TSEM", ("MSE", "reported")] == 0.61
    assert table.loc["TSEM", ("hit rate (%)", "ours")] == pytest.approx(60.0)
    # a variant has no reported number; a paper model we did not train has no number of ours
    assert table.loc["MF (tuned)", ("RMSE", "ours")] == 0.8
    assert np.isnan(table.loc["MF (tuned)", ("RMSE", "reported")])
    assert table.loc["NN", ("hit rate (%)", "reported")] == 50.22
    assert np.isnan(table.loc["NN", ("RMSE", "ours")])
    assert np.isnan(table.loc["MF (Koren et al. 2009)", ("MSE", "ours")])
    assert table.loc["SVD (Surprise)", ("RMSE", "reported")] == 0.934
    assert "not measured here" in table.loc["NCF (He et al. 2017)", ("source", "")]
    assert table.loc["TSEM", ("source", "")] == "paper A, Table 9"


def test_reported_values_are_every_transcribed_number():
    reported = reported_values()
    assert reported["reported_tsem_hit_rate_pct"] == 73.88
    assert reported["reported_koren2009_mse"] == 0.73
    assert reported["reported_surprise_svdpp_rmse"] == 0.919
    assert reported["reported_mf_rmse"] == REPORTED.loc["MF", "RMSE"] == 0.85
    assert len(reported) == 4 * 3 + 2 + 1 + 2  # paper models, Koren, NCF, Surprise


def test_side_information_verdict_says_plainly_whether_it_helped():
    text = side_information_verdict(
        {"mf": record(0.918), "tsem": record(0.921), "mf_nn": record(0.900)}
    )
    assert "**TSEM**: test RMSE 0.921" in text and "did not help here: 0.003 above MF" in text
    assert "**MF_NN**: test RMSE 0.900" in text and "helped: 0.018 below MF" in text
    marginal = side_information_verdict({"mf": record(0.918), "tsem": record(0.915)})
    assert "only marginally: 0.003 below MF" in marginal
    assert "no baseline" in side_information_verdict({"tsem": record(0.9)})
    # a tuned MF is context, not the baseline: the comparison stays with the plain MF
    with_tuned = side_information_verdict(
        {"mf": record(0.918), "tsem": record(0.915), "mf_tuned": record(0.905)}
    )
    assert with_tuned == marginal


def test_table_9_styled_at_the_papers_precision_with_our_best_in_bold():
    records = {
        "mf": record(0.9),
        "tsem": record(0.8, hit_rate=0.61234),
        "nn": record(1.1),
        "mf_tuned": record(0.95),
    }
    styler = table9_styled(records)
    html = styler.to_html()
    assert ">0.640<" in html and ">0.610<" in html  # TSEM: ours 0.8 ** 2, paper 0.61
    assert ">61.23<" in html and ">50.22<" in html  # hit rate in percent, two decimals
    assert "nan" not in html  # a row without a source (our variants) is blank too
    styler._compute()
    bold = {key for key, css in styler.ctx.items() if ("font-weight", "bold") in css}
    table = styler.data
    tsem = list(table.index).index("TSEM")
    columns = [table.columns.get_loc((m, "ours")) for m in ("MSE", "RMSE", "hit rate (%)")]
    assert bold == {(tsem, column) for column in columns}  # lowest errors, highest hit rate
