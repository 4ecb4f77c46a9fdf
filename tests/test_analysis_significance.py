"""Paired tests over run records (paper B's Table 2, paper A's MF vs TSEM): seed-paired and
user-paired, layout, labels, glue values, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mmrec_lib.analysis.significance import (
    EXTRA_ROWS,
    ROWS,
    glue_values,
    model_label,
    paired_table,
    seed_values,
    table2,
    user_values,
)
from mmrec_lib.data import dataset_spec
from mmrec_lib.experiments.store import RunRecord

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BASE = {"dataset": {"name": "synthetic"}, "split": {"seed": 0, "n_negatives": 100}}
SEED_NDCG = {
    "bert4rec": [0.40, 0.41, 0.39, 0.42],
    "bert4rec+": [0.42, 0.42, 0.41, 0.45],
    "sasrec": [0.60, 0.62, 0.61, 0.59],
    "sasrec+": [0.61, 0.65, 0.60, 0.66],
}


def record(model: str, seed: int, value: float, per_user=None, epochs: int = 5) -> RunRecord:
    config = {**BASE, "model": model, "train": {"seed": seed, "epochs": epochs}}
    arrays = {"sampled/NDCG@10": np.asarray(per_user if per_user is not None else [value])}
    return RunRecord(config, {"sampled/NDCG@10": value}, arrays)


def seed_records() -> list[RunRecord]:
    return [
        record(model, seed, value)
        for model, values in SEED_NDCG.items()
        for seed, value in enumerate(values)
    ]


def test_table2_over_seeds_matches_scipy_and_has_the_paper_layout():
    table = table2(seed_records())
    assert list(table.columns) == ["BERT4Rec", "BERT4Rec+", "SASRec", "SASRec+"]
    assert list(table.index) == [*ROWS, *EXTRA_ROWS]
    assert table.index.name == "paired over seeds, two-sided"
    for without, with_ in (("bert4rec", "bert4rec+"), ("sasrec", "sasrec+")):
        a, b = np.array(SEED_NDCG[without]), np.array(SEED_NDCG[with_])
        column = table[{"bert4rec+": "BERT4Rec+", "sasrec+": "SASRec+"}[with_]]
        expected = stats.ttest_rel(b, a)
        assert column["t statistic"] == pytest.approx(expected.statistic)
        assert column["p-value"] == pytest.approx(expected.pvalue)
        assert column["Mean"] == pytest.approx(b.mean())
        assert column["Standard deviation"] == pytest.approx(b.std(ddof=1))
        assert (column["Observations"], column["degrees of freedom"]) == (4, 3)
        assert column["mean difference"] == pytest.approx((b - a).mean())
        assert column["95% CI low"] < column["mean difference"] < column["95% CI high"]
    assert np.isnan(table.loc["t statistic", "SASRec"])


def test_hand_worked_bert4rec_pair():
    # differences 0.02, 0.01, 0.02, 0.03: mean 0.02, sd sqrt(0.0002/3), t = 0.02 / (sd / 2)
    t = table2(seed_records()).loc["t statistic", "BERT4Rec+"]
    assert t == pytest.approx(0.02 / (np.sqrt(0.0002 / 3) / 2))


def test_user_paired_test_within_one_seed():
    rng = np.random.default_rng(0)
    users_a, users_b = rng.random(50), rng.random(50)
    records = [
        record("sasrec", 0, users_a.mean(), users_a),
        record("sasrec+", 0, users_b.mean(), users_b),
        record("sasrec", 1, 0.5, rng.random(50)),
        record("sasrec+", 1, 0.5, rng.random(50)),
    ]
    assert user_values(records, seed=0).shape == (50, 2)
    table = table2(records, pairs=[("sasrec", "sasrec+")], user_seed=0)
    assert table.index.name == "paired over users, two-sided"
    assert table.loc["Observations", "SASRec+"] == 50
    assert table.loc["t statistic", "SASRec+"] == pytest.approx(
        stats.ttest_rel(users_b, users_a).statistic
    )
    with pytest.raises(ValueError, match="no run has training seed 7"):
        user_values(records, seed=7)


def test_runs_on_different_splits_or_settings_are_refused():
    records = seed_records()
    other = record("sasrec+", 9, 0.5)
    other.config["split"] = {"seed": 1, "n_negatives": 100}
    with pytest.raises(ValueError, match="identical splits"):
        seed_values([*records, other])
    longer = record("sasrec+", 9, 0.5, epochs=50)
    with pytest.raises(ValueError, match="identical splits"):
        seed_values([*records, longer])
    reordered = record("sasrec+", 9, 0.5)
    reordered.config["train"] = dict(reversed(reordered.config["train"].items()))
    assert 9 in seed_values([*records, reordered]).index  # key order does not matter
    with pytest.raises(ValueError, match="one run per"):
        seed_values([*records, record("sasrec", 0, 0.1)])


def test_paired_table_for_any_pair_eg_mf_vs_tsem_rmse():
    values = pd.DataFrame({"MF": [0.95, 0.96, 0.94], "TSEM": [0.90, 0.93, 0.92]})
    table = paired_table(values, [("MF", "TSEM")], unit="seed")
    assert table.loc["mean difference", "TSEM"] == pytest.approx(-1 / 30)
    with pytest.raises(ValueError, match="no values for"):
        paired_table(values, [("MF", "NN")], unit="seed")


def test_model_labels_of_both_papers_and_glue_values():
    assert [model_label(m) for m in ("sasrec+", "bert4rec", "mf", "tsem", "other")] == [
        "SASRec+", "BERT4Rec", "MF", "TSEM", "other",
    ]  # fmt: skip
    table = table2(seed_records(), pairs=[("sasrec", "sasrec+")])
    values = glue_values(table, prefix="b_")
    assert values["b_sasrecplus_t_statistic"] == table.loc["t statistic", "SASRec+"]
    assert values["b_sasrecplus_95pct_ci_low"] == table.loc["95% CI low", "SASRec+"]
    assert values["b_sasrec_mean"] == pytest.approx(np.mean(SEED_NDCG["sasrec"]))
    assert "b_sasrec_p_value" not in values  # empty cells are left out
    with pytest.raises(ValueError, match="no runs given"):
        seed_values([])


def test_mf_seed_runs_over_a_rating_split(tmp_path):
    from mmrec_lib.experiments.grids import rating_configs
    from mmrec_lib.experiments.rating import rating_config, run_rating
    from mmrec_lib.experiments.sweep import run_many

    configs = rating_configs(
        ("mf", "nn"), seeds=(0, 1), dataset=dataset_spec("synthetic", "tiny", 0),
        train={"epochs": 1}, hyperparameters={"dim": 4},
    )  # fmt: skip
    records = run_many(configs, run_rating, root=tmp_path, progress=False)
    first = records[0]
    assert np.sqrt(first.arrays["squared_error"].mean()) == pytest.approx(first.metrics["rmse"])
    table = table2(records, metric="rmse", pairs=[("mf", "nn")])
    assert list(table.columns) == ["MF", "NN"] and table.loc["Observations", "NN"] == 2
    with pytest.raises(ValueError, match="unknown rating model"):
        rating_config("svd", dataset={"name": "synthetic"})
