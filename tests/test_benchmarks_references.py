"""benchmarks/references.py's pure parts: the combined table and the environment check (the
reference environments themselves are not needed)."""

from __future__ import annotations

import math

import pytest

SEQUENTIAL_ROW = {  # a row of reference_sequential.py's JSON
    "model": "BERT4Rec",
    "library": "RecBole 1.2.1",
    "loss": "CE, all items (prefix samples)",
    "samples / epoch": 97171,
    "epochs": 10,
    "best epoch": 6,
    "s / epoch": 60.0,
    "s to best": 350.5,
    "train s": 600.25,
    "HR@10 sampled": 0.7,
    "NDCG@10 sampled": 0.45678,
    "NDCG@10 full": 0.1,
    "RSS before (MiB)": 900.0,
    "peak RSS (MiB)": 1200.4,
}
RATING_ROWS = [  # as reference_rating.py's workers return them: ours, a reference's defaults
    {
        "model": "MF (ours)",
        "name": "mmrec-mf",
        "library": "mmrec_lib (torch 2.14.1)",
        "setting": "dim=64; early stopping chose 8 of 40 epochs, refit for those",
        "val_rmse": 0.923,
        "selection_s": 30.0,
        "s_per_epoch": 2.5,
        "s_to_best": 20.0,
        "test_rmse": 0.909,
        "test_mae": 0.718,
        "fit_s": 32.5,
        "rss_before": 580.0,
        "peak_rss": 757.8,
    },
    {
        "model": "SVD",
        "name": "surprise-svd",
        "library": "Surprise 1.1.5",
        "setting": "defaults (random_state=0)",
        "val_rmse": None,
        "selection_s": None,
        "test_rmse": 0.936,
        "test_mae": 0.738,
        "fit_s": 3.5,
        "rss_before": 106.5,
        "peak_rss": 109.4,
    },
]


@pytest.fixture()
def references(load_benchmark):
    return load_benchmark("references")


def test_the_combined_table_puts_each_row_in_the_columns_of_its_task(references):
    table = references.combined_table([SEQUENTIAL_ROW], RATING_ROWS)
    assert list(table.columns) == list(references.COLUMNS)
    assert list(table["task"]) == ["sequential", "rating", "rating"]
    sequential, ours, svd = (row for _, row in table.iterrows())
    assert sequential["setting"] == "CE, all items (prefix samples), 10 epochs"
    assert sequential["s to best validation"] == 350.5
    assert math.isnan(sequential["test RMSE"])
    assert ours["test RMSE"] == 0.909
    assert ours["train s"] == 62.5  # the early-stopping run and the refit
    assert ours["s / epoch"] == 2.5 and ours["s to best validation"] == 20.0
    assert math.isnan(ours["NDCG@10 sampled"])
    assert svd["train s"] == 3.5  # defaults: no validation search
    assert math.isnan(svd["s to best validation"]) and math.isnan(svd["s / epoch"])


def test_the_markdown_table_rounds_by_column_and_marks_what_does_not_apply(references):
    text = references.markdown(references.combined_table([SEQUENTIAL_ROW], RATING_ROWS))
    sequential, ours = text.splitlines()[2:4]
    assert "0.4568" in sequential and "350.50" in sequential and "1200 |" in sequential
    assert " 0.9090 " in ours and " - " in ours and "nan" not in text


def test_a_missing_environment_is_named_with_the_commands_that_create_it(references, tmp_path):
    missing = references.missing_environments(tmp_path)
    assert [line.split(":")[0] for line in missing] == [".venv-reference", ".venv-reference-rating"]
    assert "pip install -r benchmarks/requirements-reference.txt" in missing[0]
    assert "pip install -r benchmarks/requirements-reference-rating.txt" in missing[1]
    for name in references.ENVIRONMENTS:
        (tmp_path / name / "bin").mkdir(parents=True)
        (tmp_path / name / "bin" / "python").touch()
    assert references.missing_environments(tmp_path) == []


def test_readme_tables_leave_a_missing_number_blank(load_benchmark):
    import pandas as pd

    readme = load_benchmark("readme")
    table = pd.DataFrame({"seconds": [1.23456, 2.0], "peak GPU (MiB)": [float("nan"), 307.74]})
    lines = readme.markdown_table(table, index=False).splitlines()
    assert [cell.strip() for cell in lines[2].strip("|").split("|")] == ["1.235", ""]
    assert "307.740" in lines[3] and "nan" not in "\n".join(lines)
